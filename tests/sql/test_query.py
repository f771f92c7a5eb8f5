"""The scoring query cut at its per-lead aggregates (`QueryPlan.aggregates_sql`, `reading`) and the
replay's pass reading them from that table (`build_query(aggregated=)`) instead of aggregating the
replayed leads' events again: the same rows as the pass that computes them, and as the pure scorer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings

from leadscore.batch.duckdb.run import AGGREGATES, BatchRun
from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.engine import score_many
from leadscore.engine.values import kind
from leadscore.generate import sample
from leadscore.model import ModelError, load_model, parse_model, validate_model
from leadscore.sql.dialects import infer_schema
from leadscore.sql.query import build_query
from tests.batch.compare import differences
from tests.batch.tables import events_table, leads_table
from tests.support.profiles import examples
from tests.support.strategies import AT, edge_busy_data, edge_lifecycle_models

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "b2b-saas" / "model.yaml"


class _Kept(BatchRun):
    keep_aggregates = True


def _typed(leads: list[Lead], events: list[Event]) -> tuple[list[Lead], list[Event]]:
    """The generated data without the values the test tables cannot type (lists, mappings)."""

    def plain(values: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in values.items() if kind(v) in ("num", "str", "bool")}

    typed = [replace(e, properties=plain(e.properties)) for e in events]
    return [Lead(x.id, plain(x.attributes)) for x in leads], typed


def _rows(run: BatchRun) -> list[dict[str, Any]]:
    return sorted(run.to_dicts(), key=lambda r: str(r["lead_id"]))


def _both(model: Any, leads: list[Lead], events: list[Any]) -> tuple[BatchRun, BatchRun]:
    plain = BatchRun(model, leads_table(leads), events_table(events), AT)
    kept = _Kept(model, leads_table(leads), events_table(events), AT)
    return plain, kept


def test_the_replays_pass_finds_the_aggregates_by_what_they_count_not_by_their_names() -> None:
    """The b2b example: the replay's pass registers other stage aggregates before the playbooks' and
    the next change's, so 22 of its aggregates have other names than in the scoring query; each is
    read from the scoring query's column for the same SQL (flags written out), and only the fold over
    the events with their conditions is computed."""
    model = load_model(EXAMPLE)
    schema = infer_schema(model)
    at = 1_780_000_000_000_000
    plain = build_query(model, schema, at, dedupe=False, next_change=True)
    replay = build_query(
        model, schema, at, dedupe=False, next_change=True, replay="_c", only="_ids", aggregated=plain.aggregated("_t")
    )
    columns, again = plain.aggregate_columns, replay.aggregate_columns
    assert any(key in columns and columns[key] != col for key, col in again.items())
    new = [key for key in again if key not in columns]
    assert len(new) == 1 and "_ls_c0" in new[0]
    assert "FROM _t AS a" in replay.sql and plain.reading("_t").startswith("WITH _ls_agg AS (SELECT * FROM _t)")
    # the fold alone reads the events: those with no row of the replay table at their time and no
    # moving type are dropped before the join
    assert "_ls_evr AS (SELECT * FROM" in replay.sql and "EXISTS (SELECT 1 FROM _c AS k" in replay.sql


def test_the_replays_pass_joins_every_event_when_it_computes_other_aggregates() -> None:
    """Without the scoring query's aggregates (or with only some of them) the pass computes others over
    the events joined with their conditions: none may be dropped before the join."""
    from leadscore.sql.kept_aggregates import Aggregated

    model = load_model(EXAMPLE)
    schema = infer_schema(model)
    at = 1_780_000_000_000_000
    alone = build_query(model, schema, at, dedupe=False, replay="_c", only="_ids")
    some = build_query(model, schema, at, dedupe=False, replay="_c", only="_ids", aggregated=Aggregated("_t", {}))
    assert "_ls_evr" not in alone.sql and "_ls_evr" not in some.sql


def test_the_b2b_example_replayed_from_kept_aggregates_equals_the_pass_that_computes_them() -> None:
    """300 generated leads of the b2b example, most of them replayed: every row equal, the kept
    table dropped once the replay has read it, and the pure scorer's results."""
    model = load_model(EXAMPLE)
    leads, events = _typed(*sample("b2b", 300, seed=7, end=AT))
    plain, kept = _both(model, leads, events)
    assert kept.stats.replayed_leads == plain.stats.replayed_leads > 50
    assert _rows(kept) == _rows(plain)
    tables = kept.con.execute(f"SELECT count(*) FROM duckdb_tables() WHERE table_name = '{AGGREGATES}'")
    assert tables.fetchall()[0][0] == 0 and kept.aggregated is None
    expected = [r.to_dict() for r in score_many(model, leads, events, AT)]
    assert not differences(expected, _rows(kept))


@settings(
    max_examples=examples(15), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(edge_lifecycle_models(), edge_busy_data())
def test_generated_lifecycles_replayed_from_kept_aggregates_equal_the_pass_that_computes_them(
    model_data: dict[str, Any], sample_data: Any
) -> None:
    """Events on and around window edges and at shared instants, conditions at exact thresholds."""
    try:
        model = validate_model(model_data)
    except ModelError:
        return
    plain, kept = _both(model, *sample_data)
    assert kept.stats.replayed_leads == plain.stats.replayed_leads
    assert _rows(kept) == _rows(plain)


RISKY = """
format: 1
name: risky
rules:
  - {id: ist, on: v, where: {city: {contains: istanbul}}, points: 1, within: 3d}
  - {id: sigma, on: v, where: {city: {contains: 'σ'}}, points: 2, within: 3d}
lifecycle:
  stages: [lead, mql]
  transitions:
    - {to: mql, when: {score: total, gte: 4}}
"""


def test_leads_scored_again_for_their_look_ups_are_replayed_without_the_kept_aggregates() -> None:
    """Values whose lower case differs between DuckDB and Python (`lookups`): the leads holding them are
    scored again once the look-ups know them, so the aggregates kept before are dropped and the replay
    aggregates again (kept, they would score "ΟΔΟΣΑ" 0 at T); the rows are the pure scorer's."""
    model = parse_model(RISKY)
    cities = ["İstanbul", "istanbul", "ΟΔΟΣ", "ΟΔΟΣΑ", "Köln"]
    events = [
        Event.of(f"L{i}", "v", AT - timedelta(days=d), id=f"{i}-{d}", city=c)
        for i, c in enumerate(cities)
        for d in (2, 1)
    ]
    leads = [Lead(f"L{i}") for i in range(len(cities))]
    plain, kept = _both(model, leads, events)
    assert kept.stats.lookup_values > 0 and kept.stats.replayed_leads == plain.stats.replayed_leads > 0
    assert _rows(kept) == _rows(plain)
    expected = [r.to_dict() for r in score_many(model, leads, events, AT)]
    assert not differences(expected, _rows(kept))
    assert {r["lead_id"]: (r["score"], r["stage"]) for r in expected}["L3"] == (4.0, "mql")
    assert {r["stage"] for r in expected} == {"lead", "mql"}
