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
