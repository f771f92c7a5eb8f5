"""Indexes for the dashboard's pages and reports on a large store.

- `score_history (lead_id, at, id, score)` and `stage_history (lead_id, at, id, to_stage, from_stage,
  cause)`: the reports and the queue's trends read these histories lead by lead in time order; with
  the columns they read in the index, the database walks the index alone instead of fetching every
  row from the table in index order (a random read per row, seconds at 100,000 leads).
- `results (stage, queue_rank, score DESC, lead_id)`: a stage filter on the queue reads its leads in
  queue order directly, however rare the stage.
- Expressions on the lead attributes (`owner`; lower-cased `email` and `company`): the queue's owner
  filter and its search by what an e-mail address or a company name starts with find their leads on
  an index instead of reading the whole queue. The expressions are the ones `analytics.queue` writes,
  per dialect; PostgreSQL compares them byte by byte (`COLLATE "C"`) so that a prefix is a range.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# name -> (SQLite expression, PostgreSQL expression), on `leads`
ATTRIBUTE_INDEXES = {
    "ix_leads_owner": ("json_extract(attributes, '$.owner')", "(attributes ->> 'owner')"),
    "ix_leads_email_lower": (
        "lower(json_extract(attributes, '$.email'))",
        "(lower(attributes ->> 'email') COLLATE \"C\")",
    ),
    "ix_leads_company_lower": (
        "lower(json_extract(attributes, '$.company'))",
        "(lower(attributes ->> 'company') COLLATE \"C\")",
    ),
}


def upgrade() -> None:
    op.create_index("ix_score_history_lead_at", "score_history", ["lead_id", "at", "id", "score"], unique=False)
    op.create_index(
        "ix_stage_history_lead_at",
        "stage_history",
        ["lead_id", "at", "id", "to_stage", "from_stage", "cause"],
        unique=False,
    )
    op.create_index(
        "ix_results_stage_queue",
        "results",
        ["stage", "queue_rank", sa.text("score DESC"), "lead_id"],
        unique=False,
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, (lite, pg) in ATTRIBUTE_INDEXES.items():
        expression = pg if postgres else lite
        # partial: leads without the attribute are not in the index. An index holding a million equal
        # NULLs looks useless to SQLite's planner once ANALYZE has counted them, and it would read the
        # whole table instead; `attr = value` implies the attribute is there, so the index still serves.
        op.execute(f"CREATE INDEX {name} ON leads ({expression}) WHERE {expression} IS NOT NULL")


def downgrade() -> None:
    for name in ATTRIBUTE_INDEXES:
        op.execute(f"DROP INDEX {name}")
    op.drop_index("ix_results_stage_queue", table_name="results")
    op.drop_index("ix_stage_history_lead_at", table_name="stage_history")
    op.drop_index("ix_score_history_lead_at", table_name="score_history")
