"""The lead page's score-over-time chart and the model page's lifecycle diagram, as inline SVG."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from leadscore.analytics.charts import _nice_max
from leadscore.analytics.story import Story

W, H, L, R, T, B = 760, 280, 60, 34, 16, 44


def _t(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def score_chart(story: Story) -> str:
    if not story.curve:
        return '<p class="empty">No score history yet.</p>'
    xs = [_t(p.at) for p in story.curve]
    ys = [p.score for p in story.curve]
    x0, x1 = min(xs), max(xs)
    lo = min(0.0, min(ys))
    hi = _nice_max(max(max(ys), 1.0))
    iw, ih = W - L - R, H - T - B

    def px(x: float) -> float:
        return L + iw * (x - x0) / ((x1 - x0) or 1.0)

    def py(y: float) -> float:
        return T + ih - ih * (y - lo) / ((hi - lo) or 1.0)

    out = [
        f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-labelledby="score-title">',
        '<title id="score-title">Total score over the last 180 days, with the events that moved it</title>',
    ]
    for i in range(5):
        v = lo + (hi - lo) * i / 4
        out.append(
            f'<line class="grid" x1="{L}" x2="{W - R}" y1="{py(v):.1f}" y2="{py(v):.1f}"/>'
            f'<text class="tick" x="{L - 6}" y="{py(v) + 4:.1f}" text-anchor="end">{v:,.0f}</text>'
        )
    for i in range(7):
        x = x0 + (x1 - x0) * i / 6
        label = datetime.fromtimestamp(x, UTC).strftime("%d %b")
        out.append(f'<text class="tick" x="{px(x):.1f}" y="{H - B + 16}" text-anchor="middle">{label}</text>')
    out.append(
        f'<text class="axis-label" x="14" y="{T + ih / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {T + ih / 2:.1f})">Score (points)</text>'
    )
    out.append(f'<text class="axis-label" x="{L + iw / 2:.1f}" y="{H - 4}" text-anchor="middle">Date</text>')
    pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, ys, strict=True))
    out.append(f'<polyline fill="none" stroke="#1d4ed8" stroke-width="2" points="{pts}"/>')
    for m in story.markers:
        x, y = px(_t(m.at)), py(m.score)
        colour = "#047857" if m.delta > 0 else "#b91c1c"
        out.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{colour}" stroke="#fff" stroke-width="1.5">'
            f"<title>{escape(m.at[:16].replace('T', ' '))} {escape(m.type)}: {m.delta:+.1f} → {m.score:.1f}"
            f"</title></circle>"
        )
    out.append("</svg>")
    return "".join(out)


def lifecycle_svg(stages: list[str], exits: list[str], initial: str | None) -> str:
    if not stages:
        return '<p class="empty">This model has no lifecycle.</p>'
    box, gap = 112, 28
    width = max(len(stages), len(exits)) * (box + gap) + 20
    out = [
        f'<svg class="chart lifecycle" viewBox="0 0 {width} 170" role="img" aria-labelledby="lc-title">',
        '<title id="lc-title">Lifecycle: the success path in order, with the exit stages below</title>',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#6b7280"/></marker></defs>',
    ]
    for i, s in enumerate(stages):
        x = 10 + i * (box + gap)
        cls = "stage initial" if s == initial else "stage"
        out.append(
            f'<rect class="{cls}" x="{x}" y="20" width="{box}" height="40" rx="8"/>'
            f'<text class="stage-label" x="{x + box / 2}" y="45" text-anchor="middle">{escape(s)}</text>'
        )
        if i + 1 < len(stages):
            out.append(
                f'<line x1="{x + box}" y1="40" x2="{x + box + gap - 2}" y2="40" stroke="#6b7280" '
                f'stroke-width="1.5" marker-end="url(#arrow)"/>'
            )
    if exits:
        out.append('<text class="tick" x="10" y="100">exits</text>')
    for i, s in enumerate(exits):
        x = 10 + i * (box + gap)
        out.append(
            f'<rect class="stage exit" x="{x}" y="110" width="{box}" height="40" rx="8"/>'
            f'<text class="stage-label" x="{x + box / 2}" y="135" text-anchor="middle">{escape(s)}</text>'
        )
    out.append("</svg>")
    return "".join(out)
