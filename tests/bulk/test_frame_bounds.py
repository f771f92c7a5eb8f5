"""`bulk.frame_bounds`: the score conditions decided from the counts alone. Wherever the bounds decide a
condition a row may read, the exact path decides it the same way (checked at every row the rounds
evaluate, on generated models whose stages are entered again, and on a hand-made history near the
thresholds); the stages and history stay the pure scorer's replay (`check_against_oracles`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import given

from leadscore.bulk import frame_reads
from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.model import parse_model
from tests.bulk.test_frame_reads import REENTERED, reentered_models
from tests.sql.test_stage_windows import AT, SETTINGS, check_against_oracles, check_generated
from tests.support.strategies import edge_busy_data

H = timedelta(hours=1)


def _checked(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """`frame_reads._evaluated` checked against the exact path at every row it is asked for; returns a
    list that receives, per call, the number of rows the bounds decided alone."""
    real = frame_reads._evaluated
    decided: list[int] = []
    exact_rows: list[int] = []
    values = frame_reads.Conditions.values

    def counted(self: Any, rows: Any, cols: Any, lead_of: Any, ks: Any) -> Any:
        exact_rows.append(len(lead_of))
        return values(self, rows, cols, lead_of, ks)

    monkeypatch.setattr(frame_reads.Conditions, "values", counted)

    def both(conds: Any, aggs: Any, frames: Any, kept: Any, sel: Any, lead_of: Any, ks: Any, reads: Any) -> Any:
        before = sum(exact_rows)
        got = real(conds, aggs, frames, kept, sel, lead_of, ks, reads)
        asked = sum(exact_rows) - before  # the rows the exact path evaluated
        exact = conds.values(frame_reads._At(kept.ts, kept.out[sel]), aggs.at(frames[0], sel), lead_of[sel], ks)
        if got is None or exact is None:
            assert got is None and exact is None
            return got
        for (s, f), (es, ef), read in zip(got, exact, reads, strict=True):
            assert s[read].tolist() == es[read].tolist() and f[read].tolist() == ef[read].tolist()
        decided.append(len(sel) - asked)
        return got

    monkeypatch.setattr(frame_reads, "_evaluated", both)
    return decided


def _ev(lead: str, typ: str, before: timedelta, eid: str) -> Event:
    return Event(lead, typ, AT - before, {}, eid)


def test_rows_near_the_thresholds_are_decided_as_the_exact_path_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    """Views a few hours apart: the engagement climbs past the MQL threshold and stays near it; the
    bounds decide the first rows (few views), the exact path the rows near the threshold."""
    decided = _checked(monkeypatch)
    model = parse_model(REENTERED)
    events = [_ev("a", "view", (100 - k) * H, f"v{k}") for k in range(0, 60, 3)]
    events += [_ev("b", "view", (90 - k) * H, f"b{k}") for k in range(0, 30, 5)]
    events += [_ev("b", "lost", 70 * H, "x")]
    check_against_oracles(model, [Lead("a", {}), Lead("b", {})], events)
    assert sum(decided) > 0


@pytest.mark.slow
@SETTINGS
@given(reentered_models(), edge_busy_data())
def test_the_bounds_decide_as_the_exact_path_on_generated_models(model_data: dict[str, Any], sample: Any) -> None:
    with pytest.MonkeyPatch.context() as mp:
        _checked(mp)
        check_generated(model_data, sample)


def test_an_unbounded_rule_leaves_its_score_to_the_exact_path() -> None:
    """A linear decay has no bound here: its score's interval is so wide that no threshold is decided."""
    from leadscore.bulk.frame_bounds import _widened

    mid, half = _widened(np.array([-1e250, 0.0]), np.array([1e250, 5.0]))
    assert half[0] > 1e249 and mid[1] == 2.5 and half[1] > 2.5
