"""A report as one self-contained HTML file (inline CSS and SVG, no script): `leadscore report --html`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from leadscore.analytics.charts import render
from leadscore.analytics.reports import Report
from leadscore.analytics.tables import fmt

TEMPLATES = Path(__file__).parent / "templates"
CSS = TEMPLATES / "report.css"


def environment(*extra: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(p) for p in (*extra, TEMPLATES)]),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    env.globals["fmt"] = fmt
    return env


def body_context(report: Report) -> dict[str, Any]:
    return {
        "meta": report.meta,
        "tables": report.tables(),
        "charts": [{"title": c.title, "svg": render(c)} for c in report.charts()],
    }


def report_html(report: Report) -> str:
    template = environment().get_template("report.html.j2")
    return template.render(css=CSS.read_text(encoding="utf-8"), **body_context(report))
