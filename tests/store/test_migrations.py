"""The shipped Alembic migrations build exactly the tables the code declares, on both backends."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from leadscore.store import LeadStore
from leadscore.store.migrate import current_revision, head_revision
from leadscore.store.tables import metadata

# An index on an expression (score DESC) that reflection cannot read back column by column;
# it is compared by its definition below instead.
EXPRESSION_INDEX = "ix_results_queue"


def _compared(obj: Any, name: str | None, kind: str, reflected: bool, other: Any) -> bool:
    return not (kind == "index" and name == EXPRESSION_INDEX)


def test_migrated_database_matches_the_table_definitions(store: LeadStore) -> None:
    assert current_revision(store.engine) == head_revision()
    with store.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True, "include_object": _compared}
        )
        differences = compare_metadata(context, metadata)
        if store.name == "sqlite":
            query = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :name"
        else:
            query = "SELECT indexdef FROM pg_indexes WHERE indexname = :name"
        definition = conn.execute(sa.text(query), {"name": EXPRESSION_INDEX}).scalar_one()
    assert differences == []
    flat = " ".join(definition.lower().replace('"', "").split())
    assert "(queue_rank, score desc, lead_id)" in flat


def test_upgrade_twice_is_a_no_op(store: LeadStore) -> None:
    store.upgrade()
    store.upgrade()
    assert current_revision(store.engine) == head_revision()
