"""The spans of a rescore in parts and the idle cores they tell (`bulk.timeline`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leadscore.bulk import timeline

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def _span(who: str, what: str, t0: float, t1: float) -> dict[str, Any]:
    return {"who": who, "what": what, "part": None, "t0": t0, "t1": t1}


def test_no_file_no_spans(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(timeline.ENV, raising=False)
    with timeline.span("main", "part", 1):
        pass
    timeline.record("main", "x", 0.0, 1.0)
    assert list(tmp_path.iterdir()) == []


def test_spans_are_appended_and_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    monkeypatch.setenv(timeline.ENV, str(path))
    with timeline.span("main", "part", 3):
        pass
    timeline.record("prepare", "prepare", 1.0, 2.0, 4)
    with path.open("a") as f:
        f.write('{"who": "cut sh')  # a process killed mid-line
    got = timeline.read(path)
    assert [(s["what"], s["part"]) for s in got] == [("part", 3), ("prepare", 4)]
    assert got[0]["who"].startswith("main:") and got[0]["t0"] <= got[0]["t1"]


def test_idle_counts_the_cores_no_process_had_work_for() -> None:
    # main works 0-10 but waits 0-4 (spill) and 6-7; a reader works 0-4; a child 5-10
    spans = [
        _span("main:1", "parts", 0, 10),
        _span("main:1", "spill", 0, 4),
        _span("main:1", "wait", 6, 7),
        _span("main:1", "history", 7, 9),  # nested in its own work: counts once
        _span("reader:2", "read", 0, 4),
        _span("prepare:3", "prepare", 5, 10),
    ]
    got = timeline.idle(spans, 2)
    # busy: 0-4 one (the reader), 4-5 one (main), 5-6 two, 6-7 one (the child), 7-10 two
    assert got["seconds"] == 10
    assert got["under_cores_s"] == 4 + 1 + 1
    assert got["idle_core_s"] == 4 + 1 + 1
    window = timeline.idle(spans, 2, since=3, until=12)
    assert window["seconds"] == 9
    assert window["under_cores_s"] == 1 + 1 + 1 + 2  # 3-4, 4-5, 6-7, 10-12
    assert window["idle_core_s"] == 1 + 1 + 1 + 4  # 10-12: no process, two cores


def test_idle_of_nothing() -> None:
    assert timeline.idle([], 2) == {"seconds": 0.0, "under_cores_s": 0.0, "idle_core_s": 0.0}


def test_a_process_started_before_now_on_the_monotonic_clock() -> None:
    import time

    age = time.monotonic() - timeline.started()
    assert 0 <= age < 24 * 3600  # this test process, started before the test (not the machine's boot)
