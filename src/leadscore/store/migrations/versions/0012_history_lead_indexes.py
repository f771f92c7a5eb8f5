"""The single-column `lead_id` indexes of `score_history` and `stage_history` dropped.

Each is a prefix of the covering index that 0008 added on the same table (`ix_score_history_lead_at`
on lead_id, at, id, score; `ix_stage_history_lead_at` on lead_id, at, id, to_stage, from_stage,
cause): every lookup by lead (a lead's history, an erasure's delete) reads the covering one as well,
in lead order, so the narrow one serves nothing and costs an index entry per history row written
(a lifecycle apply writes about a million score history rows at 100,000 leads).

Revision ID: 0012_history_lead
Revises: 0011_fix13
"""

from __future__ import annotations

from alembic import op

revision = "0012_history_lead"
down_revision = "0011_fix13"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_score_history_lead_id", table_name="score_history")
    op.drop_index("ix_stage_history_lead_id", table_name="stage_history")


def downgrade() -> None:
    op.create_index("ix_stage_history_lead_id", "stage_history", ["lead_id"], unique=False)
    op.create_index("ix_score_history_lead_id", "score_history", ["lead_id"], unique=False)
