"""Prometheus metrics: requests and latencies by route, events ingested, scoring time, outbox depth.

Each app has its own registry (several apps in one process, as in tests, do not collide). With
several uvicorn workers each worker counts its own requests; the outbox depth is read from the
store at every scrape, so it is the same everywhere.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "leadscore_http_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "leadscore_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.events = Counter("leadscore_events_ingested", "events stored (new)", ["source"], registry=self.registry)
        self.scoring = Histogram(
            "leadscore_ingest_seconds",
            "time to store and rescore one ingest batch",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        # `labels()` looks its child up under a lock and checks its arguments at every call
        self._ingested: dict[str, Any] = {}

    def ingested(self, source: str, count: int) -> None:
        """`events.labels(source).inc(count)`, the child kept."""
        child = self._ingested.get(source)
        if child is None:
            child = self._ingested[source] = self.events.labels(source)
        child.inc(count)


class OutboxDepth(Collector):
    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from leadscore.store.tables import outbox

        gauge = GaugeMetricFamily("leadscore_outbox_messages", "trigger messages by status", labels=["status"])
        service = self.app.state.service
        if service is not None:
            try:
                with service.store.read() as conn:
                    rows = conn.execute(sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)).all()
            except sa.exc.SQLAlchemyError:
                rows = []
            for status, n in rows:
                gauge.add_metric([status], n)
        yield gauge
        yield from self._backlog(service)
        waits = getattr(self.app.state, "waits", None)
        waiting = GaugeMetricFamily("leadscore_lead_waits", "clients waiting for a lead's result to be current")
        waiting.add_metric([], waits.waiting if waits is not None else 0)
        yield waiting
        yield from self._lag()

    def _lag(self) -> Iterator[GaugeMetricFamily]:
        """The back-pressure by age (leadscore.app.score_lag), as this server process sees it."""
        lag = getattr(self.app.state, "score_lag", None)
        age = GaugeMetricFamily(
            "leadscore_intake_score_lag_seconds", "age of the oldest acknowledged real-time commit not yet scored"
        )
        paused = GaugeMetricFamily(
            "leadscore_intake_yielded_seconds", "time the group commit paused for the rescoring since the start"
        )
        age.add_metric([], lag.age() if lag is not None else 0.0)
        paused.add_metric([], lag.paused_s if lag is not None else 0.0)
        yield age
        yield paused

    def _backlog(self, service: Any) -> Iterator[GaugeMetricFamily]:
        """Leads whose acknowledged events wait for rescoring, and how long the oldest has waited."""
        leads = GaugeMetricFamily("leadscore_rescore_pending_leads", "leads waiting for rescoring")
        age = GaugeMetricFamily("leadscore_rescore_oldest_seconds", "how long the longest-waiting lead has waited")
        if service is not None:
            try:
                backlog = service.backlog()
            except sa.exc.SQLAlchemyError:
                backlog = None
            if backlog is not None:
                leads.add_metric([], backlog.leads)
                waited = 0.0 if backlog.oldest_us is None else max(0.0, service.now_us() - backlog.oldest_us) / 1e6
                age.add_metric([], waited)
        yield leads
        yield age


class Measure:
    """Requests and latencies by route template (a pure ASGI middleware: no per-request task)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route: Any = scope.get("route")
            name = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], name, str(status)).inc()
            self.metrics.latency.labels(scope["method"], name).observe(time.perf_counter() - start)


def install(app: FastAPI) -> None:
    metrics = Metrics()
    metrics.registry.register(OutboxDepth(app))
    app.state.metrics = metrics
    app.add_middleware(Measure, metrics=metrics)


def exposition(app: FastAPI) -> Response:
    metrics: Metrics = app.state.metrics
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
