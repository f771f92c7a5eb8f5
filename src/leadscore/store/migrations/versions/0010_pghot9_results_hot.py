"""Results rows whose score is unchanged are re-stamped in place at a model change (HOT updates).

At a model apply, most leads keep their score and only `model_version` and `evaluated_at` of their
row change (bulk/in_database.py's `_ls_touch`). With `model_version` indexed, every such UPDATE
wrote a new tuple and a new entry in each of the five indexes of `results`. Nothing reads that index:
the one filter on the column, `model_version <> :version` (app/maintenance.py, bulk/in_database.py),
is not something a btree serves, and the other readers fetch rows by lead. Without it, an update
that changes no indexed column can be a heap-only tuple (HOT) update on PostgreSQL (no new index
entries, and VACUUM reclaims it page by page), if its page has room. An apply re-stamps every row of
a page in one statement, whose old versions stay until it commits: a page needs room for a second
copy of its rows, hence fillfactor 50. At 200k leads, 4 applies each: 50 made every unchanged row
HOT from the first; 85 made 8% rising to 55%, 70 34% rising to 91% (rows spread out over applies),
both in a larger table. It costs no disk in the steady state: without it, each apply leaves a dead
copy of every row, which VACUUM frees for reuse but the table keeps (218 MB vs 223 MB at 200k
leads, the indexes 76 MB vs 44 MB). The fillfactor only applies to pages written afterwards: a store upgraded
with full pages gets the room where its next full apply writes the new versions (new pages), and
once VACUUM has freed the old ones; `VACUUM FULL results` gives it at once.

Revision ID: 0010_pghot9
Revises: 0009_rt7
"""

from __future__ import annotations

from alembic import op

revision = "0010_pghot9"
down_revision = "0009_rt7"
branch_labels = None
depends_on = None

# half of each page left free for the new versions of its rows (see above)
FILLFACTOR = 50


def upgrade() -> None:
    op.drop_index("ix_results_model_version", table_name="results")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE results SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE results RESET (fillfactor)")
    op.create_index("ix_results_model_version", "results", ["model_version"], unique=False)
