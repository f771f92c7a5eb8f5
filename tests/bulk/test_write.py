"""The bulk writer (`bulk/write.py`): a model change rewrites only the results rows it changes."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from leadscore.app.maintenance import apply
from leadscore.app.service import LeadService
from leadscore.bulk.rescore import BatchRescored
from leadscore.bulk.write import EVALUATION_COLUMNS, RESULT_COLUMNS, stored_rowids
from leadscore.bulk.writeback import rescore_store
from leadscore.model import parse_model
from leadscore.store import LeadStore
from leadscore.store.pipeline import Evaluator
from tests.bulk.test_rescore import RULES_MODEL, _adds_up, _same_state, _snapshot, twins  # noqa: F401

# every column but the evaluation's own: a row updated in any of them was rewritten
CONTENT = [c for c in RESULT_COLUMNS if c != "lead_id" and c not in EVALUATION_COLUMNS]


def _log_rewrites(store: LeadStore) -> None:
    """A table `rewritten` that gets the lead id of every update of a results row naming a content
    column (an upsert's DO UPDATE names them all), by a trigger of the database itself."""
    cols = ", ".join(CONTENT)
    with store.write() as conn:
        conn.exec_driver_sql("CREATE TABLE rewritten (lead_id TEXT)")
        if store.name == "sqlite":
            conn.exec_driver_sql(
                f"CREATE TRIGGER log_rewrite AFTER UPDATE OF {cols} ON results "
                "BEGIN INSERT INTO rewritten VALUES (new.lead_id); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION log_rewrite() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN INSERT INTO rewritten VALUES (NEW.lead_id); RETURN NULL; END $$"
            )
            conn.exec_driver_sql(
                f"CREATE TRIGGER log_rewrite AFTER UPDATE OF {cols} ON results "
                "FOR EACH ROW EXECUTE FUNCTION log_rewrite()"
            )


def _rewritten(store: LeadStore) -> list[str]:
    with store.read() as conn:
        return sorted(str(r[0]) for r in conn.execute(sa.text("SELECT lead_id FROM rewritten")))


def _content(rows: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {r["lead_id"]: tuple(repr(r[c]) for c in CONTENT) for r in rows}


@pytest.mark.slow
@pytest.mark.parametrize("writer", ["driver", "adbc"])
def test_unchanged_leads_are_not_rewritten_but_read_the_same(
    twins: tuple[LeadService, LeadService],  # noqa: F811
    writer: str,
) -> None:
    fast, pure = twins
    if writer == "adbc" and fast.store.name != "sqlite":
        pytest.skip("the ADBC writer serves SQLite stores")
    minimum = 0 if writer == "adbc" else 10**9
    a = Evaluator(parse_model(RULES_MODEL))
    b = Evaluator(parse_model(RULES_MODEL.replace("points: 40, once: true", "points: 45, once: true")))
    assert a.version != b.version
    assert rescore_store(fast.store, a, fast.now_us(), f"model:{a.version}", adbc_min_rows=minimum) is not None
    apply(pure.store, a, pure.now_us, bulk=False)
    stored, _ = _snapshot(fast.store)
    _log_rewrites(fast.store)

    # a model change: only the leads with a demo request score otherwise
    done = rescore_store(fast.store, b, fast.now_us(), f"model:{b.version}", adbc_min_rows=minimum)
    reference = apply(pure.store, b, pure.now_us, bulk=False)
    assert isinstance(done, BatchRescored) and done.changed == reference.changed
    _same_state(fast.store, pure.store)  # every row and history row as the pure path writes them
    _adds_up(fast.store)
    now, _ = _snapshot(fast.store)
    assert {r["model_version"] for r in now} == {b.version}  # every lead evaluated by the new version
    assert {r["evaluated_at"] for r in now} == {fast.now_us()}
    before, after = _content(stored), _content(now)
    moved = sorted(k for k in after if before.get(k) != after[k])
    assert 0 < len(moved) < len(after) == 45
    assert _rewritten(fast.store) == moved  # the others got their evaluation columns only

    # the same model again: no row rewritten, none touched either
    again = rescore_store(fast.store, b, fast.now_us(), f"model:{b.version}", adbc_min_rows=minimum)
    assert again is not None and again.changed == 0
    assert _rewritten(fast.store) == moved
    assert _snapshot(fast.store)[0] == now


def _rowids_gone_stale(real: Any) -> Any:
    """The rowids as they would be read just before a reordering of the stored results: each lead's
    rowid that of another lead, one lead missing, one pointing at no row at all."""
    import pyarrow as pa

    ids = real.column("lead_id").to_pylist()
    rids = real.column("_rid").to_pylist()
    stale = rids[1:] + rids[:1]
    stale[0] = max(rids) + 1000
    return pa.table({"lead_id": pa.array(ids[:-1], pa.string()), "_rid": pa.array(stale[:-1], pa.int64())})


@pytest.mark.slow
def test_results_found_by_rowid_in_any_order_even_when_the_rowids_read_are_stale(
    twins: tuple[LeadService, LeadService],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast, pure = twins
    if fast.store.name != "sqlite":
        pytest.skip("the ADBC writer serves SQLite stores")
    a = Evaluator(parse_model(RULES_MODEL))
    b = Evaluator(parse_model(RULES_MODEL.replace("points: 40, once: true", "points: 45, once: true")))
    assert rescore_store(fast.store, a, fast.now_us(), f"model:{a.version}", adbc_min_rows=0) is not None
    apply(pure.store, a, pure.now_us, bulk=False)
    with fast.store.write() as conn:  # the stored rows in another order than their lead ids (as leads arrive)
        order = "ORDER BY substr(lead_id, -1), lead_id"
        conn.exec_driver_sql(f"CREATE TEMP TABLE shuffled AS SELECT * FROM results {order}")
        conn.exec_driver_sql("DELETE FROM results")
        conn.exec_driver_sql("INSERT INTO results SELECT * FROM shuffled")
        conn.exec_driver_sql("DROP TABLE shuffled")
    stored, _ = _snapshot(fast.store)
    _log_rewrites(fast.store)
    real = stored_rowids
    monkeypatch.setattr("leadscore.bulk.write.stored_rowids", lambda path: _rowids_gone_stale(real(path)))

    done = rescore_store(fast.store, b, fast.now_us(), f"model:{b.version}", adbc_min_rows=0)
    reference = apply(pure.store, b, pure.now_us, bulk=False)
    assert isinstance(done, BatchRescored) and done.changed == reference.changed
    # the writer's steps, with their CPU seconds (the benchmarks' figures on a shared machine)
    assert {"write_cpu_ingest", "write_cpu_commit"} <= done.seconds.keys()
    _same_state(fast.store, pure.store)
    _adds_up(fast.store)
    before, after = _content(stored), _content(_snapshot(fast.store)[0])
    assert _rewritten(fast.store) == sorted(k for k in after if before.get(k) != after[k])


def test_postgres_write_in_one_statement_writes_what_the_three_statements_write(store: LeadStore) -> None:
    """PostgreSQL's write (`postgres_write_sql`, one statement) against `_statements`' three on the same
    loaded rows: a new lead, a changed score, changed dimensions, a changed breakdown only, a row equal
    but for the evaluation's columns, one equal in every column, one stored after the evaluation time; two
    stored results outside the loaded ids' range."""
    if store.name != "postgres":
        pytest.skip("PostgreSQL's write")
    from leadscore.bulk.write import TEMP, _ddl, _statements, postgres_write_sql

    at, dims, cause = 2_000, ["fit", "engagement"], "model:v2"
    stored = {  # lead: (version, evaluated_at, score, fit, engagement, breakdown)
        "a": ("v1", 1_000, 10.0, 5.0, 5.0, "[]"),
        "b": ("v1", 1_000, 10.0, 5.0, 5.0, "[]"),
        "c": ("v1", 1_000, 10.0, 5.0, 5.0, "[]"),
        "d": ("v1", 1_000, 10.0, 5.0, 5.0, "[]"),
        "e": ("v2", 2_000, 10.0, 5.0, 5.0, "[]"),
        "f": ("v1", 3_000, 10.0, 5.0, 5.0, "[]"),
        # outside the loaded ids' range (`pg_bounds`): read by neither, left as they are
        "0": ("v1", 1_000, 10.0, 5.0, 5.0, "[]"),
        "zz": ("v1", 1_000, 10.0, 5.0, 5.0, "[]"),
    }
    loaded = {
        "a": (12.0, 7.0, 5.0, "[]"),
        "b": (10.0, 5.0 + 1e-15, 5.0, "[]"),  # equal within the last bits: no history row
        "c": (10.0, 4.0, 6.0, "[]"),
        "d": (10.0, 5.0, 5.0, '[{"rule": "x"}]'),
        "e": (10.0, 5.0, 5.0, "[]"),
        "f": (99.0, 1.0, 1.0, "[]"),
        "new": (3.0, 1.0, 2.0, "[]"),
    }

    def dims_json(fit: float, engagement: float) -> str:
        return json.dumps({"fit": fit, "engagement": engagement})

    def run(use_one: bool) -> tuple[int, list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        with store.engine.connect() as conn:
            conn.exec_driver_sql("DELETE FROM score_history")
            conn.exec_driver_sql("DELETE FROM results")
            for lead, (version, evaluated, score, fit, engagement, breakdown) in stored.items():
                conn.execute(
                    sa.text(
                        "INSERT INTO results VALUES (:l, 'm', :v, :e, :s, :d, '{}', NULL, '[]', NULL, 1, :b, NULL)"
                    ),
                    {
                        "l": lead,
                        "v": version,
                        "e": evaluated,
                        "s": score,
                        "d": dims_json(fit, engagement),
                        "b": breakdown,
                    },
                )
            conn.exec_driver_sql(_ddl(store, len(dims)))
            for lead, (score, fit, engagement, breakdown) in loaded.items():
                conn.execute(
                    sa.text(
                        f"INSERT INTO {TEMP} VALUES (:l, 'm', 'v2', {at}, :s, :d, '{{}}', NULL, '[]', NULL, 1, :b, "
                        "NULL, :f, :g)"
                    ),
                    {"l": lead, "s": score, "d": dims_json(fit, engagement), "b": breakdown, "f": fit, "g": engagement},
                )
            if use_one:
                changed = int(conn.exec_driver_sql(postgres_write_sql(store, dims, at, cause)).scalar_one())
            else:
                history, touch, upsert = _statements(store, dims, at, cause)
                changed = conn.exec_driver_sql(history).rowcount
                conn.exec_driver_sql(touch)
                conn.exec_driver_sql(upsert)
            rows = conn.exec_driver_sql(
                "SELECT lead_id, model_version, evaluated_at, score, CAST(dimensions AS TEXT), "
                "CAST(breakdown AS TEXT) FROM results ORDER BY lead_id"
            ).all()
            hist = conn.exec_driver_sql(
                "SELECT lead_id, at, model_version, score, delta, CAST(dimensions AS TEXT), cause "
                "FROM score_history ORDER BY id"
            ).all()
            conn.rollback()
        return changed, [tuple(r) for r in rows], [tuple(h) for h in hist]

    three, one = run(False), run(True)
    assert one == three
    changed, rows, hist = one
    assert changed == 3 and [h[0] for h in hist] == ["a", "c", "new"]
    by_lead = {r[0]: r for r in rows}
    assert by_lead["f"][1:4] == ("v1", 3_000, 10.0)  # stored after the evaluation: left alone
    assert by_lead["b"][1:3] == ("v2", at) and by_lead["d"][5] == '[{"rule": "x"}]'


def test_the_writes_by_rowid_find_each_row_without_scanning_the_results(tmp_path: Any) -> None:
    """SQLite's plans of the statements by rowid (`locate_sql`, `moved_sql`, the history, the touch, the
    upsert): no SCAN of the results (a join that put the results first scanned them once per moved
    row: minutes per part of 10,000 leads)."""
    import sqlite3

    from leadscore.bulk.write import _ddl, _statements, locate_sql, moved_sql
    from leadscore.store import open_store
    from leadscore.store.backends import SqliteStore

    path = tmp_path / "store.db"
    store = open_store(f"sqlite:///{path}")
    store.upgrade()  # the store's tables
    store.dispose()
    db = sqlite3.connect(path)
    db.execute(_ddl(SqliteStore, 2, by_rowid=True))
    db.execute(moved_sql()[0])
    history, touch, upsert = _statements(SqliteStore, ["a", "b"], 10, "x", by_rowid=True)
    for sql in (locate_sql(), moved_sql()[1], history, touch, upsert):
        plan = [str(row[-1]) for row in db.execute(f"EXPLAIN QUERY PLAN {sql}")]
        assert not [step for step in plan if step.startswith("SCAN results")], (sql, plan)
    plan = [str(row[-1]) for row in db.execute(f"EXPLAIN QUERY PLAN {touch}")]
    assert "SEARCH results USING INTEGER PRIMARY KEY (rowid=?)" in plan
    db.close()


def test_the_loaded_rows_are_the_rows_duckdb_gives_in_lead_id_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """`_rows` reads ROWS_TABLE as Arrow, batch by batch: the same tuples, values and types (NULLs
    included) as DuckDB's own rows, in lead id order, across batch bounds; with `histories`, the
    stage history of the leads it names replaced and nothing else."""
    import duckdb

    from leadscore.bulk import write

    monkeypatch.setattr(write, "FETCH_ROWS", 2)
    con = duckdb.connect()
    con.execute(
        f"CREATE TABLE {write.ROWS_TABLE} (lead_id VARCHAR, model VARCHAR, model_version VARCHAR, evaluated_at BIGINT, "
        "score DOUBLE, dimensions VARCHAR, labels VARCHAR, stage VARCHAR, stage_history VARCHAR, playbook VARCHAR, "
        "queue_rank INTEGER, breakdown VARCHAR, next_change_at BIGINT, d0 DOUBLE)"
    )
    con.execute(
        f"INSERT INTO {write.ROWS_TABLE} VALUES "
        """('b', 'm', 'v', 2, 0.1, '{"x":0.1}', '{}', NULL, '[]', NULL, 3, '[]', NULL, 0.1), """
        """('a', 'm', 'v', 1, 1e300, '{"x":1e300}', '{}', 'lead', '[]', '{"id":"p"}', 0, '[]', """
        """9007199254740993, NULL), """
        """('c', 'm', 'v', 3, -0.0, '{}', '{}', 'é', '[]', NULL, NULL, '[]', -1, 2.5)"""
    )
    expected = con.execute(f"SELECT * FROM {write.ROWS_TABLE} ORDER BY lead_id").fetchall()
    got = list(write._rows(con, 1))
    assert got == expected
    assert [[type(v) for v in row] for row in got] == [[type(v) for v in row] for row in expected]
    assert got[0][13] is None and got[0][12] == 9007199254740993 and got[2][7] == "é"
    # the stage history texts the history pass hands over replace those of their leads' rows only
    histories = {"a": '[{"stage": "lead"}]', "c": "[]", "z": "[1]"}
    replaced = list(write._rows(con, 1, histories))
    assert [r[8] for r in replaced] == ['[{"stage": "lead"}]', "[]", "[]"]
    assert [r[:8] + r[9:] for r in replaced] == [r[:8] + r[9:] for r in expected]
