"""Generated data sets shared by the generator tests (generated once per session, they are read-only)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from leadscore.generate import Summary, generate


def read_events(out: Path) -> pa.Table:
    return pa.concat_tables(pq.read_table(p) for p in sorted((out / "events").glob("part-*.parquet")))


@pytest.fixture(scope="session")
def b2b_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Summary, Path]:
    out = tmp_path_factory.mktemp("b2b")
    return generate("b2b", 5000, out, seed=11), out


@pytest.fixture(scope="session")
def b2c_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Summary, Path]:
    out = tmp_path_factory.mktemp("b2c")
    return generate("b2c", 4000, out, seed=11), out
