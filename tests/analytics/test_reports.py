"""Every report on the hand-computed store of conftest.py, on SQLite and PostgreSQL.

The story of the four leads (all in January 2026; one ingest on 1 June 2026):
  A (150 employees, paid): visit 1st (40 points), demo 3rd (80: MQL), accepted 5th (SQL), won 15th (1000).
  B (5 employees, organic): visit 2nd (10): stays a lead.
  C (150 employees, paid): arrives an hour before its demo on the 4th (70: MQL), rejected 6th ("no budget").
  D (50 employees, organic, `stage: sql`): visit 10th (enters at SQL), lost 20th.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from leadscore.analytics import AnalyticsError, ReportFilter, run_report
from leadscore.app.service import LeadService

JANUARY = ReportFilter(start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 2, 1, tzinfo=UTC))
JUNE = ReportFilter(start=datetime(2026, 5, 1, tzinfo=UTC), end=datetime(2026, 6, 2, tzinfo=UTC))


def by(rows: list, key: str) -> dict:
    return {getattr(r, key): r for r in rows}


def test_funnel(hand_store: LeadService) -> None:
    r = run_report(hand_store, "funnel", JANUARY)
    s = by(r.stages, "stage")
    # lead: A, B, C entered; A and C moved on; stays A 2 days, C 1 hour = 0.04 days (B still there)
    assert (s["lead"].entered, s["lead"].entered_first, s["lead"].advanced, s["lead"].exited) == (3, 3, 2, 0)
    assert s["lead"].conversion == pytest.approx(2 / 3)
    assert (s["lead"].median_days, s["lead"].p90_days, s["lead"].still_open) == (0.04, 2.0, 1)
    # mql: A and C; A went on to SQL, C left for recycled; both stayed 2 days
    assert (s["mql"].entered, s["mql"].advanced, s["mql"].exited, s["mql"].median_days) == (2, 1, 1, 2.0)
    # sql: A, and D which entered there; A won, D lost; both stayed 10 days
    assert (s["sql"].entered, s["sql"].entered_first, s["sql"].advanced, s["sql"].exited) == (2, 1, 1, 1)
    assert (s["sql"].median_days, s["sql"].p90_days) == (10.0, 10.0)
    assert (s["customer"].entered, s["customer"].advanced, s["recycled"].entered, s["lost"].entered) == (1, None, 1, 1)
    assert {k: v.current for k, v in s.items()} == {
        "lead": 1,
        "mql": 0,
        "sql": 0,
        "customer": 1,
        "recycled": 1,
        "disqualified": 0,
        "lost": 1,
    }
    assert [(e.from_stage, e.to_stage, e.leads) for e in r.exits] == [("mql", "recycled", 1), ("sql", "lost", 1)]
    v = by(r.velocity, "stage")
    # to MQL: A 2 days, C 1 hour; to SQL only A (4 days; D entered there); to customer A (14 days)
    assert (v["mql"].reached, v["mql"].median_days, v["mql"].p90_days) == (2, 0.04, 2.0)
    assert (v["sql"].reached, v["sql"].median_days) == (1, 4.0)
    assert (v["customer"].reached, v["customer"].median_days) == (1, 14.0)


def test_funnel_of_an_empty_period_and_filters(hand_store: LeadService) -> None:
    empty = ReportFilter(start=datetime(2025, 1, 1, tzinfo=UTC), end=datetime(2025, 2, 1, tzinfo=UTC))
    r = run_report(hand_store, "funnel", empty)
    assert all(s.entered == 0 for s in r.stages) and r.exits == []
    paid = JANUARY.model_copy(update={"attributes": {"source": "paid"}})
    s = by(run_report(hand_store, "funnel", paid).stages, "stage")
    assert (s["lead"].entered, s["mql"].entered, s["sql"].entered) == (2, 2, 1)


def test_channels(hand_store: LeadService) -> None:
    rows = by(run_report(hand_store, "channels", JANUARY, by="source").rows, "value")
    paid, organic = rows["paid"], rows["organic"]
    assert (paid.leads, paid.mql, paid.sql, paid.won, paid.revenue) == (2, 2, 1, 1, 1000.0)
    assert (paid.mql_rate, paid.sql_rate, paid.won_rate, paid.median_days_to_mql) == (1.0, 0.5, 0.5, 0.04)
    # D entered at SQL, so it counts as past MQL too
    assert (organic.leads, organic.mql, organic.sql, organic.won, organic.revenue) == (2, 1, 1, 0, 0.0)


def test_score_quality(hand_store: LeadService) -> None:
    r = run_report(hand_store, "quality", JANUARY)
    # only A reached customer; its score is the last one stored before the deal: 30 (fit alone, recorded
    # when it arrived on 1 January); the others keep their current scores: C 70, B 10, D 10
    assert (r.target, r.cohort, r.converted, r.base_rate) == ("customer", 4, 1, 0.25)
    bands = {b.band: (b.leads, b.converted) for b in r.bands if b.leads}
    assert bands == {"0–25": (2, 0), "25–50": (1, 1), "50–100": (1, 0)}
    labels = {(x.label_set, x.label): (x.leads, x.converted) for x in r.labels}
    assert labels == {("temperature", "cold"): (2, 0), ("temperature", "hot"): (2, 1)}
    assert [(t.tenth, t.leads, t.converted) for t in r.lift] == [(1, 1, 0), (2, 1, 1), (3, 1, 0), (4, 1, 0)]
    assert (r.lift[0].lift, r.lift[1].lift) == (0.0, 4.0)
    assert [(m.lead_id, m.score) for m in r.missed] == [("A", 30.0)]
    with pytest.raises(AnalyticsError, match="no stage of the path"):
        run_report(hand_store, "quality", JANUARY, target="nope")


def test_sales_feedback(hand_store: LeadService) -> None:
    r = run_report(hand_store, "feedback", JANUARY)
    assert (r.decisions, r.accepted, r.accept_rate) == (2, 1, 0.5)
    rows = {(x.criterion, x.value): (x.decisions, x.accepted, x.rejected) for x in r.rows}
    assert rows[("label temperature", "hot")] == (2, 1, 1)
    assert rows[("source", "paid")] == (2, 1, 1)
    assert (rows[("rule", "big")], rows[("rule", "demo")], rows[("rule", "visit")]) == ((2, 1, 1), (2, 1, 1), (1, 1, 0))
    assert [(x.reason, x.decisions) for x in r.reasons] == [("no budget", 1)]


def test_triggers_and_webhooks(hand_store: LeadService) -> None:
    r = run_report(hand_store, "triggers", JUNE)
    assert [(t.trigger, t.destination, t.fired, t.delivered, t.dead) for t in r.rows] == [("to-mql", "crm", 2, 0, 2)]
    assert [(d.destination, d.attempts, d.ok, d.success_rate) for d in r.destinations] == [("crm", 2, 0, 0.0)]
    assert [(s.status, s.attempts) for s in r.statuses] == [("no response", 2)]
    assert sorted(e.lead_id for e in r.errors) == ["A", "C"]
    assert run_report(hand_store, "triggers", JANUARY).rows == []


def test_every_report_renders_tables_charts_and_html(hand_store: LeadService) -> None:
    from leadscore.analytics.html import report_html

    for name in ("funnel", "channels", "quality", "feedback", "triggers"):
        report = run_report(hand_store, name, JANUARY)
        html = report_html(report)
        assert "<svg" in html or "no data" in html
        for table in report.tables():
            assert table.title in html


def test_bad_requests_are_clear_errors(hand_store: LeadService) -> None:
    with pytest.raises(AnalyticsError, match="unknown report"):
        run_report(hand_store, "revenue", JANUARY)
    with pytest.raises(ValueError, match="the period is empty"):
        ReportFilter(start=datetime(2026, 2, 1, tzinfo=UTC), end=datetime(2026, 1, 1, tzinfo=UTC))


def test_webhook_health_per_day(hand_store: LeadService) -> None:
    """Attempts by UTC day: delivered, failed then retried, and the failed attempt that dead-letters."""
    from leadscore.analytics.charts import render
    from leadscore.domain.timeutil import to_micros
    from leadscore.store.tables import deliveries, outbox

    def at(day: int, hour: int = 12) -> int:
        return to_micros(datetime(2026, 5, day, hour, tzinfo=UTC))

    message = {"trigger_id": "t", "destination": "crm", "payload": {}, "lead_id": "A", "created_at": at(3)}
    with hand_store.store.engine.begin() as conn:
        ok, retried, dead = (
            conn.execute(
                outbox.insert().values(idempotency_key=k, status=st, attempts=n, **message).returning(outbox.c.id)
            ).scalar_one()
            for k, st, n in (("k1", "delivered", 1), ("k2", "delivered", 2), ("k3", "dead", 2))
        )
        conn.execute(
            deliveries.insert(),
            [
                {"outbox_id": ok, "at": at(3), "attempt": 1, "ok": True, "status_code": 204},
                {"outbox_id": retried, "at": at(3, 23), "attempt": 1, "ok": False, "status_code": 503},
                {"outbox_id": retried, "at": at(4, 1), "attempt": 2, "ok": True, "status_code": 204},
                {"outbox_id": dead, "at": at(3), "attempt": 1, "ok": False, "status_code": 500},
                {"outbox_id": dead, "at": at(5), "attempt": 2, "ok": False, "status_code": 500},
            ],
        )
    r = run_report(hand_store, "triggers", JUNE)
    days = {d.day: (d.delivered, d.failed, d.dead) for d in r.days}
    assert len(days) == 32 and min(days) == "2026-05-01" and max(days) == "2026-06-01"
    assert days["2026-05-03"] == (1, 2, 0)
    assert days["2026-05-04"] == (1, 0, 0)
    assert days["2026-05-05"] == (0, 0, 1)
    assert days["2026-06-01"] == (0, 0, 2)  # the fixture's two messages to an unknown destination
    assert days["2026-05-10"] == (0, 0, 0)
    table = next(t for t in r.tables() if t.name == "days")
    assert [row["day"] for row in table.rows] == ["2026-05-03", "2026-05-04", "2026-05-05", "2026-06-01"]
    chart = next(c for c in r.charts() if c.name == "health")
    svg = render(chart)
    assert "Attempts per day" in svg and "Day (UTC)" in svg
    assert "2026-05-03, failed: 2" in svg and "delivered (2)" in svg and "dead-lettered (3)" in svg


def test_webhook_health_of_a_quiet_period_is_an_empty_state(hand_store: LeadService) -> None:
    from leadscore.analytics.charts import render

    r = run_report(hand_store, "triggers", JANUARY)
    assert r.days == []
    chart = next(c for c in r.charts() if c.name == "health")
    assert render(chart) == '<p class="empty">Webhook deliveries per day: no data in this period.</p>'
    assert next(t for t in r.tables() if t.name == "days").rows == []
