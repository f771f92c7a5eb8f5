"""Leads whose stored events are not yet in their stored result: the rescoring queue.

An event acknowledged before its lead is rescored (the API's intake) marks the lead here in the
transaction that stores the event, so the mark survives a crash with the event; a rescoring worker
drains it (leadscore.store.pending), and on start drains what an earlier process left.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_rescore",
        sa.Column("lead_id", sa.String(length=255), nullable=False),
        sa.Column("since", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("lead_id", name=op.f("pk_pending_rescore")),
    )
    op.create_index("ix_pending_rescore_since", "pending_rescore", ["since"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_pending_rescore_since", table_name="pending_rescore")
    op.drop_table("pending_rescore")
