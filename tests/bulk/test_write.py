"""The bulk writer (`bulk/write.py`): a model change rewrites only the results rows it changes."""

from __future__ import annotations

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
