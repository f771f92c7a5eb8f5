"""The spill folders of a rescore in parts: those of processes that are gone are removed by the next
spill (`sweep_stale`), nothing else is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from leadscore.bulk.export_spill import PREFIX, sweep_stale


def _gone_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # reaped: its id names no process now
    return proc.pid


def test_sweep_removes_only_the_folders_of_processes_that_are_gone(tmp_path: Path) -> None:
    gone = tmp_path / f"{PREFIX}{_gone_pid()}-abc"
    mine = tmp_path / f"{PREFIX}{os.getpid()}-def"
    older = tmp_path / f"{PREFIX}k2j4h5"  # no process id in the name: left alone
    other = tmp_path / "unrelated-123-x"
    for folder in (gone, mine, older, other):
        folder.mkdir()
        (folder / "p000000-r000.arrow").write_bytes(b"x" * 10)
    a_file = tmp_path / f"{PREFIX}{_gone_pid()}-file"
    a_file.write_text("not a folder")

    assert sweep_stale(tmp_path) == [gone]
    assert not gone.exists()
    assert mine.exists() and older.exists() and other.exists() and a_file.exists()
    assert sweep_stale(tmp_path) == []
