"""A server process settles its heap once loaded (leadscore.api.heap); checked in a process of its own,
so the test process keeps its collector as it is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def test_settling_freezes_the_loaded_heap_and_collects_young_objects_less_often() -> None:
    code = (
        "import gc; from leadscore.api import heap; before = gc.get_threshold(); heap.settle(); "
        "print(before[0], gc.get_threshold()[0], gc.get_freeze_count() > 1000, gc.isenabled())"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    before, after, frozen, enabled = out.stdout.split()
    assert int(before) == 700 and int(after) == 50_000
    assert frozen == "True" and enabled == "True"  # the collector still runs: only less often
