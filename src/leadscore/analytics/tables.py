"""The shape every report renders into: titled tables of typed columns, and charts.

The terminal, CSV, HTML and the dashboard all draw from this one shape, so the numbers a page shows
are, cell for cell, the numbers `leadscore report` prints.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Kind = Literal["text", "int", "rate", "days", "score", "money", "ratio"]


class Column(BaseModel):
    key: str
    title: str
    kind: Kind = "text"


class Table(BaseModel):
    name: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    empty: str = "Nothing in this period."


class Series(BaseModel):
    name: str
    points: list[tuple[str, float | None]]


class Chart(BaseModel):
    """A bar or line chart; x values are labels (bands, stages, months), y has a unit."""

    name: str
    title: str
    kind: Literal["bar", "line", "funnel", "stacked"]  # stacked: a bar per x, the series stacked in it
    x_label: str
    y_label: str
    unit: Literal["", "%", "d", "x"] = ""
    series: list[Series]
    reference: float | None = None  # a horizontal line (the base rate in a lift chart)


class ReportMeta(BaseModel):
    name: str
    title: str
    period: str
    generated_at: str
    notes: list[str] = Field(default_factory=list)


def fmt(value: Any, kind: Kind) -> str:
    """A cell as text, for the terminal and HTML (JSON and CSV keep the raw value)."""
    if value is None:
        return "–"
    if kind == "rate":
        return f"{100 * value:.1f}%"
    if kind == "days":
        return f"{value:.1f} d"
    if kind == "score":
        return f"{value:.1f}"
    if kind == "money":
        return f"{value:,.0f}"
    if kind == "ratio":
        return f"{value:.2f}x"
    if kind == "int":
        return f"{value:,}"
    return str(value)
