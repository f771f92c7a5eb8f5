"""The keys of events picked by their position in the files (`id_positions.py`): the same rows as the
join by input order, or no answer (never a wrong row)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.batch.duckdb.file_checks import parquet_sources
from leadscore.batch.duckdb.id_positions import keys_by_position
from leadscore.batch.duckdb.sources import prepare
from tests.support.duckdb_connections import fresh_connection
from tests.support.profiles import examples

KEYS = 'lead_id, type, epoch_us("timestamp") AS _ls_t, _ls_ord'


def _write(folder: Path, sizes: list[int], group_rows: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (folder / "events").mkdir()
    pq.write_table(pa.table({"id": ["l0"]}), folder / "leads.parquet")
    row = 0
    for k, n in enumerate(sizes):
        table = pa.table(
            {
                "lead_id": [f"l{(row + i) % 7}" for i in range(n)],
                "type": [f"t{(row + i) % 3}" for i in range(n)],
                "timestamp": pa.array([(row + i) * 1_000_000 for i in range(n)], pa.timestamp("us", tz="UTC")),
                "id": pa.array([f"e{row + i}" for i in range(n)], pa.string()),
            }
        )
        pq.write_table(table, folder / "events" / f"part-{k}.parquet", row_group_size=group_rows)
        row += n


def _picked(sizes: list[int], chosen: set[int], group_rows: int, lie: bool = False) -> tuple[object, object]:
    """(the rows picked by position, or None; the same rows by a join on `_ls_ord`)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write(folder, sizes, group_rows)
        con = fresh_connection()
        prepare(con, str(folder / "leads.parquet"), str(folder / "events"))
        files = parquet_sources(folder / "events")
        con.execute(
            "CREATE TEMP TABLE all_ords AS SELECT _ls_ord, row_number() OVER (ORDER BY _ls_ord) - 1 AS n FROM events"
        )
        con.execute(
            "CREATE TEMP TABLE wanted AS SELECT _ls_ord FROM all_ords WHERE list_contains(?, CAST(n AS INTEGER))",
            [sorted(chosen)],
        )
        listed = list(reversed(files)) if lie else files  # the files in another order than the view's
        got = None
        if keys_by_position(con, listed, "wanted", "picked", KEYS):
            got = con.execute("SELECT * FROM picked ORDER BY _ls_ord").fetchall()
        else:
            assert not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'picked'").fetchall()[0][0]
        joined = con.execute(
            'SELECT e.lead_id, e.type, epoch_us(e."timestamp"), e._ls_ord FROM events AS e '
            "JOIN wanted AS w ON w._ls_ord = e._ls_ord ORDER BY e._ls_ord"
        ).fetchall()
        return got, joined


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.integers(1, 12), min_size=1, max_size=4),
    picks=st.sets(st.integers(0, 47)),
    group_rows=st.integers(1, 5),
)
def test_the_rows_picked_by_position_are_those_of_the_join(sizes: list[int], picks: set[int], group_rows: int) -> None:
    chosen = {p for p in picks if p < sum(sizes)}
    got, joined = _picked(sizes, chosen, group_rows)
    assert got == joined
    assert len(joined) == len(chosen)


def test_files_in_another_order_than_the_view_give_no_answer() -> None:
    # the mask placed by the wrong row counts picks other rows: seen, and left to the join
    got, joined = _picked([3, 8], {0, 1, 2, 9}, 2, lie=True)
    assert got is None
    assert len(joined) == 4


def test_no_row_wanted_picks_none() -> None:
    got, joined = _picked([4, 2], set(), 3)
    assert got == joined == []
