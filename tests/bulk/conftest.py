"""The store fixtures (SQLite and PostgreSQL), for the batch engine over a lead store."""

from tests.store.conftest import (  # noqa: F401
    clock,
    make_service,
    model_file,
    postgres_template,
    prepared_sources,
    service,
    store,
    store_url,
)
