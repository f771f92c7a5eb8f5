"""`pg_bounds`: a join with a part's ids bounded to their range (`id_span`, `within_sql`) selects the
same rows, and reads the stored table by its key over a part's range (PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadscore.store import open_store
from leadscore.store.pg_bounds import id_span, within_sql
from leadscore.store.tables import leads
from tests.bulk.test_lifecycle_parts import IDS
from tests.store.conftest import fresh_database_url

pytestmark = pytest.mark.integration


def test_the_bounded_join_selects_what_the_plain_one_does_and_reads_leads_by_key(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store = open_store(fresh_database_url("postgres", tmp_path, request, migrated=True))
    try:
        store.upgrade()
        with store.write() as conn:
            rows = [{"id": i, "attributes": {}, "created_at": 0, "updated_at": 0} for i in IDS]
            rows += [{"id": f"x{n:05d}", "attributes": {}, "created_at": 0, "updated_at": 0} for n in range(3000)]
            conn.execute(leads.insert(), rows)
            conn.exec_driver_sql("ANALYZE leads")
        subsets = [IDS, IDS[:3], ["é", "ß"], ["Z"], [], [f"x{n:05d}" for n in range(100, 400)]]
        assert within_sql("id", None) == "FALSE"
        with store.write() as conn:
            conn.exec_driver_sql("CREATE TEMP TABLE ids (lead_id TEXT PRIMARY KEY) ON COMMIT DROP")
            for subset in subsets:
                conn.exec_driver_sql("DELETE FROM ids")
                for i in subset:
                    conn.exec_driver_sql("INSERT INTO ids VALUES (%s)", (i,))
                conn.exec_driver_sql("ANALYZE ids")
                ids = "SELECT lead_id FROM ids"
                span = id_span(conn, ids)
                plain = f"SELECT id FROM leads WHERE id IN ({ids}) ORDER BY id"
                bounded = f"SELECT id FROM leads WHERE id IN ({ids}) AND {within_sql('id', span)} ORDER BY id"
                expected = [r[0] for r in conn.exec_driver_sql(plain)]
                assert sorted(expected) == sorted(set(subset))
                assert span == ((expected[0], expected[-1]) if expected else None)  # as the database orders text
                assert [r[0] for r in conn.exec_driver_sql(bounded)] == expected
            # a part's range (300 of 3,014 leads) is read by the key's index, not by a scan of every lead
            plan = "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {bounded}"))
            assert "Seq Scan on leads" not in plan and "pk_leads" in plan
            # the write's lock of a part's leads takes the same bounds
            store.lock_leads_sql(conn, "SELECT lead_id FROM ids")
    finally:
        store.dispose()
