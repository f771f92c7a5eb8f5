"""A self-contained HTML evaluation page: inline SVG plots (ROC, cumulative gains, calibration) and the
same tables as the terminal. No scripts, no CDN: it opens offline and can be mailed as one file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from leadscore.predictive.metrics import Metrics
from leadscore.predictive.uncertainty import FoldSpread

_COLOURS = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700"]
_SIZE, _PAD = 320, 44
_TICKS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass
class Run:
    """One model's held-out predictions: what the page plots and tabulates."""

    name: str
    y: np.ndarray
    p: np.ndarray
    m: Metrics
    segments: dict[str, Metrics] = field(default_factory=dict)
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)  # 95% bootstrap per metric
    folds: FoldSpread | None = None


def _svg(series: list[tuple[str, list[tuple[float, float]]]], xlabel: str, ylabel: str, diagonal: bool) -> str:
    inner = _SIZE - 2 * _PAD

    def pt(x: float, y: float) -> str:
        return f"{_PAD + x * inner:.1f},{_SIZE - _PAD - y * inner:.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_SIZE}" height="{_SIZE}" role="img">',
        f'<rect x="{_PAD}" y="{_PAD}" width="{inner}" height="{inner}" fill="none" stroke="#8c959f"/>',
        f'<text x="{_SIZE / 2}" y="{_SIZE - 6}" text-anchor="middle" font-size="11">{xlabel}</text>',
        f'<text x="12" y="{_SIZE / 2}" text-anchor="middle" font-size="11" '
        f'transform="rotate(-90 12 {_SIZE / 2})">{ylabel}</text>',
    ]
    for t in _TICKS:
        # axis values and a light grid: a reader can read a point off the plot
        x0 = pt(t, 0).split(",")[0]
        y1 = pt(0, t).split(",")[1]
        parts.append(f'<line x1="{x0}" y1="{_PAD}" x2="{x0}" y2="{_SIZE - _PAD}" stroke="#eaeef2"/>')
        parts.append(f'<line x1="{_PAD}" y1="{y1}" x2="{_SIZE - _PAD}" y2="{y1}" stroke="#eaeef2"/>')
        parts.append(f'<text x="{x0}" y="{_SIZE - _PAD + 13}" text-anchor="middle" font-size="10">{t:.1f}</text>')
        parts.append(f'<text x="{_PAD - 4}" y="{float(y1) + 3:.1f}" text-anchor="end" font-size="10">{t:.1f}</text>')
    if diagonal:
        parts.append(f'<polyline points="{pt(0, 0)} {pt(1, 1)}" stroke="#8c959f" stroke-dasharray="4" fill="none"/>')
    for i, (name, points) in enumerate(series):
        colour = _COLOURS[i % len(_COLOURS)]
        coords = " ".join(pt(min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0)) for x, y in points)
        parts.append(f'<polyline points="{coords}" stroke="{colour}" stroke-width="2" fill="none"/>')
        parts.append(
            f'<text x="{_PAD + 6}" y="{_PAD + 14 + 14 * i}" font-size="11" fill="{colour}">{_escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _roc_points(run: Run) -> list[tuple[float, float]]:
    from sklearn.metrics import roc_curve

    if run.y.min() == run.y.max():
        return []
    fpr, tpr, _ = roc_curve(run.y, run.p)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), 200)).astype(int))
    return list(zip(fpr[keep].tolist(), tpr[keep].tolist(), strict=True))


def render(
    title: str,
    runs: list[Run],
    candidates: list[Any] | None = None,
    chosen: str | None = None,
    notes: list[str] | None = None,
    warnings: list[str] | None = None,
    *,
    heading: str = "Held-out metrics",
    split: str = "",
    parts: list[dict[str, Any]] | None = None,
    importance: dict[str, float] | None = None,
    permutation: dict[str, float] | None = None,
) -> str:
    """The page. `heading` names what the metrics are measured on (an evaluation on training rows must not
    be called held-out); `split`, `parts`: the split and the rows and period of each part; `importance`
    (mean absolute contribution) and `permutation` (AUC drop when shuffled) per feature."""
    from importlib.resources import files

    from jinja2 import Environment

    template = files("leadscore.predictive").joinpath("templates/report.html.j2").read_text(encoding="utf-8")
    env = Environment(autoescape=True)
    gains = [(r.name, [(0.0, 0.0)] + [(d.decile / 10, d.cumulative_gain) for d in r.m.deciles]) for r in runs]
    calib = [(r.name, [(c.mean_predicted, c.observed_rate) for c in r.m.calibration]) for r in runs]
    return env.from_string(template).render(
        title=title,
        runs=runs,
        candidates=candidates or [],
        chosen=chosen,
        notes=notes or [],
        warnings=warnings or [],
        roc=_svg([(r.name, _roc_points(r)) for r in runs], "false positive rate", "true positive rate", True),
        gains=_svg(gains, "share of leads, best scored first", "share of conversions", True),
        calibration=_svg(calib, "predicted probability", "observed rate", True),
        heading=heading,
        split=split,
        parts=parts or [],
        importance=_importance_rows(importance or {}, permutation or {}),
        ci=_ci,
        fmt=lambda v: "-" if v is None else f"{v:.3f}",
        pct=lambda v: f"{100 * v:.1f}%",
    )


def _ci(run: Run, key: str) -> str:
    value = run.intervals.get(key)
    return "" if not value else f" [{value[0]:.3f}, {value[1]:.3f}]"


def _importance_rows(gain: dict[str, float], permutation: dict[str, float], top: int = 25) -> list[tuple[Any, ...]]:
    names = list(dict.fromkeys([*gain, *permutation]))[:top]
    return [(n, gain.get(n), permutation.get(n)) for n in names]
