"""Every kind of the condition registry compiles in every engine and scores as the pure scorer does:
the DuckDB batch engine, the SQL of each dialect (run for real in DuckDB and PostgreSQL, compiled for
the others), and the in-database re-scoring of a PostgreSQL store.

The kinds come from the registry (`tests/support/condition_kinds.py`), each placed in every section
the model format allows it, so that a new kind fails here until each engine handles it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leadscore.batch import run_batch
from leadscore.bulk.in_database import rescore_in_database
from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.domain.result import Result
from leadscore.domain.timeutil import to_micros
from leadscore.engine import score_many
from leadscore.model.spec import ScoringModel
from leadscore.sql.dialects import DIALECTS, infer_schema, scoring_sql
from leadscore.store import LeadStore
from leadscore.store.pipeline import Evaluator
from tests.batch.compare import differences
from tests.batch.tables import events_table, leads_table
from tests.bulk.test_in_database import Pair, _fill, all_ids, assert_same, history, pure_rescore, result_rows
from tests.sql.test_dialects_postgres import _load
from tests.store.conftest import FixedClock, fresh_database_url
from tests.support.condition_kinds import AT, data, kinds, models_for, store_model

AT_US = to_micros(AT)
CASES = [(kind, variant) for kind in kinds() for variant in models_for(kind)]
IDS = [f"{kind}-{variant}" for kind, variant in CASES]


@pytest.fixture(scope="module")
def sample() -> tuple[list[Lead], list[Event]]:
    return data()


def _pure(model: ScoringModel, sample: tuple[list[Lead], list[Event]]) -> dict[str, Result]:
    return {r.lead_id: r for r in score_many(model, *sample, AT)}


def _sample_varies(model: ScoringModel, expected: dict[str, Result]) -> None:
    """The sample holds for some leads and not for others, so each comparison means something."""
    if model.playbooks[0].name == "sampled":
        chosen = {r.playbook.name if r.playbook else None for r in expected.values()}
        assert {"sampled", "default"} <= chosen, chosen
    else:  # some lead moves by the sample's automatic transition
        assert any(c.cause == "auto" for r in expected.values() for c in r.stage_history)


@pytest.mark.parametrize(("kind", "variant"), CASES, ids=IDS)
def test_duckdb_batch_engine(kind: str, variant: str, sample: tuple[list[Lead], list[Event]]) -> None:
    model = models_for(kind)[variant]
    expected = _pure(model, sample)
    _sample_varies(model, expected)
    run = run_batch(model, leads_table(sample[0]), events_table(sample[1]), AT)
    if variant == "results":  # the query decides every lead
        assert run.stats.fallback_reason is None and run.stats.fallback_leads == 0, run.stats
    else:  # the query runs; leads whose replay needs each event's scores may go to the pure scorer
        assert run.stats.fallback_leads < run.stats.leads, run.stats
    diff = differences([r.to_dict() for r in expected.values()], run.to_dicts())
    assert not diff, diff[:5]


@pytest.mark.parametrize(("kind", "variant"), CASES, ids=IDS)
def test_every_dialect_compiles(kind: str, variant: str) -> None:
    model = models_for(kind)[variant]
    for dialect in DIALECTS:
        sql, plan = scoring_sql(model, dialect, AT_US)
        assert sql.strip() and plan.dimensions == ["fit", "engagement"]
        if variant == "results":
            assert not plan.dynamic_lifecycle


def _check_rows(model: ScoringModel, plan: Any, rows: list[dict[str, Any]], expected: dict[str, Result]) -> int:
    """Every lead the SQL decides (`fallback` false) equals the pure scorer; returns how many it decided."""
    assert {r["lead_id"] for r in rows} == set(expected)
    decided = 0
    for got in rows:
        want = expected[got["lead_id"]]
        if got["fallback"]:
            continue
        decided += 1
        assert math.isclose(got["score"], want.score, rel_tol=1e-9, abs_tol=1e-9), got["lead_id"]
        assert got["stage"] == want.stage, got["lead_id"]
        labels = {name: got[f"label_{i}"] for i, name in enumerate(plan.label_sets)}
        assert labels == dict(want.labels), got["lead_id"]
        assert got["playbook"] == (want.playbook.index if want.playbook else None), got["lead_id"]
    if model.lifecycle and all(t.when is None for t in model.lifecycle.transitions):
        assert decided == len(rows)
    return decided


def _dicts(cur: Any) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


@pytest.mark.parametrize(("kind", "variant"), CASES, ids=IDS)
def test_duckdb_dialect_sql(kind: str, variant: str, sample: tuple[list[Lead], list[Event]]) -> None:
    import duckdb

    model = models_for(kind)[variant]
    schema = infer_schema(model)
    sql, plan = scoring_sql(model, "duckdb", AT_US, schema)
    con = duckdb.connect()
    for name, table, slots in (
        ("leads", leads_table(sample[0]), schema.leads.slots),
        ("events", events_table(sample[1]), schema.events.slots),
    ):
        # the columns the query reads and the data lacks (a `stage` attribute) are there, empty
        con.register(f"_{name}", table)
        kinds = {"num": "DOUBLE", "str": "VARCHAR", "bool": "BOOLEAN"}
        missing = [s for ss in slots.values() for s in ss if s.column not in table.column_names]
        extra = "".join(f', CAST(NULL AS {kinds[s.kind]}) AS "{s.column}"' for s in missing)
        con.execute(f"CREATE VIEW {name} AS SELECT *{extra} FROM _{name}")
    _check_rows(model, plan, _dicts(con.execute(sql)), _pure(model, sample))


@pytest.fixture(scope="module")
def pg(postgres_url: str) -> Iterator[Any]:
    import psycopg

    url = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS kindcheck CASCADE; CREATE SCHEMA kindcheck; SET search_path = kindcheck")
        conn.execute("SET TimeZone = 'UTC'")
        yield conn


@pytest.mark.integration
@pytest.mark.parametrize(("kind", "variant"), CASES, ids=IDS)
def test_postgres_dialect_sql(kind: str, variant: str, sample: tuple[list[Lead], list[Event]], pg: Any) -> None:
    model = models_for(kind)[variant]
    schema = infer_schema(model)
    _load(pg, schema, *sample)
    sql, plan = scoring_sql(model, "postgres", AT_US, schema)
    _check_rows(model, plan, _dicts(pg.execute(sql)), _pure(model, sample))


@pytest.fixture(scope="module")
def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sample: tuple[list[Lead], list[Event]]
) -> Iterator[Pair]:
    clock = FixedClock(AT)
    tmp: Path = tmp_path_factory.mktemp("kinds")
    stores: list[LeadStore] = [
        _fill(fresh_database_url("postgres", tmp, request, migrated=True), tmp, clock, sample) for _ in range(2)
    ]
    yield Pair(stores[0], stores[1], clock)
    for s in stores:
        s.dispose()


def test_every_kind_but_stage_reaches_the_store_bulk_paths() -> None:
    """They take models without a lifecycle, and a `stage:` condition needs one."""
    assert [kind for kind in kinds() if store_model(kind) is None] == ["stage"]


@pytest.mark.integration
@pytest.mark.parametrize("kind", [kind for kind in kinds() if kind != "stage"])
def test_in_database_rescore_on_postgres(kind: str, pair: Pair) -> None:
    """`model apply` on a PostgreSQL store scores inside the database: the rows equal the pure path's."""
    model = store_model(kind)
    assert model is not None
    evaluator = Evaluator(model)
    cause = f"model:{evaluator.version}"
    expected = pure_rescore(pair.pure, evaluator, AT_US, cause, all_ids(pair.pure))
    done = rescore_in_database(pair.fast, evaluator, AT_US, cause)
    assert done is not None, "the model needed the pure path"
    assert (done.leads, done.changed) == (expected.leads, expected.changed)
    assert_same(result_rows(pair.pure), result_rows(pair.fast))
    assert_same(history(pair.pure), history(pair.fast))
