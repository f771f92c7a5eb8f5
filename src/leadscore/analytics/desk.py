"""The facade the dashboard (and any other edge) calls for sales and marketing views: one object over a
`LeadService`, so routes hold no queries and no business logic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from leadscore.analytics import actions
from leadscore.analytics.common import AnalyticsError, ReportFilter
from leadscore.analytics.models_view import DiffLine, ModelView, diff_sources, model_view
from leadscore.analytics.queue import QueueFilter, QueuePage, queue_page
from leadscore.analytics.reports import Report, run_report
from leadscore.analytics.story import Story, lead_story
from leadscore.app.errors import NotFound
from leadscore.domain import Result

if TYPE_CHECKING:
    from leadscore.app.maintenance import Plan
    from leadscore.app.service import LeadService


@dataclass(frozen=True)
class Version:
    version: str
    name: str
    applied_at: int
    active: bool


class Desk:
    def __init__(self, service: LeadService) -> None:
        self.service = service

    def queue(self, f: QueueFilter, limit: int = 50, cursor: str | None = None) -> QueuePage:
        with self.service.store.read() as conn:
            return queue_page(conn, f, self.service.now_us(), limit, cursor)

    def story(self, lead_id: str) -> Story:
        service = self.service
        scorer = service.evaluator.scorer
        with service.store.read() as conn:
            found = lead_story(conn, service.model, scorer, lead_id, service.now_us())
        if found is None:
            raise NotFound(f"no lead {lead_id!r}", field="lead_id")
        return found

    def act(self, lead_id: str, action: str, reason: str = "", by: str | None = None) -> Result:
        return actions.perform(self.service, lead_id, action, reason, by)

    def report(self, name: str, f: ReportFilter, **options: Any) -> Report:
        return run_report(self.service, name, f, **options)

    def model(self) -> ModelView:
        return model_view(self.service.model)

    def versions(self) -> list[Version]:
        return [Version(m.version, m.name, m.applied_at, m.active) for m in self.service.models()]

    def diff(self, old: str, new: str) -> list[DiffLine]:
        by_version = {m.version: m for m in self.service.models()}
        for v in (old, new):
            if v not in by_version:
                raise AnalyticsError(f"no model version {v!r} in the store")
        a, b = by_version[old], by_version[new]
        return diff_sources(a.source, b.source, f"{a.name}@{a.version}", f"{b.name}@{b.version}")

    def plan(self, text: str, top: int = 10) -> Plan:
        from leadscore.model import parse_model

        model = parse_model(text, source="candidate model")
        return self.service.plan_parsed(model, self.service.model_path, top)
