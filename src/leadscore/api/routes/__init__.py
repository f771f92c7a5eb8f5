"""One module per resource; `ROUTERS` is what the app factory includes, in this order."""

from __future__ import annotations

from fastapi import APIRouter

from leadscore.api.routes import events, keys, leads, models, queue, segment, system, tracker, webhooks

ROUTERS: list[APIRouter] = [
    system.router,
    events.router,
    segment.router,
    tracker.router,
    leads.router,
    queue.router,
    models.router,
    webhooks.router,
    keys.router,
]
