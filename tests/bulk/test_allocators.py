"""The allocator settings the batch engine's child processes start with (`bulk.allocators`)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from leadscore.bulk.allocators import ALLOCATOR_ENV, allocator_env
from leadscore.bulk.programs import child_env


def test_a_child_gets_the_settings() -> None:
    env = child_env()
    for key, value in ALLOCATOR_ENV.items():
        assert env[key] == (os.environ.get(key) or value)


def test_a_value_the_user_set_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=2")
    monkeypatch.delenv("DUCKDB_JE_MALLOC_CONF", raising=False)
    env = child_env()
    assert env["GLIBC_TUNABLES"] == "glibc.malloc.arena_max=2"
    assert env["DUCKDB_JE_MALLOC_CONF"] == ALLOCATOR_ENV["DUCKDB_JE_MALLOC_CONF"]
    assert allocator_env({"GLIBC_TUNABLES": "x", "DUCKDB_JE_MALLOC_CONF": "y"}) == {}


def test_a_child_with_the_settings_runs_duckdb_and_arrow_silently() -> None:
    """glibc and jemalloc accept the settings: a bad one would be printed on stderr at start."""
    code = (
        "import duckdb, pyarrow as pa, numpy as np;"
        "t = duckdb.sql('SELECT range AS x FROM range(300000)').to_arrow_table();"
        "assert np.asarray(t.column('x')).sum() == 299999 * 150000"
    )
    done = subprocess.run([sys.executable, "-c", code], env=child_env(), capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stderr == b""
