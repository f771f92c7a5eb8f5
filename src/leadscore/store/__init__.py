"""The lead store: leads, the event log, results with history, models and the trigger outbox.

Backends by short name (`sqlite`, the embedded default, and `postgres`) share one SQLAlchemy
Core code path; `open_store(url)` picks one. Schema changes are Alembic migrations shipped in
`leadscore/store/migrations` and run by `LeadStore.upgrade()` (`leadscore db upgrade`).

Names are imported on first use, so that a module of this package (`leadscore.store.retry`, which
the bulk writer program runs in a process of its own) can be imported without SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["LeadStore", "StoreError", "backend_names", "open_store", "register_backend"]

if TYPE_CHECKING:
    from leadscore.store.base import LeadStore, StoreError, backend_names, open_store, register_backend


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'leadscore.store' has no attribute {name!r}")
    value = getattr(importlib.import_module("leadscore.store.base"), name)
    globals()[name] = value
    return value
