"""The compiler that writes each event aggregate as a window function (`sql.window_compiler`): its
frames and tokens, and peers at one instant counted together (against the join and the pure replay,
`tests.sql.test_stage_windows.check_against_oracles`)."""

from __future__ import annotations

from dataclasses import fields
from datetime import timedelta

from leadscore.batch import run_batch
from leadscore.domain.lead import Lead
from leadscore.domain.timeutil import to_micros
from leadscore.model import parse_model
from leadscore.sql.query import compiler
from leadscore.sql.window_compiler import Frame, T, WindowCompiler
from tests.batch.tables import events_table, leads_table
from tests.sql.test_stage_windows import AT, THRESHOLDS, check_against_oracles, ev


def _compiler() -> WindowCompiler:
    model = parse_model(THRESHOLDS)
    run = run_batch(model, leads_table([Lead("a", {})]), events_table([]), AT)
    base = compiler(model, run.schema, T, "duckdb", run.lookups)
    return WindowCompiler(**{f.name: getattr(base, f.name) for f in fields(base)})


def test_a_window_is_a_range_frame_ending_at_the_row() -> None:
    """`within: D` is (t - D, t]: D - 1 micros preceding, the peers at t included; none: unbounded."""
    c = _compiler()
    assert c.over(None).endswith("RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)")
    assert c.over(86_400_000_000).endswith("RANGE BETWEEN 86399999999 PRECEDING AND CURRENT ROW)")


def test_a_token_stands_for_one_filter_and_window() -> None:
    """The same (filter, window) gives the same token; another window another; FALSE stays FALSE."""
    c = _compiler()
    day = c.token("type = 'read'", 86_400)
    assert c.token("type = 'read'", 86_400) == day
    assert c.token("type = 'read'", None) != day
    assert c.windowed[day] == ("type = 'read'", 86_400_000_000)
    assert c.token("FALSE", 86_400) == "FALSE"
    assert c.count("FALSE") == "0"


def test_counts_and_latest_times_are_frames_the_arrays_compute() -> None:
    """A count and a latest time are recorded as `Frame`s (what NumPy computes without SQL); a sum of
    a property's values is not."""
    c = _compiler()
    token = c.token("type = 'read'", 86_400)
    c.count(token)
    c.latest(token)
    kinds = sorted(f.kind for f in c.frames.values() if isinstance(f, Frame))
    assert kinds == ["count", "max_ts"]
    assert all(f.micros == 86_400_000_000 for f in c.frames.values() if f is not None)


def test_ties_at_one_instant_count_together() -> None:
    """Two reads at the same instant: 16 + 16 = 32, and a visit at that instant brings 47 -> 40."""
    model = parse_model(THRESHOLDS)
    events = [ev("b", "read", timedelta(hours=5), "1"), ev("b", "read", timedelta(hours=5), "2")]
    events.append(ev("b", "page_view", timedelta(hours=5), "3"))
    got = check_against_oracles(model, [Lead("b", {})], events)
    assert got.combined[("b", to_micros(AT - timedelta(hours=5)))][0] is True
    assert len(got.combined) == 2  # one row for the instant, one at T
