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


def test_0003_makes_event_ids_per_lead_and_keeps_every_stored_event(blank_url: str) -> None:
    """A store from before 0003 (ids unique across leads) keeps its events; afterwards the same id
    on another lead is a new event, and the same id on the same lead still is not."""
    from leadscore.store import open_store
    from leadscore.store.migrate import upgrade
    from leadscore.store.tables import events

    store = open_store(blank_url)
    try:
        upgrade(store.engine, "0002")
        row = {"lead_id": "a", "received_lead_id": "a", "type": "t", "ts": 1, "properties": {}, "ingested_at": 1}
        with store.engine.begin() as conn:
            conn.execute(events.insert(), [{**row, "event_key": "1"}, {**row, "event_key": "h:x", "ts": 2}])
        store.upgrade()
        assert current_revision(store.engine) == head_revision()
        with store.write() as conn:
            kept = {r.event_key for r in conn.execute(sa.select(events.c.event_key))}
            assert kept == {"1", "h:x"}
            other = {**row, "event_key": "1", "lead_id": "b", "received_lead_id": "b"}
            assert store.insert_new_events(conn, [other]) == {("1", "b")}
            again = store.insert(events).values(**row, event_key="1").on_conflict_do_nothing()
            assert conn.execute(again.returning(events.c.seq)).all() == []
    finally:
        store.dispose()


def test_0006_keeps_stored_names_and_takes_longer_ones(blank_url: str) -> None:
    """A store from before 0006 keeps its model and outbox rows; afterwards names longer than 255
    characters fit, and the queue index keeps its descending score."""
    from alembic import command

    from leadscore.store import open_store
    from leadscore.store.migrate import _config, upgrade
    from leadscore.store.tables import models, outbox

    store = open_store(blank_url)
    message = {"payload": {}, "status": "pending", "attempts": 0, "created_at": 1, "lead_id": "a"}
    try:
        upgrade(store.engine, "0005")
        with store.engine.begin() as conn:
            conn.execute(models.insert().values(version="v1", name="b2b", source="x", applied_at=1, active=True))
            conn.execute(outbox.insert().values(idempotency_key="k1", trigger_id="t", destination="crm", **message))
        store.upgrade()
        assert current_revision(store.engine) == head_revision() == "0007"
        with store.engine.begin() as conn:
            assert conn.execute(sa.select(models.c.name)).scalars().all() == ["b2b"]
            long = {"idempotency_key": "k2", "trigger_id": "t" * 300, "destination": "d" * 300}
            conn.execute(outbox.insert().values(**long, **message))
            stored = conn.execute(sa.select(outbox.c.trigger_id, outbox.c.destination).order_by(outbox.c.id)).all()
        assert [tuple(r) for r in stored] == [("t", "crm"), ("t" * 300, "d" * 300)]
        with store.engine.begin() as conn:  # back to 0005 once the long names are gone
            conn.execute(outbox.delete().where(outbox.c.idempotency_key == "k2"))
            cfg = _config()
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0005")
        assert current_revision(store.engine) == "0005"
    finally:
        store.dispose()
