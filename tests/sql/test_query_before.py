"""The totals at earlier times computed in the scoring query's own pass (`build_query(before=)`): each
equals the total of the query at that time over the same data, and the pure scorer's; a query without
`before` is the statement it was."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.batch.duckdb.run import RESULT, BatchRun
from leadscore.bulk.lifecycle_split import scores_only
from leadscore.domain.timeutil import to_micros
from leadscore.engine import score_many
from leadscore.model import ModelError, load_model, parse_model, validate_model
from leadscore.model.spec import ScoringModel
from leadscore.sql.dialects import infer_schema
from leadscore.sql.query import QueryPlan, build_query
from tests.batch.tables import events_table, leads_table
from tests.sql.test_query import _typed
from tests.support.profiles import examples
from tests.support.strategies import AT, edge_busy_data, edge_models

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "b2b-saas" / "model.yaml"
DAY = 86_400 * 1_000_000


def _befores(model: ScoringModel, leads: list[Any], events: list[Any], windows: tuple[int, ...]) -> dict[int, dict]:
    """k -> {lead: total at T - windows[k]} as the scoring query at T computes them in its pass."""
    at = to_micros(AT)

    cols = ", ".join(f"before_{k}" for k in range(len(windows)))
    rows: list[Any] = []

    class _Before(BatchRun):
        before_at = tuple(at - w for w in windows)

        def _score(self, plan: QueryPlan) -> None:
            # read as the store's run reads them: before the replay replaces any row
            super()._score(plan)
            rows[:] = self.con.execute(f"SELECT lead_id, {cols} FROM {RESULT}").fetchall()

    run = _Before(model, leads_table(leads), events_table(events), AT, event_leads=False)
    assert run.plan is not None and run.plan.before_columns == tuple(range(len(windows)))
    return {k: {r[0]: r[k + 1] for r in rows} for k in range(len(windows))}


def _alone(model: ScoringModel, leads: list[Any], events: list[Any], window: int) -> dict[str, float]:
    """The totals of the scores-only model's own query at T - window (what `_before_scores` ran)."""
    at = AT - timedelta(microseconds=window)
    run = BatchRun(scores_only(model), leads_table(leads), events_table(events), at, event_leads=False)
    return {r["lead_id"]: r["score"] for r in run.to_dicts()}


def test_the_b2b_examples_totals_a_day_before_equal_its_query_then_and_the_pure_scorer() -> None:
    from leadscore.generate import sample

    model = load_model(EXAMPLE)
    leads, events = _typed(*sample("b2b", 300, seed=11, end=AT))
    before = _befores(model, leads, events, (DAY, 30 * DAY))
    for k, window in enumerate((DAY, 30 * DAY)):
        assert before[k] == _alone(model, leads, events, window)
        pure = {r.lead_id: r.score for r in score_many(model, leads, events, AT - timedelta(microseconds=window))}
        assert before[k] == pure
    # the day before differs from now for some lead: the test can tell the times apart
    now = {r.lead_id: r.score for r in score_many(model, leads, events, AT)}
    assert now != before[0]


HAND = """
format: 1
name: hand
dimensions:
  engagement: {cap: 10}
rules:
  - {id: v, on: visit, points: 4, within: 2d, dimension: engagement}
  - {id: any, when: {count: [visit, demo], gte: 1}, points: 1, dimension: engagement}
"""


def test_hand_computed_totals_a_day_before() -> None:
    """At T: visits at T - 3d, T - 1.5d, T - 0.5d and T - 1s: 3 within 2d (12 points, capped at 10) + 1.
    At T - 1d: visits at T - 3d, T - 1.5d (within 2d: T - 1.5d alone) = 4 + 1 = 5; at T - 4d: nothing."""
    from leadscore.domain import Event
    from leadscore.domain.lead import Lead

    model = parse_model(HAND)
    hours = [72, 36, 12, 1 / 3600]
    events = [Event.of("L1", "visit", AT - timedelta(hours=h), id=f"e{i}") for i, h in enumerate(hours)]
    leads = [Lead("L1"), Lead("L2")]
    before = _befores(model, leads, events, (DAY, 4 * DAY))
    assert before == {0: {"L1": 5.0, "L2": 0.0}, 1: {"L1": 0.0, "L2": 0.0}}


@settings(
    max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(edge_models(), edge_busy_data(), st.lists(st.sampled_from([1, 86_400, 30 * 86_400]), min_size=1, max_size=2))
def test_generated_models_totals_before_equal_their_query_at_that_time(
    model_data: dict[str, Any], sample_data: Any, seconds: list[int]
) -> None:
    """Events on and around window edges, decays, caps and floors: each total at T - within equals the
    scores-only model's own query at that time, lead by lead."""
    try:
        model = validate_model(model_data)
    except ModelError:
        return
    leads, events = sample_data
    windows = tuple(sorted({s * 1_000_000 for s in seconds}))
    try:
        before = _befores(model, leads, events, windows)
    except AssertionError:
        # a time whose rules need a look-up has no column: the separate query is its path
        assert build_query(model, infer_schema(model), to_micros(AT), before=windows).before_columns != tuple(
            range(len(windows))
        )
        return
    for k, window in enumerate(windows):
        assert before[k] == _alone(model, leads, events, window)


def test_a_query_without_before_times_is_the_statement_it_was() -> None:
    """`leadscore batch` builds no before column: the tagged parts appear only with `before`."""
    model = load_model(EXAMPLE)
    schema = infer_schema(model)
    at = to_micros(AT)
    plain = build_query(model, schema, at, dedupe=False)
    merged = build_query(model, schema, at, dedupe=False, before=(at - DAY,))
    assert "_ls_b0" not in plain.sql and plain.before_columns == ()
    assert "_ls_b0_total AS before_0" in merged.sql and merged.before_columns == (0,)
