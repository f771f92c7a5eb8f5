"""The store's tables, as SQLAlchemy Core metadata: one definition for SQLite and PostgreSQL.

Times are epoch microseconds (BIGINT) like everywhere in the engine, so window boundaries and
ordering agree exactly with the pure scorer. Results keep the plain JSON type (not JSONB) so that
the key order of dimensions and labels survives a round trip; the lead attributes and event
properties, which scoring in the database reads key by key, are JSONB on PostgreSQL: parsed once
when written instead of at every read (in-database re-scoring reads them for every event).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for large logs.
Serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Micros = sa.BigInteger
Document = sa.JSON().with_variant(JSONB(), "postgresql")

leads = sa.Table(
    "leads",
    metadata,
    sa.Column("id", sa.String(255), primary_key=True),
    sa.Column("attributes", Document, nullable=False),
    sa.Column("account", sa.String(255), nullable=True, index=True),
    sa.Column("created_at", Micros, nullable=False),
    sa.Column("updated_at", Micros, nullable=False),
)

lead_attribute_history = sa.Table(
    "lead_attribute_history",
    metadata,
    sa.Column("id", Serial, primary_key=True, autoincrement=True),
    sa.Column("lead_id", sa.String(255), nullable=False, index=True),
    sa.Column("at", Micros, nullable=False),
    sa.Column("changes", sa.JSON, nullable=False),  # {attribute: [old, new]}; null = absent
    # causes and sources quote ids (`identify:<event id>`, `merge:<lead id>`, `file:<name>`): text, so
    # that a longest id (255 characters) still fits with its prefix
    sa.Column("source", sa.Text, nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    # seq is the input order, which breaks ties between events at the same instant
    sa.Column("seq", Serial, primary_key=True, autoincrement=True),
    # the event's id, or its content key when it has none (domain.event_key); ids are per lead, so
    # an event is identified by its key together with the lead it arrived under (which a merge or an
    # identify never changes, where `lead_id` follows the person)
    sa.Column("event_key", sa.String(255), nullable=False),
    sa.Column("lead_id", sa.String(255), nullable=False),
    sa.Column("received_lead_id", sa.String(255), nullable=False),
    sa.Column("type", sa.String(255), nullable=False),
    sa.Column("ts", Micros, nullable=False),
    sa.Column("properties", Document, nullable=False),
    sa.Column("ingested_at", Micros, nullable=False),
    sa.Index("ix_events_lead_ts", "lead_id", "ts", "seq"),
    sa.UniqueConstraint("event_key", "received_lead_id"),
)

aliases = sa.Table(
    "aliases",
    metadata,
    sa.Column("alias", sa.String(255), primary_key=True),
    sa.Column("lead_id", sa.String(255), nullable=False, index=True),
    sa.Column("created_at", Micros, nullable=False),
    sa.Column("cause", sa.Text, nullable=False),
)

results = sa.Table(
    "results",
    metadata,
    sa.Column("lead_id", sa.String(255), primary_key=True),
    # names written in a model (stages, trigger ids, destinations, the model's name) have no length
    # limit in the model format: text (migration 0006)
    sa.Column("model", sa.Text, nullable=False),
    # not indexed (0010): a re-stamp of an unchanged result then changes no indexed column and can
    # be a HOT update on PostgreSQL, where `results` also keeps free room in its pages (fillfactor)
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("evaluated_at", Micros, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("dimensions", sa.JSON, nullable=False),
    sa.Column("labels", sa.JSON, nullable=False),
    sa.Column("stage", sa.Text, nullable=True),
    sa.Column("stage_history", sa.JSON, nullable=False),  # the replay behind `stage`, for trigger detection
    sa.Column("playbook", sa.JSON, nullable=True),
    # priority of the playbook, or a large number (no priority / no playbook) so the queue is one index scan
    sa.Column("queue_rank", sa.Integer, nullable=False),
    sa.Column("breakdown", sa.JSON, nullable=False),
    sa.Column("next_change_at", Micros, nullable=True, index=True),
    sa.Index("ix_results_queue", "queue_rank", sa.text("score DESC"), "lead_id"),
    # a stage filter reads its leads in queue order (0008); the lead attribute indexes of 0008 are
    # expressions per dialect and live in that migration only
    sa.Index("ix_results_stage_queue", "stage", "queue_rank", sa.text("score DESC"), "lead_id"),
)

score_history = sa.Table(
    "score_history",
    metadata,
    sa.Column("id", Serial, primary_key=True, autoincrement=True),
    # no index of its own: the covering index below serves every lookup by lead (0012)
    sa.Column("lead_id", sa.String(255), nullable=False),
    sa.Column("at", Micros, nullable=False),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("delta", sa.Float, nullable=False),
    sa.Column("dimensions", sa.JSON, nullable=False),
    sa.Column("cause", sa.Text, nullable=False),
    # covering: trends, score charts and reports read (at, score) lead by lead without the table (0008)
    sa.Index("ix_score_history_lead_at", "lead_id", "at", "id", "score"),
)

stage_history = sa.Table(
    "stage_history",
    metadata,
    sa.Column("id", Serial, primary_key=True, autoincrement=True),
    sa.Column("lead_id", sa.String(255), nullable=False),  # the covering index below serves (0012)
    sa.Column("at", Micros, nullable=False),
    sa.Column("from_stage", sa.Text, nullable=True),
    sa.Column("to_stage", sa.Text, nullable=False),
    sa.Column("cause", sa.Text, nullable=False),
    sa.Column("event_key", sa.Text, nullable=True),  # the timeline id: `<received lead>/<id>` once moved
    sa.Column("model_version", sa.String(64), nullable=False),
    # covering: the reports read every move lead by lead in time order (0008)
    sa.Index("ix_stage_history_lead_at", "lead_id", "at", "id", "to_stage", "from_stage", "cause"),
)

# leads with stored events that their stored result does not include yet (migration 0007): an event
# acknowledged before its rescoring marks its lead here in the same transaction; see store/pending.py
pending_rescore = sa.Table(
    "pending_rescore",
    metadata,
    sa.Column("lead_id", sa.String(255), primary_key=True),
    sa.Column("since", Micros, nullable=False, index=True),  # when first marked: the oldest waits first
)

# How many stored events of the lead its stored result was computed from (0009), written by the
# real-time path with the result: a new event after all of them resumes the lifecycle replay from the
# result's `stage_history` (leadscore.store.pipeline.replay_start). No row: replay in full. A table of
# its own, so that the result rows the bulk paths write stay the pure path's, column for column.
result_basis = sa.Table(
    "result_basis",
    metadata,
    sa.Column("lead_id", sa.String(255), primary_key=True),
    sa.Column("events_seen", sa.BigInteger, nullable=False),
)

# One row per erasure (migration 0011), without the person's id: the highest numbers of the logs left
# after it. SQLite numbers a new row one past the highest stored, so once an erasure removed the
# highest rows it gives their numbers again: a reader that took the logs' marks before (a bulk apply,
# `bulk.settle`; a file ingest's queue, `bulk.queued`) takes these floors as its marks instead, else a
# later row numbered below its mark would look already read. PostgreSQL's sequences never go back.
erasures = sa.Table(
    "erasures",
    metadata,
    sa.Column("id", Serial, primary_key=True, autoincrement=True),
    sa.Column("events_floor", sa.BigInteger, nullable=False),
    sa.Column("attributes_floor", sa.BigInteger, nullable=False),
    sa.Column("history_floor", sa.BigInteger, nullable=False),
)

models = sa.Table(
    "models",
    metadata,
    sa.Column("version", sa.String(64), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),  # the YAML text as written
    sa.Column("applied_at", Micros, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", Serial, primary_key=True, autoincrement=True),
    # trigger firing key + destination: a transition fires once per destination, whatever retries happen
    sa.Column("idempotency_key", sa.String(255), nullable=False, unique=True),
    sa.Column("trigger_id", sa.Text, nullable=False),
    sa.Column("lead_id", sa.String(255), nullable=False, index=True),
    sa.Column("destination", sa.Text, nullable=True),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),  # pending | delivered | dead
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", Micros, nullable=True),
    sa.Column("created_at", Micros, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    # the delivery run sending the message, until when (overlapping runs skip it; see outbox_repo)
    sa.Column("claimed_by", sa.String(64), nullable=True),
    sa.Column("claimed_until", Micros, nullable=True),
    sa.Index("ix_outbox_due", "status", "next_attempt_at"),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", Serial, primary_key=True, autoincrement=True),
    sa.Column("outbox_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("at", Micros, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("duration_ms", sa.Float, nullable=True),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    # sha256 of the secret part: the secret itself is shown once, at creation, and never stored
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("origins", sa.JSON, nullable=False),  # browser origins a public intake key may send from
    sa.Column("created_at", Micros, nullable=False),
    sa.Column("revoked_at", Micros, nullable=True),
)
