from __future__ import annotations

import numpy as np

from leadscore.predictive.metrics import compute_metrics
from leadscore.predictive.report_html import Run, render


def test_page_is_self_contained_with_plots_and_tables() -> None:
    rng = np.random.default_rng(8)
    p = rng.uniform(size=2000)
    y = (rng.random(2000) < p).astype(int)
    runs = [Run("model <a>", y, p, compute_metrics(y, p)), Run("other", y, p**2, compute_metrics(y, p**2))]
    page = render("Evaluation", runs, notes=["dropped column id: id-like"], warnings=["possible leakage in x"])
    assert page.count("<svg") == 3
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "https://" not in page
    assert "<script" not in page
    assert "model &lt;a&gt;" in page
    assert "Lift and gains by decile" in page and "Calibration" in page
    assert "possible leakage in x" in page


def test_page_names_the_split_parts_importance_intervals_and_axis_values() -> None:
    rng = np.random.default_rng(9)
    p = rng.uniform(size=1000)
    y = (rng.random(1000) < p).astype(int)
    run = Run("m", y, p, compute_metrics(y, p), intervals={"roc_auc": (0.71, 0.79)})
    parts = [
        {"part": "training: fit", "rows": 640, "positives": 70, "from_row": 1, "to_row": 640},
        {"part": "test (held-out)", "rows": 200, "positives": 40, "from_row": 801, "to_row": 1000},
    ]
    page = render(
        "T", [run], split="time (file order): first 80% train -> last 20% test", parts=parts,
        importance={"visits": 0.4, "source": 0.2}, permutation={"visits": 0.05, "source": 0.01},
    )  # fmt: skip
    assert "time (file order): first 80% train" in page and "test (held-out)" in page and "801" in page
    assert "Feature importance" in page and "<td>visits</td><td>0.400</td><td>0.050</td>" in page
    assert "[0.710, 0.790]" in page and "95% bootstrap" in page
    assert page.count(">0.6</text>") == 6  # both axes of all three plots carry their values
    assert "mean predicted probability" in page
    assert "<h2>Held-out metrics</h2>" in page
    assert "<h2>Metrics on training rows</h2>" in render("T", [run], heading="Metrics on training rows")
