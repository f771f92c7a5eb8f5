"""How many events a stored result was computed from: the basis of an incremental rescoring.

`result_basis.events_seen` is the number of the lead's stored events when its result was written by
the real-time path (leadscore.store.pipeline). When a new event arrives after every stored one, the
lifecycle replay can resume from the stored stage history instead of replaying the whole timeline,
but only if that history was computed from exactly the events stored before it: the count proves it
(the log is append-only per lead; a merge, which moves events into the lead it keeps, deletes the
kept lead's row). No row (a result written before this table, or only by a bulk path) means: replay
in full. A table apart from `results`, whose rows the bulk paths write as the pure path does.

Revision ID: 0009_rt7
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_rt7"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "result_basis",
        sa.Column("lead_id", sa.String(length=255), nullable=False),
        sa.Column("events_seen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("lead_id", name=op.f("pk_result_basis")),
    )


def downgrade() -> None:
    op.drop_table("result_basis")
