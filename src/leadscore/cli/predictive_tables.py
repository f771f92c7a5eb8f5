"""Tables the predictive commands print: metrics with their confidence intervals, deciles, calibration,
segments and the parts of the split."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.table import Table

if TYPE_CHECKING:
    from leadscore.predictive.metrics import Metrics


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def metrics_table(
    title: str, columns: dict[str, Metrics], intervals: dict[str, dict[str, tuple[float, float]]] | None = None
) -> Table:
    """One column per model; each figure with its 95% bootstrap interval when there is one."""
    table = Table(title=title)
    table.add_column("metric")
    for name in columns:
        table.add_column(name, justify="right")
    for key in ("rows", "positives", "base_rate", "roc_auc", "pr_auc", "log_loss", "brier", "ece"):
        cells = []
        for name, m in columns.items():
            value = getattr(m, key)
            ci = (intervals or {}).get(name, {}).get(key)
            text = str(value) if isinstance(value, int) else fmt(value)
            cells.append(f"{text} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci and value is not None else text)
        table.add_row(key, *cells)
    if intervals:
        table.caption = "[95% bootstrap confidence interval]"
    return table


def parts_table(parts: list[dict[str, Any]], description: str) -> Table:
    table = Table(title=f"Split: {description}")
    for col in ("part", "rows", "positives", "from", "to"):
        table.add_column(col, justify="left" if col == "part" else "right")
    for p in parts:
        table.add_row(
            str(p["part"]), f"{p['rows']:,}", f"{p['positives']:,}",
            str(p.get("from", p.get("from_row", ""))), str(p.get("to", p.get("to_row", ""))),
        )  # fmt: skip
    return table


def deciles_table(name: str, m: Metrics) -> Table:
    table = Table(title=f"Lift and cumulative gains by decile ({name})")
    for col in ("decile", "rows", "positives", "rate", "lift", "cum. gain"):
        table.add_column(col, justify="right")
    for d in m.deciles:
        table.add_row(
            str(d.decile), str(d.rows), str(d.positives), f"{d.rate:.1%}", f"{d.lift:.2f}", f"{d.cumulative_gain:.1%}"
        )
    return table


def calibration_table(name: str, m: Metrics) -> Table:
    table = Table(title=f"Calibration ({name})")
    for col in ("predicted", "rows", "mean predicted", "observed"):
        table.add_column(col, justify="right")
    for c in m.calibration:
        table.add_row(c.bin, str(c.rows), f"{c.mean_predicted:.1%}", f"{c.observed_rate:.1%}")
    return table


def segments_table(segments: dict[str, Metrics], column: str) -> Table:
    table = Table(title=f"Per segment ({column})")
    for col in ("segment", "rows", "rate", "ROC AUC", "PR AUC", "log loss", "Brier", "ECE"):
        table.add_column(col, justify="right")
    for name, m in segments.items():
        table.add_row(
            name, str(m.rows), f"{m.base_rate:.1%}", fmt(m.roc_auc), fmt(m.pr_auc), fmt(m.log_loss),
            fmt(m.brier), fmt(m.ece),
        )  # fmt: skip
    return table
