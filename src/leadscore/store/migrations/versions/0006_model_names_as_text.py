"""The columns that hold names written in a model become text.

A model's name, its stage names, trigger ids and trigger destinations have no length limit in the
model format, but were stored in VARCHAR(255): PostgreSQL refused a longer one with a database error
when the model was applied or a lead entered such a stage (SQLite kept it whole). Widening keeps
every stored value as it is. Trigger message keys need nothing: they are fixed-length digests.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_NAMES = {
    "models": ("name",),
    "results": ("model", "stage"),
    "stage_history": ("from_stage", "to_stage"),
    "outbox": ("trigger_id", "destination"),
}


def _queue_index() -> None:
    # SQLite rebuilds `results` to change a column and recreates its indexes from reflection, which
    # loses the DESC of this expression index: create it again as 0001 did
    op.drop_index("ix_results_queue", table_name="results")
    op.create_index("ix_results_queue", "results", ["queue_rank", sa.text("score DESC"), "lead_id"], unique=False)


def upgrade() -> None:
    for table, columns in _NAMES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(column, type_=sa.Text(), existing_type=sa.String(255))
    _queue_index()


def downgrade() -> None:
    for table, columns in _NAMES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                # a value longer than 255 characters makes PostgreSQL refuse, with the value named
                batch_op.alter_column(column, type_=sa.String(255), existing_type=sa.Text())
    _queue_index()
