"""Converted leads differ from the rest the way real ones do, without being decided by one attribute."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from leadscore.generate import Summary
from tests.generate.conftest import read_events


@pytest.mark.slow
def test_b2b_winners_fit_better_and_engage_later_in_the_funnel(b2b_run: tuple[Summary, Path]) -> None:
    out = b2b_run[1]
    leads = {r["id"]: r for r in pq.read_table(out / "leads.parquet").to_pylist()}
    events = read_events(out).select(["lead_id", "type", "timestamp", "page_type", "content_stage"]).to_pylist()
    by_lead: dict[str, list[dict[str, object]]] = defaultdict(list)
    for e in events:
        by_lead[e["lead_id"]].append(e)
    won = {lid for lid, evs in by_lead.items() if any(e["type"] == "deal_won" for e in evs)}
    rate = len(won) / len(leads)
    assert 0.015 <= rate <= 0.06

    def mean(ids: set[str], count: object) -> float:
        return sum(count(by_lead[i]) for i in ids) / len(ids)  # type: ignore[operator]

    rest = set(leads) - won
    bofu = lambda evs: sum(e["content_stage"] == "bofu" for e in evs)  # noqa: E731
    pricing = lambda evs: sum(e["page_type"] == "pricing" for e in evs)  # noqa: E731
    assert mean(won, bofu) > 2 * mean(rest, bofu)
    assert mean(won, pricing) > 2 * mean(rest, pricing)
    assert all(any(e["type"] in ("demo_request", "quote_request") for e in by_lead[i]) for i in won)

    senior = {"c-level", "vp", "director"}
    share = lambda ids: sum(leads[i]["seniority"] in senior for i in ids) / len(ids)  # noqa: E731
    assert share(won) > share(rest) + 0.1
    # Signal, not a rule: some winners are individual contributors at tiny companies or low fit.
    assert Counter(leads[i]["seniority"] for i in won)["individual"] > 0
    assert any(leads[i]["employees"] < 10 for i in won)


def test_b2b_sales_steps_come_in_order(b2b_run: tuple[Summary, Path]) -> None:
    events = read_events(b2b_run[1])
    sales = events.filter(pc.is_in(events.column("type"), pc.cast(
        ["demo_request", "quote_request", "sales_accepted", "opportunity_created", "deal_won", "deal_lost"],
        "string"))).select(["lead_id", "type", "timestamp"]).to_pylist()
    rank = {"demo_request": 0, "quote_request": 0, "sales_accepted": 1, "opportunity_created": 2,
            "deal_won": 3, "deal_lost": 3}
    steps: dict[str, list[tuple[object, int]]] = defaultdict(list)
    for e in sales:
        steps[e["lead_id"]].append((e["timestamp"], rank[e["type"]]))
    for history in steps.values():
        ranks = [r for _, r in sorted(history)]
        assert ranks == sorted(ranks)
        assert ranks.count(3) <= 1


def test_b2c_loyal_customers_buy_more(b2c_run: tuple[Summary, Path]) -> None:
    out = b2c_run[1]
    leads = {r["id"]: r for r in pq.read_table(out / "leads.parquet").to_pylist()}
    events = read_events(out)
    purchases = Counter(events.filter(pc.equal(events.column("type"), "purchase")).column("lead_id").to_pylist())
    loyal = [purchases[i] for i, r in leads.items() if r["loyalty_member"]]
    other = [purchases[i] for i, r in leads.items() if not r["loyalty_member"]]
    assert sum(loyal) / len(loyal) > 1.2 * sum(other) / len(other)
    buyers = sum(1 for c in purchases.values() if c)
    repeat = sum(1 for c in purchases.values() if c > 1)
    assert 0.2 < buyers / len(leads) < 0.8 and repeat > 0.2 * buyers
    assert sum(loyal) > 0 and any(c == 0 for c in loyal)  # loyalty helps, does not decide
