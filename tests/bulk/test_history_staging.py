"""What the history pass reads, staged in DuckDB (`bulk.history_staging`): a part's query gives each
part's leads in order with their shaped rows, and the breakdown's text only where DuckDB could not
respace it. Staging itself (`stage`) runs in every lifecycle apply of tests/bulk/test_lifecycle.py."""

from __future__ import annotations

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=30, deadline=None)
@given(
    texts=st.lists(
        st.sampled_from(
            [
                '[{"rule":"a","dimension":"fit","points":10.0}]',
                '[{"rule":"b c","dimension":"fit","points":-2.5,"events":3},{"rule":"d","dimension":"x","points":1.0}]',
                "[]",
                '[{"rule":"e","dimension":"fit","points":1e-07}]',  # an exponent: not respaced
                '[{"rule":"q\\"uote","dimension":"fit","points":1.0}]',  # a quote in a name: not respaced
                '[{"points":1.0,"rule":"r","dimension":"fit"}]',  # another key order: not respaced
            ]
        ),
        min_size=1,
        max_size=12,
    ),
    parts=st.integers(1, 3),
    texts_only=st.booleans(),
)
def test_a_parts_query_reads_the_breakdown_only_where_it_is_not_respaced(
    texts: list[str], parts: int, texts_only: bool
) -> None:
    """`part_sql`'s SPACED column (`spaced_breakdown_sql` of the shaped row's breakdown) for each part's
    leads in order; with `texts_only` the breakdown itself only where it was not respaced
    (`result_text_of` reads it then), whole otherwise."""
    from leadscore.bulk.history_json import breakdown_text
    from leadscore.bulk.history_staging import LEADS, WRITE_ONLY, part_sql
    from leadscore.bulk.write import RESULT_COLUMNS, ROWS_TABLE

    con = duckdb.connect()
    n = len(texts)
    leads = [f"L{k:03d}" for k in range(n)]
    rows = [
        (lead, "m", "v", 5, 1.5, "{}", "{}", None, "[]", None, 0, text, None)
        for lead, text in zip(leads, texts, strict=True)
    ]
    con.execute(f"CREATE OR REPLACE TEMP TABLE {ROWS_TABLE} ({', '.join(f'{c} VARCHAR' for c in RESULT_COLUMNS)})")
    con.executemany(f"INSERT INTO {ROWS_TABLE} VALUES ({', '.join('?' * len(RESULT_COLUMNS))})", rows)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {LEADS} AS SELECT CAST(k % {parts} AS INTEGER) AS part, k AS n, lead_id, "
        f"'x' || lead_id AS _first "
        f"FROM (SELECT *, row_number() OVER (ORDER BY lead_id) - 1 AS k FROM {ROWS_TABLE}) AS s"
    )
    names = [*(c for c in RESULT_COLUMNS if c not in WRITE_ONLY), "_first"]
    for part in range(parts):
        got = con.execute(part_sql(names, part, True, texts_only)).fetchall()
        ks = [k for k in range(n) if k % parts == part]
        assert [r[0] for r in got] == ks
        by = {name: [r[1 + j] for r in got] for j, name in enumerate(names)}
        assert by["lead_id"] == [leads[k] for k in ks] and by["_first"] == [f"x{leads[k]}" for k in ks]
        spaced = [r[-1] for r in got]
        for k, s, b in zip(ks, spaced, by["breakdown"], strict=True):
            assert s is None or s == breakdown_text(texts[k])
            assert b == (None if texts_only and s is not None else texts[k])
        # without SPACED (a store that takes no payload text): NULL, the breakdown whole
        plain = con.execute(part_sql(names, part, False, texts_only)).fetchall()
        assert [r[-1] for r in plain] == [None] * len(ks)
        assert [r[1 + names.index("breakdown")] for r in plain] == [texts[k] for k in ks]
    con.close()
