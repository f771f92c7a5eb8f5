"""Segment Spec calls (as Segment, RudderStack and Jitsu send them) mapped to leadscore events and leads.

- `userId` is the lead; `anonymousId` alone is an anonymous visitor, kept as lead `anon:<id>` so it
  can never collide with a real user id. An `identify` carrying both links the visitor to the lead
  (the store moves the visitor's history onto the lead, once; later events follow).
- `identify` traits become lead attributes; `group` sets the lead's `account` to `groupId` and its
  traits as `account_<trait>` attributes.
- `track` becomes an event whose type is the event name in snake case (`Demo Requested` ->
  `demo_requested`, the name kept in `event`); `page` is `page_view`, `screen` is `screen_view`.
- `properties` and `context` (page path, url, title, referrer, search; UTM campaign; channel) become
  event properties. The client's IP address and user agent are not stored.
- `alias` (`previousId` -> `userId`) merges the previous identity into the user through the store's
  identity merge: the anonymous visitor `anon:<previousId>` always; the known lead `previousId` too
  when the key may write (a public intake key may not merge known leads: Segment's `previousId` can
  be either, and merging someone else's lead is not a browser's call). Later calls under
  `previousId` land on the user.
- An `identify` from a tracking URL (the tracker's `?ls_id=`, `context.leadscore.source == "url"`)
  only links the visitor to a lead that exists: it carries no traits, names no new lead, and the
  server can turn it off (`LEADSCORE_API_URL_IDENTIFY=false`).
- `messageId` is the event id, so a source retrying a call changes nothing.
- Time: a message that a platform already received (`receivedAt` present) has its `timestamp`
  corrected and is taken as is. A message straight from a client library is corrected for the
  device's clock as the Spec describes: `timestamp = receivedAt - (sentAt - originalTimestamp)`,
  with our own clock as `receivedAt`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from leadscore.api.problems import validation_errors
from leadscore.api.schemas import no_nul, shallow
from leadscore.domain import Event, Lead
from leadscore.domain.timeutil import parse_timestamp
from leadscore.io.limits import MAX_ID_CHARS
from leadscore.store.identity import ANONYMOUS_ID, IDENTIFY

ANON_PREFIX = "anon:"
CallType = Literal["identify", "track", "page", "screen", "group", "alias"]
URL_SOURCE = "url"  # context.leadscore.source of an identify the tracker made from a tracking URL
Text = Annotated[str, StringConstraints(min_length=1, max_length=255), AfterValidator(no_nul)]
# an anonymous visitor is lead `anon:<id>`: its id leaves room for the prefix within a lead id's length
AnonId = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS - len(ANON_PREFIX)), AfterValidator(no_nul)
]
Stamp = Annotated[str, StringConstraints(min_length=4, max_length=64)]
_CAMPAIGN = {
    "name": "utm_campaign",
    "source": "utm_source",
    "medium": "utm_medium",
    "term": "utm_term",
    "content": "utm_content",
}
_PAGE = ("path", "url", "title", "referrer", "search")


class Call(BaseModel):
    """One Segment Spec call. Fields leadscore does not use (integrations, version...) are ignored;
    the ones it uses are checked strictly."""

    model_config = ConfigDict(extra="ignore", strict=True)

    type: CallType
    userId: Text | None = None
    anonymousId: AnonId | None = None
    messageId: Text | None = None
    event: Text | None = None
    name: Annotated[str, StringConstraints(max_length=255), AfterValidator(no_nul)] | None = None
    category: Annotated[str, StringConstraints(max_length=255), AfterValidator(no_nul)] | None = None
    groupId: Text | None = None
    previousId: AnonId | None = None
    traits: Annotated[dict[str, Any], AfterValidator(shallow)] = Field(default_factory=dict, max_length=500)
    properties: Annotated[dict[str, Any], AfterValidator(shallow)] = Field(default_factory=dict, max_length=500)
    context: Annotated[dict[str, Any], AfterValidator(shallow)] = Field(default_factory=dict)
    channel: Annotated[str, StringConstraints(max_length=64), AfterValidator(no_nul)] | None = None
    timestamp: Stamp | None = None
    originalTimestamp: Stamp | None = None
    sentAt: Stamp | None = None
    receivedAt: Stamp | None = None


class Batch(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    batch: list[dict[str, Any]] = Field(min_length=1)
    context: dict[str, Any] = Field(default_factory=dict)
    sentAt: Stamp | None = None


@dataclass(frozen=True)
class Policy:
    """What the caller may do beyond plain intake."""

    merge_known: bool = False  # an alias may merge a known lead (keys with the write scope)
    url_identify: bool = True  # an identify from a tracking URL is accepted (server setting)
    known: Callable[[str], bool] = lambda lead_id: False  # whether a lead (or an alias of one) exists


@dataclass
class Mapped:
    events: list[Event] = field(default_factory=list)
    leads: list[Lead] = field(default_factory=list)
    indexes: list[int] = field(default_factory=list)  # each event's position in the request


class CallError(ValueError):
    def __init__(self, loc: list[str | int], msg: str) -> None:
        super().__init__(msg)
        self.loc = loc
        self.msg = msg


def snake(name: str) -> str:
    out = re.sub(r"[^A-Za-z0-9]+", "_", name.strip()).strip("_").lower()
    return out or "event"


def anonymous(anon_id: str) -> str:
    return ANON_PREFIX + anon_id


def _time(call: Call, now: datetime) -> datetime:
    def parsed(value: str | None, name: str) -> datetime | None:
        if value is None:
            return None
        try:
            return parse_timestamp(value)
        except (ValueError, TypeError, OverflowError) as exc:
            raise CallError([name], f"not an ISO 8601 timestamp: {exc}") from None

    timestamp = parsed(call.timestamp, "timestamp")
    original = parsed(call.originalTimestamp, "originalTimestamp")
    sent = parsed(call.sentAt, "sentAt")
    received = parsed(call.receivedAt, "receivedAt")
    if received is not None:  # a platform already corrected it
        return timestamp or original or received
    device = original or timestamp
    if device is None:
        return now
    if sent is not None:
        return now - (sent - device)
    return device


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    return {str(k)[:255]: v for k, v in values.items() if v is not None}


def _context_properties(call: Call) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ctx = call.context
    page = ctx.get("page")
    if isinstance(page, dict):
        out.update({k: page[k] for k in _PAGE if isinstance(page.get(k), str) and page[k]})
    campaign = ctx.get("campaign")
    if isinstance(campaign, dict):
        out.update({_CAMPAIGN[k]: v for k, v in campaign.items() if k in _CAMPAIGN and isinstance(v, str)})
    referrer = ctx.get("referrer")
    if isinstance(referrer, dict) and isinstance(referrer.get("url"), str):
        out.setdefault("referrer", referrer["url"])
    channel = call.channel or ctx.get("channel")
    if isinstance(channel, str) and channel:
        out["channel"] = channel
    return out


def _from_url(call: Call) -> bool:
    mark = call.context.get("leadscore")
    return isinstance(mark, dict) and mark.get("source") == URL_SOURCE


def _check_url_identify(call: Call, policy: Policy) -> None:
    if not policy.url_identify:
        raise CallError(["context", "leadscore"], "identify from a tracking URL is turned off on this server")
    if call.userId is None or call.anonymousId is None:
        raise CallError(["userId"], "an identify from a tracking URL needs the userId and the anonymousId")
    if call.traits:
        raise CallError(["traits"], "an identify from a tracking URL carries no traits (it only links the visitor)")
    if call.userId.startswith(ANON_PREFIX) or not policy.known(call.userId):
        raise CallError(["userId"], f"no lead {call.userId!r}: a tracking URL only identifies a lead that exists")


def _alias(call: Call, when: datetime, context: dict[str, Any], policy: Policy) -> list[Event]:
    """`previousId` merged into `userId`: identify events, which the store's identity merge applies."""
    previous = call.previousId if call.previousId is not None else call.anonymousId
    if call.userId is None:
        raise CallError(["userId"], "an alias call needs the userId that the previous id becomes")
    if previous is None:
        raise CallError(["previousId"], "an alias call needs a previousId (or an anonymousId)")
    where: list[str | int] = ["previousId" if call.previousId is not None else "anonymousId"]
    if not policy.merge_known and previous != call.userId and policy.known(previous):
        raise CallError(where, f"{previous!r} is a known lead: merging it needs a key with the write scope")
    props = {**context, "previous_id": previous}
    out = [Event(call.userId, IDENTIFY, when, {**props, ANONYMOUS_ID: anonymous(previous)}, call.messageId)]
    if policy.merge_known and previous != call.userId:
        second = None if call.messageId is None else f"{call.messageId[:240]}:previous"
        out.append(Event(call.userId, IDENTIFY, when, {**props, ANONYMOUS_ID: previous}, second))
    return out


def map_call(call: Call, now: datetime, policy: Policy | None = None) -> tuple[list[Event], list[Lead]]:
    """The events and lead updates one call stands for."""
    policy = policy or Policy()
    if call.type == "alias":
        return _alias(call, _time(call, now), _context_properties(call), policy), []
    if call.userId is None and call.anonymousId is None:
        raise CallError(["userId"], "a call needs a userId or an anonymousId")
    lead_id = call.userId if call.userId is not None else anonymous(call.anonymousId or "")
    when = _time(call, now)
    context = _context_properties(call)
    events: list[Event] = []
    leads: list[Lead] = []
    if call.type == "identify":
        if _from_url(call):
            _check_url_identify(call, policy)
        if call.userId is not None and call.anonymousId is not None:
            events.append(
                Event(lead_id, IDENTIFY, when, {**context, ANONYMOUS_ID: anonymous(call.anonymousId)}, call.messageId)
            )
        if call.traits:
            leads.append(Lead(lead_id, _clean(call.traits)))
    elif call.type == "group":
        if call.groupId is None:
            raise CallError(["groupId"], "a group call needs a groupId")
        attrs = {"account": call.groupId, **{f"account_{k}": v for k, v in _clean(call.traits).items()}}
        leads.append(Lead(lead_id, attrs))
    elif call.type == "track":
        if call.event is None:
            raise CallError(["event"], "a track call needs an event name")
        props = {**context, **_clean(call.properties), "event": call.event}
        events.append(Event(lead_id, snake(call.event), when, props, call.messageId))
    else:  # page, screen
        props = {**context, **_clean(call.properties)}
        if call.name:
            props[f"{call.type}_name"] = call.name
        if call.category:
            props["category"] = call.category
        events.append(Event(lead_id, f"{call.type}_view", when, props, call.messageId))
    return events, leads


def map_calls(
    raw: list[Any],
    now: datetime,
    *,
    base: list[str | int],
    context: dict[str, Any] | None = None,
    sent_at: str | None = None,
    forced: str | None = None,
    policy: Policy | None = None,
) -> tuple[Mapped, list[tuple[int, list[str | int], str]]]:
    """Every call of a request mapped, and the problems of the ones that cannot be (index, loc, msg)."""
    mapped = Mapped()
    problems: list[tuple[int, list[str | int], str]] = []
    for i, item in enumerate(raw):
        where: list[str | int] = [*base, i] if len(raw) > 1 or base[-1] == "batch" else list(base)
        if not isinstance(item, dict):
            problems.append((i, where, "expected an object"))
            continue
        data = dict(item)
        if forced is not None:
            data.setdefault("type", forced)
            if data["type"] != forced:
                problems.append((i, [*where, "type"], f"this endpoint takes {forced} calls"))
                continue
        if context:
            data["context"] = {**context, **(data.get("context") or {})}
        if sent_at is not None:
            data.setdefault("sentAt", sent_at)
        try:
            call = Call.model_validate(data)
            events, leads = map_call(call, now, policy)
        except ValidationError as exc:
            err = validation_errors(exc.errors())[0]
            problems.append((i, [*where, *err["loc"]], err["msg"]))
            continue
        except CallError as exc:
            problems.append((i, [*where, *exc.loc], exc.msg))
            continue
        mapped.events.extend(events)
        mapped.indexes.extend([i] * len(events))
        mapped.leads.extend(leads)
    return mapped, problems
