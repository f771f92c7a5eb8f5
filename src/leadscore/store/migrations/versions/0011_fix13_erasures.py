"""A log of erasures without the person's id: the highest log numbers each one left.

SQLite gives a new row the number one past the highest stored (the tables are not AUTOINCREMENT).
When an erasure removes a lead holding the highest events (or attribute or score history rows),
the next row takes a number that was given before. A bulk `model apply` or a file ingest's queue
that read the logs' marks before the erasure would count that row as already read, and leave its
lead with a result that does not include it. Each erasure now records the highest numbers left
after it; such a reader takes them as its marks. Rebuilding the three logs as AUTOINCREMENT tables
would also do, at the cost of copying every event of an upgraded store.

Revision ID: 0011_fix13
Revises: 0010_pghot9
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_fix13"
down_revision = "0010_pghot9"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erasures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("events_floor", sa.BigInteger(), nullable=False),
        sa.Column("attributes_floor", sa.BigInteger(), nullable=False),
        sa.Column("history_floor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
    )


def downgrade() -> None:
    op.drop_table("erasures")
