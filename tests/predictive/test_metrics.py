from __future__ import annotations

import numpy as np

from leadscore.predictive.metrics import compute_metrics, segment_metrics


def test_perfectly_calibrated_scores_have_small_ece_and_gains_reach_one() -> None:
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 1, 20_000)
    y = (rng.random(20_000) < p).astype(int)
    m = compute_metrics(y, p)
    assert m.ece < 0.02
    assert m.deciles[-1].cumulative_gain == 1.0
    assert m.deciles[0].lift > 1.5 > m.deciles[-1].lift
    assert sum(d.rows for d in m.deciles) == 20_000
    assert 0.0 < m.brier < 0.25 and m.roc_auc is not None and m.roc_auc > 0.8


def test_overconfident_scores_show_in_ece_and_log_loss() -> None:
    rng = np.random.default_rng(2)
    p = rng.uniform(0, 1, 5000)
    y = (rng.random(5000) < p).astype(int)
    sharp = np.where(p > 0.5, 0.99, 0.01)
    assert compute_metrics(y, sharp).ece > compute_metrics(y, p).ece + 0.1
    assert compute_metrics(y, sharp).log_loss > compute_metrics(y, p).log_loss


def test_segments_skip_tiny_groups_and_name_missing() -> None:
    y = np.array([0, 1] * 50)
    p = np.linspace(0.1, 0.9, 100)
    seg = np.array(["a"] * 60 + [None] * 35 + ["tiny"] * 5, dtype=object)
    out = segment_metrics(y, p, seg)
    assert set(out) == {"a", "(missing)"}
    assert out["a"].rows == 60
