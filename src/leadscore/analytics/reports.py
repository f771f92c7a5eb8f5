"""The reports by name, run against a service's store and active model: the one entry point that
`leadscore report`, the API and the dashboard call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leadscore.analytics.channels import TOUCHES, ChannelReport, channel_history, channel_report
from leadscore.analytics.common import AnalyticsError, Funnel, ReportFilter
from leadscore.analytics.feedback import FeedbackReport, feedback_report
from leadscore.analytics.funnel import FunnelReport, funnel_report
from leadscore.analytics.history import read_moves
from leadscore.analytics.quality import DEFAULT_BANDS, QualityReport, quality_report
from leadscore.analytics.quality_sources import quality_history
from leadscore.analytics.tables import ReportMeta
from leadscore.analytics.triggers import TriggersReport, triggers_report
from leadscore.domain.timeutil import to_iso

if TYPE_CHECKING:
    from leadscore.app.service import LeadService

TITLES = {
    "funnel": "Funnel",
    "channels": "Channels and campaigns",
    "quality": "Score quality",
    "feedback": "Sales feedback",
    "triggers": "Triggers and webhooks",
}
CHANNEL_KEYS = ("source", "medium", "campaign", "landing_page", *TOUCHES)


Report = FunnelReport | ChannelReport | QualityReport | FeedbackReport | TriggersReport


def run_report(service: LeadService, name: str, f: ReportFilter, **options: Any) -> Report:
    """Run report `name` over `f`. Options: channels `by`, `touch_property`; quality `target`, `bands`;
    feedback `channel`. Unknown names and options are AnalyticsError, never a traceback."""
    if name not in TITLES:
        raise AnalyticsError(f"unknown report {name!r} (expected one of {', '.join(TITLES)})")
    model = service.model
    funnel = Funnel.of(model)
    meta = ReportMeta(name=name, title=TITLES[name], period=f.describe(), generated_at=to_iso(service.clock()))
    with service.store.read() as conn:
        if name == "funnel":
            moves = read_moves(service.store, conn, f, ordered=True) if funnel.stages else None
            return funnel_report(conn, funnel, f, meta, moves=moves)
        if name == "channels":
            by = options.get("by") or "source"
            if not isinstance(by, str) or not by.replace("_", "").replace("-", "").isalnum():
                raise AnalyticsError(f"--by {by!r}: expected an attribute name or one of {', '.join(CHANNEL_KEYS)}")
            touch = options.get("touch_property") or "channel"
            if not funnel.stages or by in TOUCHES:
                return channel_report(conn, funnel, f, meta, by, touch)
            history = channel_history(service.store, conn, funnel, f, by)
            try:
                return channel_report(conn, funnel, f, meta, by, touch, history)
            finally:
                history.close()
        if name == "quality":
            bands = tuple(options.get("bands") or DEFAULT_BANDS)
            target = options.get("target") or funnel.won or funnel.sql
            # In DuckDB on SQLite only: PostgreSQL aggregates the year's score history itself in half
            # the CPU it takes to COPY it out and parse it (9.7 against 19.3 s at 1M leads).
            if target not in funnel.stages or conn.dialect.name != "sqlite":
                return quality_report(conn, model, funnel, f, meta, target, bands)
            history = quality_history(service.store, conn, model, funnel, f, target)
            try:
                return quality_report(conn, model, funnel, f, meta, target, bands, history=history)
            finally:
                history.close()
        if name == "feedback":
            return feedback_report(conn, model, funnel, f, meta, options.get("channel") or "source")
        return triggers_report(conn, f, meta)
