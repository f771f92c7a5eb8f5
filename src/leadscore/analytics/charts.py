"""Charts as inline SVG, drawn on the server: no script, no external file, readable without colour.

Every chart has labelled axes with units, tick values, a title for screen readers (`role="img"` with
`<title>`), and values written on the bars, so the numbers can be read without hovering.
"""

from __future__ import annotations

import math
from html import escape

from leadscore.analytics.tables import Chart

PALETTE = ["#2563eb", "#d97706", "#059669", "#dc2626", "#7c3aed", "#0891b2", "#be185d", "#4d7c0f", "#64748b"]
W, H = 580, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 36, 22, 70


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * exp:
            return m * exp
    return 10 * exp


def _fmt(v: float, unit: str) -> str:
    text = f"{v:,.0f}" if abs(v) >= 100 or float(v).is_integer() else f"{v:,.1f}" if abs(v) >= 10 else f"{v:.2g}"
    return f"{text}{unit}" if unit in ("%", "x") else text


def _short(label: str, n: int = 14) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


def render(chart: Chart) -> str:
    points = [p for s in chart.series for p in s.points]
    if not points or all(v is None for _, v in points):
        return f'<p class="empty">{escape(chart.title)}: no data in this period.</p>'
    if chart.kind == "line":
        return _line(chart)
    if chart.kind == "stacked":
        return _stacked(chart)
    if len(chart.series[0].points) > 8:
        return _hbars(chart)
    return _bars(chart)


def _hbars(chart: Chart) -> str:
    """Many categories: one row each, the label on the left, so long names stay readable."""
    series = chart.series[0]
    values = [v or 0.0 for _, v in series.points]
    top = _nice_max(max([*values, chart.reference or 0.0]))
    row, label_w, right, head = 26, 190, 70, 10
    height = head + row * len(values) + 58
    inner_w = W - label_w - right
    out = [
        f'<svg class="chart tall" viewBox="0 0 {W} {height}" role="img" aria-labelledby="t-{chart.name}">',
        f'<title id="t-{chart.name}">{escape(chart.title)}</title>',
    ]
    base = head + row * len(values)
    for i in range(5):
        x = label_w + inner_w * i / 4
        out.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{head}" y2="{base}"/>')
        out.append(
            f'<text class="tick" x="{x:.1f}" y="{base + 16}" text-anchor="middle">'
            f"{_fmt(top * i / 4, chart.unit)}</text>"
        )
    for i, (label, v) in enumerate(series.points):
        y = head + row * i
        w = inner_w * (v or 0.0) / top
        out.append(
            f'<text class="tick" x="{label_w - 8}" y="{y + row / 2 + 4:.1f}" text-anchor="end">'
            f"{escape(_short(label, 26))}</text>"
        )
        out.append(
            f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" rx="3" fill="{PALETTE[0]}">'
            f"<title>{escape(label)}: {_fmt(v or 0.0, chart.unit)}</title></rect>"
        )
        if v is not None:
            out.append(
                f'<text class="value" x="{label_w + w + 6:.1f}" y="{y + row / 2 + 4:.1f}">{_fmt(v, chart.unit)}</text>'
            )
    if chart.reference is not None:
        x = label_w + inner_w * chart.reference / top
        out.append(f'<line class="reference" x1="{x:.1f}" x2="{x:.1f}" y1="{head}" y2="{base}"/>')
        out.append(
            f'<text class="tick" x="{x:.1f}" y="{base + 32}" text-anchor="middle">'
            f"average {_fmt(chart.reference, chart.unit)}</text>"
        )
    out.append(
        f'<text class="axis-label" x="{label_w + inner_w / 2:.1f}" y="{height - 2}" text-anchor="middle">'
        f"{escape(chart.y_label)}</text>"
    )
    out.append("</svg>")
    return "".join(out)


def _frame(chart: Chart, top: float, lo: float = 0.0) -> list[str]:
    inner_h = H - TOP - BOTTOM
    out = [
        f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-labelledby="t-{chart.name}" '
        f'preserveAspectRatio="xMidYMid meet">',
        f'<title id="t-{chart.name}">{escape(chart.title)}</title>',
    ]
    for i in range(5):
        v = lo + (top - lo) * i / 4
        y = TOP + inner_h - inner_h * i / 4
        out.append(f'<line class="grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(v, chart.unit)}</text>')
    out.append(f'<line class="axis" x1="{LEFT}" x2="{W - RIGHT}" y1="{TOP + inner_h}" y2="{TOP + inner_h}"/>')
    out.append(
        f'<text class="axis-label" x="14" y="{TOP + inner_h / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {TOP + inner_h / 2:.1f})">{escape(chart.y_label)}</text>'
    )
    out.append(
        f'<text class="axis-label" x="{LEFT + (W - LEFT - RIGHT) / 2:.1f}" y="{H - 6}" '
        f'text-anchor="middle">{escape(chart.x_label)}</text>'
    )
    return out


def _bars(chart: Chart) -> str:
    series = chart.series[0]
    values = [v or 0.0 for _, v in series.points]
    top = _nice_max(max([*values, chart.reference or 0.0]))
    inner_w, inner_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    n = len(series.points)
    slot = inner_w / n
    bar = min(56.0, slot * 0.7)
    out = _frame(chart, top)
    for i, (label, v) in enumerate(series.points):
        x = LEFT + slot * i + (slot - bar) / 2
        h = inner_h * (v or 0.0) / top
        y = TOP + inner_h - h
        colour = PALETTE[0] if chart.kind == "bar" else PALETTE[i % len(PALETTE)]
        out.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" rx="3" fill="{colour}">'
            f"<title>{escape(label)}: {_fmt(v or 0.0, chart.unit)}</title></rect>"
        )
        if v is not None:
            out.append(
                f'<text class="value" x="{x + bar / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle">'
                f"{_fmt(v, chart.unit)}</text>"
            )
        out.append(
            f'<text class="tick" x="{x + bar / 2:.1f}" y="{TOP + inner_h + 16}" text-anchor="middle">'
            f"{escape(_short(label, max(6, int(slot / 7))))}</text>"
        )
    if chart.reference is not None:
        y = TOP + inner_h - inner_h * chart.reference / top
        out.append(f'<line class="reference" x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(
            f'<text class="tick" x="{W - RIGHT}" y="{y - 4:.1f}" text-anchor="end">'
            f"average {_fmt(chart.reference, chart.unit)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _line(chart: Chart) -> str:
    xs = [x for x, _ in chart.series[0].points]
    values = [v for s in chart.series for _, v in s.points if v is not None]
    top = _nice_max(max(values) if values else 1.0)
    lo = min(0.0, min(values) if values else 0.0)
    inner_w, inner_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    step = inner_w / max(1, len(xs) - 1)

    def y_of(v: float) -> float:
        return TOP + inner_h - inner_h * (v - lo) / ((top - lo) or 1.0)

    out = _frame(chart, top, lo)
    every = max(1, math.ceil(len(xs) / 8))
    for i, x in enumerate(xs):
        if i % every == 0:
            out.append(
                f'<text class="tick" x="{LEFT + step * i:.1f}" y="{TOP + inner_h + 16}" '
                f'text-anchor="middle">{escape(_short(x, 10))}</text>'
            )
    for k, s in enumerate(chart.series):
        colour = PALETTE[k % len(PALETTE)]
        pts = " ".join(f"{LEFT + step * i:.1f},{y_of(v):.1f}" for i, (_, v) in enumerate(s.points) if v is not None)
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{pts}"/>')
        # the legend sits in the plot's top-left corner, one entry a line
        lx, ly = LEFT + 10, TOP + 14 + k * 16
        out.append(
            f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{colour}"/>'
            f'<text class="tick" x="{lx + 15}" y="{ly}">{escape(_short(s.name, 12))}</text>'
        )
    out.append("</svg>")
    return "".join(out)


STACK_COLOURS = {"delivered": "#059669", "failed": "#d97706", "dead-lettered": "#dc2626"}


def _stacked(chart: Chart) -> str:
    """A bar per x value (a day), its series stacked from the axis up; thin bars for a long period, dated
    ticks, a legend under the axis, and each segment's value in its tooltip."""
    xs = [x for x, _ in chart.series[0].points]
    totals = [sum((s.points[i][1] or 0.0) for s in chart.series) for i in range(len(xs))]
    top = _nice_max(max(totals))
    inner_w, inner_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    slot = inner_w / len(xs)
    bar = max(0.6, slot * (0.8 if slot > 3 else 1.0))
    out = _frame(chart, top)
    for i, x in enumerate(xs):
        base: float = TOP + inner_h
        for k, s in enumerate(chart.series):
            v = s.points[i][1] or 0.0
            if v <= 0:
                continue
            h = inner_h * v / top
            colour = STACK_COLOURS.get(s.name, PALETTE[k % len(PALETTE)])
            out.append(
                f'<rect x="{LEFT + slot * i + (slot - bar) / 2:.2f}" y="{base - h:.2f}" width="{bar:.2f}" '
                f'height="{h:.2f}" fill="{colour}"><title>{escape(x)}, {escape(s.name)}: {_fmt(v, chart.unit)}'
                "</title></rect>"
            )
            base -= h
    every = max(1, math.ceil(len(xs) / 6))
    for i in range(0, len(xs), every):
        cx = LEFT + slot * i + slot / 2
        out.append(f'<line class="axis" x1="{cx:.1f}" x2="{cx:.1f}" y1="{TOP + inner_h}" y2="{TOP + inner_h + 4}"/>')
        out.append(
            f'<text class="tick" x="{cx:.1f}" y="{TOP + inner_h + 16}" text-anchor="middle">'
            f"{escape(_day(xs[i]))}</text>"
        )
    lx: float = LEFT
    for k, s in enumerate(chart.series):
        colour = STACK_COLOURS.get(s.name, PALETTE[k % len(PALETTE)])
        total = sum(v or 0.0 for _, v in s.points)
        label = f"{s.name} ({_fmt(total, chart.unit)})"
        out.append(
            f'<rect x="{lx}" y="{TOP + inner_h + 27}" width="10" height="10" fill="{colour}"/>'
            f'<text class="tick" x="{lx + 14}" y="{TOP + inner_h + 36}">{escape(label)}</text>'
        )
        lx += 26 + 7 * len(label)
    out.append("</svg>")
    return "".join(out)


def _day(label: str) -> str:
    """A tick for a date: "Dec 3" (the full date is in each bar's tooltip and in the table)."""
    from datetime import date

    try:
        d = date.fromisoformat(label)
    except ValueError:
        return _short(label, 10)
    return f"{d:%b} {d.day}"
