"""`--dist loadgroup` really keeps a group on one worker (tests/conftest.py), under this pytest and xdist."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

MODULE = '''
import os
from pathlib import Path

import pytest

OUT = Path(os.environ["GROUP_TEST_OUT"])


@pytest.mark.spark
@pytest.mark.parametrize("i", range(4))
def test_marked(i):
    (OUT / f"spark-{i}").write_text(os.environ["PYTEST_XDIST_WORKER"])


@pytest.mark.xdist_group("mine")
@pytest.mark.parametrize("i", range(4))
def test_grouped(i):
    (OUT / f"mine-{i}").write_text(os.environ["PYTEST_XDIST_WORKER"])
'''


@pytest.mark.slow
def test_a_group_runs_on_one_worker(tmp_path: Path) -> None:
    (tmp_path / "test_groups.py").write_text(MODULE)
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "GROUP_TEST_OUT": str(out), "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
    args = [sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadgroup", "-p", "tests.conftest"]
    args += ["-p", "no:cacheprovider", "--rootdir", str(tmp_path), "test_groups.py"]
    done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    for group in ("spark", "mine"):
        workers = {p.read_text() for p in out.glob(f"{group}-*")}
        assert len(list(out.glob(f"{group}-*"))) == 4
        assert len(workers) == 1, f"the {group} group ran on {sorted(workers)}"
