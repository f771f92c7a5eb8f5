"""Trigger messages through the service: the outbox, the webhook destinations, delivery and redelivery."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from leadscore.app.errors import NotFound
from leadscore.store.base import LeadStore
from leadscore.store.outbox_repo import SqlOutboxRepository


class Triggers:
    """Mixed into `LeadService`, which provides the store, the clock and the destinations."""

    store: LeadStore
    clock: Callable[[], datetime]
    _destinations: Callable[[], dict[str, Any]]

    def now(self, at: datetime | None = None) -> datetime:
        raise NotImplementedError

    # -- triggers -----------------------------------------------------------------------------------
    def outbox(self) -> SqlOutboxRepository:
        return SqlOutboxRepository(self.store)

    def destinations(self) -> dict[str, Any]:
        return self._destinations()

    def deliver_webhooks(
        self, limit: int = 100, client: Any = None, concurrency: int | None = None, at: datetime | None = None
    ) -> Any:
        """One delivery attempt for each due outbox message (signed, retried with backoff, dead-lettered).

        Messages are claimed first, so runs that overlap never send the same message; up to
        `concurrency` requests are in flight at once (default: the dispatcher's)."""
        import httpx

        from leadscore.webhooks import WebhookDispatcher

        own = client is None
        http = client or httpx.Client()
        clock = (lambda: at) if at is not None else self.clock
        try:
            from leadscore.webhooks.dispatcher import DEFAULT_CONCURRENCY

            dispatcher = WebhookDispatcher(
                self._destinations(),
                self.outbox(),
                http,
                clock=clock,
                concurrency=concurrency if concurrency is not None else DEFAULT_CONCURRENCY,
            )
            return dispatcher.deliver_due(clock(), limit=limit)
        finally:
            if own:
                http.close()

    def redeliver(
        self, ids: Sequence[str] | None = None, destination: str | None = None, at: datetime | None = None
    ) -> int:
        """Put dead-lettered messages back in the queue, with a fresh attempt budget.

        Every id named must be a stored message: an unknown one is an error, nothing is requeued."""
        if ids:
            known = {m["id"] for m in self.outbox().find(ids)}
            unknown = [i for i in dict.fromkeys(ids) if i not in known]
            if unknown:
                raise NotFound(f"no trigger message {', '.join(repr(i) for i in unknown)}", field="ids")
        return self.outbox().requeue_dead(self.now(at), ids=ids, destination=destination)
