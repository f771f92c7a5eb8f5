"""A lead's story: who it is, why it has its score, how the score moved, what happened, what to do next.

The score-over-time curve is the pure scorer evaluated at past times on the lead's stored log (decision
1: the score is a function of model, lead, events and time), so it is exact even where the stored score
history is sparse; each marker is an event after which the total changed, with by how much.
"""

from __future__ import annotations

import math
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel

from leadscore.analytics.common import DAY_US, iso
from leadscore.domain.timeutil import to_micros
from leadscore.engine import Scorer
from leadscore.engine.timeline import Timeline
from leadscore.model.spec import ScoringModel
from leadscore.store.codec import result_of
from leadscore.store.events_repo import load_timelines
from leadscore.store.tables import deliveries, leads, outbox, results, stage_history

CURVE_DAYS = 180
MAX_MARKERS = 40


class Contribution(BaseModel):
    rule: str
    dimension: str
    points: float
    events: int | None
    description: str | None


class DimensionScore(BaseModel):
    name: str
    score: float
    description: str | None
    contributions: list[Contribution]


class CurvePoint(BaseModel):
    at: str
    score: float


class Marker(BaseModel):
    at: str
    type: str
    delta: float
    score: float


class EventRow(BaseModel):
    at: str
    type: str
    id: str | None
    properties: dict[str, Any]


class StageRow(BaseModel):
    at: str | None
    from_stage: str | None
    to_stage: str
    cause: str
    event_id: str | None


class AccountLead(BaseModel):
    lead_id: str
    score: float | None
    stage: str | None
    title: str | None
    labels: dict[str, str | None]


class Firing(BaseModel):
    id: int
    trigger: str
    destination: str | None
    status: str
    attempts: int
    created_at: str | None
    last_error: str | None
    deliveries: list[dict[str, Any]]


class Factor(BaseModel):
    text: str
    weight: float


class PredictionView(BaseModel):
    dimension: str
    probability: float
    positive: list[Factor]
    negative: list[Factor]


class Story(BaseModel):
    lead_id: str
    attributes: dict[str, Any]
    account: str | None
    scored: bool
    score: float | None
    evaluated_at: str | None
    model_version: str | None
    labels: dict[str, str | None]
    stage: str | None
    playbook: dict[str, Any] | None
    dimensions: list[DimensionScore]
    breakdown_total: float
    predictions: list[PredictionView]
    curve: list[CurvePoint]
    markers: list[Marker]
    events: list[EventRow]
    event_count: int
    stages: list[StageRow]
    account_leads: list[AccountLead]
    firings: list[Firing]


def lead_story(
    conn: sa.Connection, model: ScoringModel, scorer: Scorer, lead_id: str, now_us: int, last_events: int = 50
) -> Story | None:
    lead_row = conn.execute(sa.select(leads).where(leads.c.id == lead_id)).mappings().first()
    if lead_row is None:
        return None
    row = conn.execute(sa.select(results).where(results.c.lead_id == lead_id)).mappings().first()
    result = result_of(row) if row else None
    attributes = dict(lead_row["attributes"] or {})
    log = load_timelines(conn, [lead_id]).get(lead_id, [])
    from leadscore.analytics.models_view import model_view

    rules = {r.id: r.description or _summary(r) for d in model_view(model).dimensions for r in d.rules}
    dims: list[DimensionScore] = []
    if result is not None:
        for name in [*result.dimensions]:
            spec = model.dimension_spec(name) if name in model.dimension_names() else None
            dims.append(
                DimensionScore(
                    name=name,
                    score=result.dimensions[name],
                    description=spec.description if spec is not None else None,
                    contributions=[
                        Contribution(
                            rule=b.rule,
                            dimension=b.dimension,
                            points=b.points,
                            events=b.events,
                            description=rules.get(b.rule) or _adjustment(b.rule),
                        )
                        for b in result.breakdown
                        if b.dimension == name
                    ],
                )
            )
    predictions: list[PredictionView] = []
    if result is not None and scorer.predictive:
        at = min(now_us, to_micros(result.at))
        timeline = Timeline(log, until=at)
        for dim in scorer.predictive:
            p = scorer.predict(dim, attributes, timeline, at)
            predictions.append(
                PredictionView(
                    dimension=dim,
                    probability=p.probability,
                    positive=[Factor(text=f.text, weight=f.weight) for f in p.positive],
                    negative=[Factor(text=f.text, weight=f.weight) for f in p.negative],
                )
            )
    curve, markers = score_curve(scorer, attributes, log, now_us)
    recent = list(reversed(log[-last_events:]))
    return Story(
        lead_id=lead_id,
        attributes=attributes,
        account=lead_row["account"],
        scored=result is not None,
        score=result.score if result else None,
        evaluated_at=iso(row["evaluated_at"]) if row else None,
        model_version=result.model_version if result else None,
        labels=dict(result.labels) if result else {},
        stage=result.stage if result else None,
        playbook=result.playbook.to_dict() if result and result.playbook else None,
        dimensions=dims,
        breakdown_total=math.fsum(b.points for b in result.breakdown) if result else 0.0,
        predictions=predictions,
        curve=curve,
        markers=markers,
        events=[EventRow(at=iso(e.ts) or "", type=e.type, id=e.id, properties=dict(e.properties)) for e in recent],
        event_count=len(log),
        stages=_stages(conn, lead_id),
        account_leads=_account_leads(conn, lead_row["account"], lead_id),
        firings=_firings(conn, lead_id),
    )


def _summary(rule: Any) -> str:
    """A rule without a description, in words: `each page_view where {page_type: pricing}, within 90d`."""
    if rule.kind == "condition":
        return f"when {rule.trigger}"
    parts = [f"each {rule.trigger}"]
    if rule.where:
        parts.append(f"where {rule.where}")
    if rule.within:
        parts.append(f"within {rule.within}")
    if rule.decay:
        parts.append(f"decaying {rule.decay}")
    return ", ".join(parts)


def _adjustment(rule: str) -> str | None:
    kind, _, dim = rule.partition(":")
    if kind == "cap":
        return f"the {dim} dimension is capped"
    if kind == "floor":
        return f"the {dim} dimension has a floor"
    if kind == "predictive":
        return f"predicted by the trained model of {dim}"
    return None


def score_curve(
    scorer: Scorer, attributes: dict[str, Any], log: list[Any], now_us: int, days: int = CURVE_DAYS
) -> tuple[list[CurvePoint], list[Marker]]:
    """The total at weekly steps over the last `days` days and just before and after each recent event."""
    start = now_us - days * DAY_US
    timeline = Timeline(log, until=now_us)
    times = {start + i * 7 * DAY_US for i in range(days // 7 + 1)} | {now_us}
    recent = [e for e in log if start < e.ts <= now_us][-MAX_MARKERS:]
    for e in recent:
        times.update((e.ts - 1, e.ts))
    values = {t: scorer.scores_at(attributes, timeline, t)["total"] for t in sorted(times)}
    curve = [CurvePoint(at=iso(t) or "", score=round(v, 2)) for t, v in sorted(values.items())]
    markers = []
    seen: set[int] = set()
    for e in recent:
        if e.ts in seen:
            continue
        seen.add(e.ts)
        delta = values[e.ts] - values[e.ts - 1]
        if abs(delta) >= 0.5:
            types = sorted({x.type for x in recent if x.ts == e.ts})
            markers.append(
                Marker(at=iso(e.ts) or "", type=", ".join(types), delta=round(delta, 2), score=round(values[e.ts], 2))
            )
    return curve, markers


def _stages(conn: sa.Connection, lead_id: str) -> list[StageRow]:
    sh = stage_history.c
    q = sa.select(sh.at, sh.from_stage, sh.to_stage, sh.cause, sh.event_key).where(sh.lead_id == lead_id)
    return [
        StageRow(at=iso(at), from_stage=f, to_stage=t, cause=c, event_id=k)
        for at, f, t, c, k in conn.execute(q.order_by(sh.at, sh.id))
    ]


def _account_leads(conn: sa.Connection, account: str | None, lead_id: str, limit: int = 20) -> list[AccountLead]:
    if not account:
        return []
    q = (
        sa.select(leads.c.id, leads.c.attributes, results.c.score, results.c.stage, results.c.labels)
        .select_from(leads.outerjoin(results, results.c.lead_id == leads.c.id))
        .where(leads.c.account == account, leads.c.id != lead_id)
        .order_by(results.c.score.desc(), leads.c.id)
        .limit(limit)
    )
    return [
        AccountLead(lead_id=i, score=s, stage=st, title=(a or {}).get("job_title"), labels=lb or {})
        for i, a, s, st, lb in conn.execute(q)
    ]


def _firings(conn: sa.Connection, lead_id: str, limit: int = 30) -> list[Firing]:
    o = outbox.c
    rows = conn.execute(
        sa.select(o.id, o.trigger_id, o.destination, o.status, o.attempts, o.created_at, o.last_error)
        .where(o.lead_id == lead_id)
        .order_by(o.created_at.desc(), o.id.desc())
        .limit(limit)
    ).all()
    attempts: dict[int, list[dict[str, Any]]] = {}
    if rows:
        d = deliveries.c
        for oid, at, n, code, ok, err, ms in conn.execute(
            sa.select(d.outbox_id, d.at, d.attempt, d.status_code, d.ok, d.error, d.duration_ms)
            .where(d.outbox_id.in_([r.id for r in rows]))
            .order_by(d.at, d.id)
        ):
            attempts.setdefault(oid, []).append(
                {"at": iso(at), "attempt": n, "status_code": code, "ok": ok, "error": err, "duration_ms": ms}
            )
    return [
        Firing(
            id=r.id,
            trigger=r.trigger_id,
            destination=r.destination,
            status=r.status,
            attempts=r.attempts,
            created_at=iso(r.created_at),
            last_error=r.last_error,
            deliveries=attempts.get(r.id, []),
        )
        for r in rows
    ]
