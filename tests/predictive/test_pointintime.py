"""Point-in-time features: the DuckDB builder agrees with the per-lead reference, and never sees the future."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import duckdb
import pandas as pd
import pytest

from leadscore.domain import Event
from leadscore.domain.timeutil import to_micros
from leadscore.predictive.pointintime import FeatureSpec, features_at
from leadscore.predictive.snapshots import build_training_frame, snapshot_times

TYPES = ["page_view", "email_open", "demo_request", "purchase", "deal_won"]
SPEC = FeatureSpec(
    event_types=("demo_request", "email_open", "page_view", "purchase"),
    amount_types=("purchase",),
    numeric_attributes=("employees",),
    categorical_attributes=("industry",),
    outcome_type="deal_won",
)
START = datetime(2025, 1, 1, tzinfo=UTC)


def population(seed: int, n: int = 40) -> tuple[list[dict[str, object]], list[Event]]:
    rnd = random.Random(seed)
    leads: list[dict[str, object]] = []
    events: list[Event] = []
    for i in range(n):
        lid = f"L{i}"
        leads.append(
            {
                "id": lid,
                "employees": rnd.choice([None, 10, 150, 2000]),
                "industry": rnd.choice([None, "software", "retail"]),
            }
        )
        for j in range(rnd.randint(0, 30)):
            t = rnd.choice(TYPES[:-1]) if rnd.random() > 0.02 else "deal_won"
            props = {"amount": rnd.choice([10.0, 99.5, 250.0])} if t == "purchase" else {}
            ts = START + timedelta(hours=rnd.randint(0, 24 * 365))
            events.append(Event(lid, t, ts, props, f"{lid}-{j}"))
    return leads, events


def frame_for(leads: list[dict[str, object]], events: list[Event], times: list[datetime], horizon: int) -> pd.DataFrame:
    con = duckdb.connect()
    ev = pd.DataFrame(
        [
            {"lead_id": e.lead_id, "type": e.type, "timestamp": e.timestamp, "amount": e.properties.get("amount")}
            for e in events
        ]
    )
    ld = pd.DataFrame(leads)
    con.register("ev", ev)
    con.register("ld", ld)
    return build_training_frame(con, events="ev", leads="ld", spec=SPEC, times=times, horizon_days=horizon)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_duckdb_features_equal_the_reference(seed: int) -> None:
    leads, events = population(seed)
    times = snapshot_times(START + timedelta(days=60), START + timedelta(days=365), 60, 30)
    frame = frame_for(leads, events, times, 30)
    assert len(frame) > 0
    attrs = {str(lead["id"]): {k: v for k, v in lead.items() if k != "id" and v is not None} for lead in leads}
    by_lead: dict[str, list[Event]] = {}
    for e in events:
        by_lead.setdefault(e.lead_id, []).append(e)
    for row in frame.to_dict("records"):
        expected = features_at(SPEC, attrs[row["lead_id"]], by_lead[row["lead_id"]], int(row["t"]))
        for col in SPEC.columns():
            got, want = row[col], expected[col]
            if isinstance(want, float) and math.isnan(want):
                assert got is None or pd.isna(got), col
            elif isinstance(want, str) or want is None:
                assert (None if pd.isna(got) else got) == want, col
            else:
                assert got == pytest.approx(want, rel=1e-12, abs=1e-9), col
        won = [e.ts for e in by_lead[row["lead_id"]] if e.type == "deal_won"]
        assert not any(ts <= row["t"] for ts in won)  # converted leads leave the population
        assert row["label"] == int(any(row["t"] < ts <= row["t"] + 30 * 86_400_000_000 for ts in won))


def test_features_never_see_the_future() -> None:
    leads, events = population(7)
    times = snapshot_times(START + timedelta(days=90), START + timedelta(days=365), 90, 30)
    base = frame_for(leads, events, times, 30).drop(columns=["label"])
    cutoff = to_micros(times[0])
    extra = [
        Event(e.lead_id, e.type, e.timestamp + timedelta(days=400), e.properties, f"{e.id}-future")
        for e in events
        if e.type != "deal_won"
    ]
    later = frame_for(leads, events + extra, times, 30).drop(columns=["label"])
    pd.testing.assert_frame_equal(base.reset_index(drop=True), later.reset_index(drop=True))
    one = next(e.lead_id for e in events if e.ts <= cutoff)
    mine = [e for e in events if e.lead_id == one]
    later_event = Event(one, "purchase", times[0] + timedelta(seconds=1), {"amount": 1e6}, "x")

    def known(row: dict[str, object]) -> dict[str, object]:
        return {k: v for k, v in row.items() if not (isinstance(v, float) and math.isnan(v))}

    assert known(features_at(SPEC, {}, [*mine, later_event], cutoff)) == known(features_at(SPEC, {}, mine, cutoff))
