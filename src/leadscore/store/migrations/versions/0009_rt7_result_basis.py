"""How many events a stored result was computed from: the basis of an incremental rescoring.

`results.events_seen` is the number of the lead's stored events when its result was written by the
real-time path (leadscore.store.pipeline). When a new event arrives after every stored one, the
lifecycle replay can resume from the stored stage history instead of replaying the whole timeline,
but only if that history was computed from exactly the events stored before it: the count proves it
(the log is append-only per lead; a merge only adds events to the lead it keeps). NULL (a result
written before this column, or by a path that does not fill it) means: replay in full.

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
    with op.batch_alter_table("results") as batch:
        batch.add_column(sa.Column("events_seen", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("results") as batch:
        batch.drop_column("events_seen")
