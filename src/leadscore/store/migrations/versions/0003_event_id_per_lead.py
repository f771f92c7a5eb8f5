"""Event ids are per lead: an event is unique by (key, the lead it arrived under), not by key alone.

Before this revision the store refused a second lead's event whose id another lead already used,
so that event was never stored (MODEL-FORMAT.md says ids are per lead, as every engine reads them).
Rows already stored stay as they are: they were unique by key, so they are unique by the pair.
Events dropped by the old rule come in when their file is ingested again: only those are new.

On SQLite the table is rebuilt (a constraint written in CREATE TABLE cannot be dropped in place).

The columns that quote ids (causes like `identify:<event id>` and `merge:<lead id>`, attribute
sources `file:<name>`, and a stage change's event, `<received lead>/<id>` once moved) become text:
with a longest id (255 characters) and its prefix they overflowed VARCHAR(255) on PostgreSQL.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_OLD = "uq_events_event_key"
_NEW = "uq_events_event_key_received_lead_id"


_QUOTING = {
    "lead_attribute_history": ("source",),
    "aliases": ("cause",),
    "score_history": ("cause",),
    "stage_history": ("cause", "event_key"),
}


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint(_OLD, type_="unique")
        batch_op.create_unique_constraint(_NEW, ["event_key", "received_lead_id"])
    for table, columns in _QUOTING.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(column, type_=sa.Text(), existing_type=sa.String(255))


def downgrade() -> None:
    # the old rule cannot hold events that share an id across leads: say so instead of losing them
    bind = op.get_bind()
    shared = bind.execute(
        sa.text("SELECT event_key FROM events GROUP BY event_key HAVING count(*) > 1 LIMIT 1")
    ).scalar()
    if shared is not None:
        raise RuntimeError(
            f"cannot downgrade below 0003: event id {shared!r} is used by more than one lead "
            "(erase or re-key those events first)"
        )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint(_NEW, type_="unique")
        batch_op.create_unique_constraint(_OLD, ["event_key"])
    for table, columns in _QUOTING.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                # a value longer than 255 characters makes PostgreSQL refuse, with the value named
                batch_op.alter_column(column, type_=sa.String(255), existing_type=sa.Text())
