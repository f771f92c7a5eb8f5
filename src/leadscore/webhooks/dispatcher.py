"""Delivery of due outbox messages as signed webhooks, with retries scheduled, never slept on.

`deliver_due` makes one attempt per due message and records what to do next: delivered (2xx),
try again later (5xx, 408, 409, 425, 429, 3xx, timeouts, connection errors; `Retry-After` is
honoured), or dead-letter (other 4xx at once, anything after `max_attempts`). Run it from a loop,
a scheduler or a CLI command; it returns at once when nothing is due.

Runs may overlap (a cron run that outlasts its interval, several workers): each run first claims
its messages with a lease (`OutboxRepository.claim_due`), so a message is sent by one run only. The
lease is long enough for the whole batch to time out; if the run dies before recording an outcome,
the message is due again when the lease ends. Within a run, up to `concurrency` requests are in
flight at once (one slow receiver no longer holds up every other message), but the messages of one
lead to one destination go one after the other, in order; outcomes are recorded as each request ends.
"""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from leadscore import __version__
from leadscore.domain.timeutil import utc_now
from leadscore.webhooks.backoff import backoff_delay, parse_retry_after
from leadscore.webhooks.destination import Destination
from leadscore.webhooks.outbox import AttemptOutcome, DeliveryAttempt, OutboxMessage, OutboxRepository
from leadscore.webhooks.signing import signature_headers

RETRYABLE_4XX = frozenset({408, 409, 425, 429})
ERROR_TEXT_LIMIT = 300
MAX_RETRY_AFTER_S = 7 * 86_400.0  # a receiver's Retry-After is honoured up to a week, not for years
DEFAULT_CONCURRENCY = 8
LEASE_MARGIN_S = 60.0  # beyond the worst case of the batch's timeouts: recording, a slow database


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one `deliver_due` run did, attempt by attempt."""

    attempts: tuple[DeliveryAttempt, ...] = ()

    def _count(self, outcome: AttemptOutcome) -> int:
        return sum(1 for a in self.attempts if a.outcome == outcome)

    @property
    def delivered(self) -> int:
        return self._count("delivered")

    @property
    def retried(self) -> int:
        return self._count("retry")

    @property
    def dead_lettered(self) -> int:
        return self._count("dead")


@dataclass(frozen=True, slots=True)
class _Verdict:
    outcome: AttemptOutcome
    status_code: int | None
    error: str | None
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class _Sent:
    """An attempt made and not yet recorded."""

    verdict: _Verdict
    destination: Destination | None
    at: datetime
    duration_ms: float


class WebhookDispatcher:
    """Sends due messages to their destinations through one `httpx.Client`.

    `clock` gives the attempt time written in `webhook-timestamp` (receivers check it against
    their own clock); `deliver_due(now)` takes the time that decides what is due and from which
    retries are scheduled, so tests and back-fills can move it freely.
    """

    def __init__(
        self,
        destinations: Mapping[str, Destination] | Iterable[Destination],
        repository: OutboxRepository,
        client: httpx.Client,
        *,
        clock: Callable[[], datetime] = utc_now,
        batch_size: int = 100,
        concurrency: int = DEFAULT_CONCURRENCY,
        user_agent: str = f"leadscore-webhooks/{__version__}",
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if isinstance(destinations, Mapping):
            self.destinations = dict(destinations)
        else:
            self.destinations = {d.name: d for d in destinations}
        self.repository = repository
        self.client = client
        self.clock = clock
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.user_agent = user_agent

    def lease_s(self, count: int) -> float:
        """How long a run holds `count` messages: each one timing out after the other (the worst case,
        when they all go to one lead, whose messages are sent in order)."""
        slowest = max((d.timeout_s for d in self.destinations.values()), default=0.0)
        return count * slowest + LEASE_MARGIN_S

    def deliver_due(self, now: datetime | None = None, *, limit: int | None = None) -> DeliveryReport:
        """One attempt for each message due at `now` (default: the clock) that no other run holds,
        up to `limit`; attempts are in the report in the order the messages were due.

        Messages to one destination about one lead are sent one after the other, in the order they
        were due (a receiver sees `mql` before `sql`); the others go out concurrently.
        """
        at = now if now is not None else self.clock()
        count = limit if limit is not None else self.batch_size
        lease_until = at + timedelta(seconds=self.lease_s(count))
        due = self.repository.claim_due(at, count, uuid.uuid4().hex, lease_until)
        if self.concurrency == 1 or len(due) <= 1:
            return DeliveryReport(tuple(self.deliver(m, at) for m in due))
        chains: dict[tuple[str, str | int], list[int]] = {}
        for i, m in enumerate(due):  # a message that names no lead is a chain of its own
            chains.setdefault((m.destination, m.lead_id if m.lead_id is not None else i), []).append(i)
        sent: queue.SimpleQueue[tuple[int, _Sent | BaseException]] = queue.SimpleQueue()

        def send_chain(indices: list[int]) -> None:
            for i in indices:
                try:
                    sent.put((i, self._send(due[i], at)))
                except BaseException as exc:  # handed to the calling thread, which raises it
                    sent.put((i, exc))
                    return

        done: dict[int, DeliveryAttempt] = {}
        workers = min(self.concurrency, len(chains))
        with ThreadPoolExecutor(workers, thread_name_prefix="leadscore-webhook") as pool:
            for chain in chains.values():
                pool.submit(send_chain, chain)
            while len(done) < len(due):
                i, outcome = sent.get()
                if isinstance(outcome, BaseException):
                    raise outcome
                # recorded here, one at a time, as each request ends: no two threads write at once
                done[i] = self._record(due[i], at, outcome)
        return DeliveryReport(tuple(done[i] for i in range(len(due))))

    def deliver(self, message: OutboxMessage, now: datetime) -> DeliveryAttempt:
        """Attempt one message now and record the attempt and its consequence."""
        return self._record(message, now, self._send(message, now))

    def _send(self, message: OutboxMessage, now: datetime) -> _Sent:
        dest = self.destinations.get(message.destination)
        started = time.perf_counter()
        if dest is None:
            verdict = _Verdict("dead", None, f"destination {message.destination!r} is not configured in the workspace")
            sent_at = now
        else:
            sent_at = self.clock()
            verdict = self._attempt(dest, message, sent_at, now)
        return _Sent(verdict, dest, sent_at, (time.perf_counter() - started) * 1000.0)

    def _record(self, message: OutboxMessage, now: datetime, sent: _Sent) -> DeliveryAttempt:
        number = message.attempts + 1
        verdict, dest, sent_at, duration_ms = sent.verdict, sent.destination, sent.at, sent.duration_ms
        next_at: datetime | None = None
        outcome, error = verdict.outcome, verdict.error
        if outcome == "retry" and dest is not None:
            if number >= dest.max_attempts:
                outcome, error = "dead", f"gave up after {number} attempts: {error}"
            else:
                delay = backoff_delay(
                    number,
                    base=dest.backoff_base_s,
                    factor=dest.backoff_factor,
                    cap=dest.backoff_cap_s,
                    jitter=dest.jitter,
                    seed=message.id,
                )
                if verdict.retry_after is not None:
                    delay = max(delay, min(verdict.retry_after, MAX_RETRY_AFTER_S))
                next_at = now + timedelta(seconds=delay)

        attempt = DeliveryAttempt(
            message_id=message.id,
            destination=message.destination,
            number=number,
            at=sent_at,
            outcome=outcome,
            status_code=verdict.status_code,
            error=error,
            duration_ms=duration_ms,
            next_attempt_at=next_at,
        )
        self.repository.record_attempt(attempt)
        if outcome == "delivered":
            self.repository.mark_delivered(message.id, sent_at)
        elif outcome == "retry":
            assert next_at is not None
            self.repository.schedule_retry(message.id, next_at, error)
        else:
            self.repository.dead_letter(message.id, sent_at, error or "dead-lettered")
        return attempt

    def _attempt(self, dest: Destination, message: OutboxMessage, sent_at: datetime, now: datetime) -> _Verdict:
        try:
            body = message.body()
        except (TypeError, ValueError) as exc:  # retrying cannot fix the payload
            return _Verdict("dead", None, f"payload is not JSON: {exc}"[:ERROR_TEXT_LIMIT])
        headers = signature_headers(dest.signing_secrets(), message.id, int(sent_at.timestamp()), body)
        headers["content-type"] = "application/json"
        headers["user-agent"] = self.user_agent
        try:
            response = self.client.post(dest.url, content=body, headers=headers, timeout=dest.timeout_s)
        except httpx.TimeoutException as exc:
            return _Verdict("retry", None, f"timed out after {dest.timeout_s:g} s ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            return _Verdict("retry", None, f"request failed: {type(exc).__name__}: {exc}"[:ERROR_TEXT_LIMIT])
        return _classify(response, now)


def _classify(response: httpx.Response, now: datetime) -> _Verdict:
    code = response.status_code
    if 200 <= code < 300:
        return _Verdict("delivered", code, None)
    error = f"HTTP {code}"
    text = response.text.strip()
    if text:
        error = f"{error}: {text}"[:ERROR_TEXT_LIMIT]
    if 400 <= code < 500 and code not in RETRYABLE_4XX:
        return _Verdict("dead", code, f"permanent failure, {error}")
    return _Verdict("retry", code, error, parse_retry_after(response.headers.get("retry-after"), now))
