"""The lead store: leads, the event log, results with history, models and the trigger outbox.

Backends by short name (`sqlite`, the embedded default, and `postgres`) share one SQLAlchemy
Core code path; `open_store(url)` picks one. Schema changes are Alembic migrations shipped in
`leadscore/store/migrations` and run by `LeadStore.upgrade()` (`leadscore db upgrade`).
"""

from leadscore.store.base import LeadStore, StoreError, backend_names, open_store, register_backend

__all__ = ["LeadStore", "StoreError", "backend_names", "open_store", "register_backend"]
