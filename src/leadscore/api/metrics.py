"""Prometheus metrics: requests and latencies by route, events ingested, scoring time, outbox depth.

Each app has its own registry (several apps in one process, as in tests, do not collide). With
several uvicorn workers each worker counts its own requests; the outbox depth is read from the
store at every scrape, so it is the same everywhere.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


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


def install(app: FastAPI) -> None:
    metrics = Metrics()
    metrics.registry.register(OutboxDepth(app))
    app.state.metrics = metrics

    @app.middleware("http")
    async def measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route: Any = request.scope.get("route")
        name = getattr(route, "path", None) or "unmatched"
        metrics.requests.labels(request.method, name, str(response.status_code)).inc()
        metrics.latency.labels(request.method, name).observe(time.perf_counter() - start)
        return response


def exposition(app: FastAPI) -> Response:
    metrics: Metrics = app.state.metrics
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
