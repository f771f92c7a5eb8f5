"""Trigger detection (MODEL-FORMAT.md, "Triggers"): which triggers a new result of a lead fires.

`detect_triggers` is pure: it compares the lead's previous stored result with its new one and
returns one `TriggerFiring` per transition. Delivery is someone else's job (the outbox and
`leadscore.webhooks`); what makes "exactly once" possible is the firing's `key`, derived only from
the transition itself, so that every engine and every retry that sees the same transition computes
the same key, and an outbox with a unique key absorbs the repeats.

How the key is made, per kind, and its limits:

- `stage_changed`: the trigger, the lead, the stage entered and which entry into that stage this is
  (the n-th change into it that the trigger watches, counted along `current.stage_history`), never
  the time the replay places the change at: events that arrive late move changes in time, and the
  same transition must keep its key. So, whatever order the events arrive in:
  - a late event that moves a reported change to another time sends nothing again (same n);
  - a late event that removes a reported change, and a later one that brings it back (at another
    time), sends nothing again: the first entry into `mql` is the first entry whenever it happens;
  - the n-th entry into a stage is sent once, the first time an evaluation shows n entries. If late
    events then remove entries (e.g. a late `sales_rejected` rewrites lead -> mql -> recycled -> mql
    into lead -> mql -> recycled), the message for the entry that no longer exists has been sent and
    is not recalled. This is the one case where the messages depend on the arrival order: a lead gets
    one message per n up to the largest number of entries any evaluation of its log has shown.
  The n-th entry is new when `previous` showed fewer than n (so, over any sequence of evaluations,
  the keys sent are exactly entries 1..max); a lead moving lead -> mql -> sql within one evaluation
  fires `to: mql` and `to: sql` once each. The payload describes the change as the evaluation that
  sent it saw it (its time, its previous stage, `entry`: n). Events at the same instant are replayed
  in the order they were stored, so for them the arrival order decides the path.
- `label_changed`: from the label set, the old and new label and the evaluation time of `previous`
  (the last result that still showed the old label). A retry reads the same previous result and
  gets the same key; a label that flips back and forth fires once per flip.
- `score_changed`: the condition "score at T minus score at T - within satisfies `by`" stays true
  for a while after a jump, so the key is the trigger plus the window-sized time bucket that holds T
  (buckets of `within` aligned to the Unix epoch, UTC). The trigger fires at most once per bucket;
  a jump still visible after a bucket boundary fires again in the next bucket, and a second jump
  within the same bucket does not fire.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple

from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.domain.result import Result, StageChange
from leadscore.domain.timeutil import to_iso, to_micros
from leadscore.engine.compile import Context, compile_condition
from leadscore.engine.scorer import scorer_for
from leadscore.engine.timeline import Timeline
from leadscore.engine.values import Test, compile_predicate
from leadscore.model.predicates import Predicate
from leadscore.model.spec import ScoringModel, Trigger

TriggerKind = Literal["stage_changed", "label_changed", "score_changed"]
Value = str | float | None

KEY_PREFIX = "trg_"


@dataclass(frozen=True, slots=True)
class TriggerFiring:
    """One trigger fired by one transition of one lead.

    `key` doubles as the webhook message id (Standard Webhooks `webhook-id`), so receivers can
    deduplicate; it contains no `.`, as the signing scheme requires. `destination` is the name from
    the model (None when the trigger names none); its URL and secret live in the workspace.
    """

    trigger_id: str
    lead_id: str
    destination: str | None
    at: datetime
    kind: TriggerKind
    from_value: Value
    to_value: Value
    payload: dict[str, Any]
    key: str


class Fired(NamedTuple):
    """One transition a trigger fires on, without its payload (`detect_transitions`): `firing` makes
    the `TriggerFiring` of it, `payload` its payload around any form of the lead's result (a dict,
    or None where a caller splices the result's JSON text in, `history_json.payload_texts`)."""

    trigger: Trigger
    kind: TriggerKind
    at: datetime
    old: Value
    new: Value
    key: str
    details: dict[str, Any]


def _key_text() -> Callable[[list[object]], str]:
    """`json.dumps(value, separators=(",", ":"), ensure_ascii=True)` with its encoder made once: the
    same text (a key's parts are plain values, no cycle to check). Made per call, the encoder was
    over half of a key's cost (0.28 against 0.11 CPU s for a bulk apply's 70,700 firings)."""
    make = getattr(json.encoder, "c_make_encoder", None)  # CPython's C encoder; None where it is missing
    if make is None:
        return lambda value: json.dumps(value, separators=(",", ":"), ensure_ascii=True)
    # (markers, default, text encoder, indent, key and item separators, sort_keys, skipkeys, allow_nan)
    ascii_text = json.encoder.encode_basestring_ascii
    encode = make(None, json.JSONEncoder().default, ascii_text, None, ":", ",", False, False, True)
    return lambda value: "".join(encode(value, 0))


_KEY_TEXT = _key_text()


def idempotency_key(*parts: object) -> str:
    """A short, stable id for a transition: the same parts give the same key on every machine."""
    # a time as its microseconds (inline: a function call per part was a fifth of a key's cost)
    return _key([to_micros(p) if isinstance(p, datetime) else p for p in parts])


def _key(parts: list[object]) -> str:
    """`idempotency_key` of parts that hold no datetime (the detection's own, times in microseconds)."""
    return KEY_PREFIX + hashlib.sha256(_KEY_TEXT(parts).encode("utf-8")).hexdigest()[:32]


def detect_triggers(
    model: ScoringModel,
    previous: Result | None,
    current: Result,
    *,
    score_before_window: Callable[[Trigger], float] | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> list[TriggerFiring]:
    """The firings of `model.triggers` for the move of one lead from `previous` to `current`: those of
    `detect_transitions`, each with its payload (`firing`)."""
    found = detect_transitions(model, previous, current, score_before_window=score_before_window, attributes=attributes)
    return [firing(f, current) for f in found]


def detect_transitions(
    model: ScoringModel,
    previous: Result | None,
    current: Result,
    *,
    score_before_window: Callable[[Trigger], float] | None = None,
    attributes: Mapping[str, Any] | None = None,
    scores_quiet: bool = False,
) -> list[Fired]:
    """The transitions of `model.triggers` for the move of one lead from `previous` to `current`.

    `previous` is the lead's last stored result (None for a new lead); it should carry its
    `stage_history`; without one, only changes after `previous.at` count as new.
    `score_before_window(trigger)` returns the lead's total score at `current.at - trigger.within`;
    it is required when the model has `score_changed` triggers (see `scores_before`).
    A trigger's optional `when:` is checked on `current` (its scores, labels and stage) and the
    lead's `attributes`; a transition whose trigger condition does not hold fires nothing.
    Firings come in time order, then in the model's trigger order.
    `scores_quiet`: the caller knows that no `score_changed` trigger holds for this lead (it tested
    them for many leads at once, `score_hits.quiet`): they are skipped, as is their window's score.
    """
    if previous is not None and previous.lead_id != current.lead_id:
        raise ValueError(f"previous result is for lead {previous.lead_id!r}, current for {current.lead_id!r}")
    score_triggers, watch_stages = _kinds(model.triggers)
    if scores_quiet:
        score_triggers = []
    if score_triggers and score_before_window is None:
        raise ValueError(
            "score_changed triggers need the score at the start of their window "
            f"(pass score_before_window): {', '.join(score_triggers)}"
        )
    if not score_triggers and _unmoved(previous, current):
        # labels and stages fire only on a change: with the same labels and the same replay (its
        # moves, so no entry is new and nothing needs reconciling) nothing fires. A rescoring drain
        # mostly finds a lead so, and this saves it the triggers' walk (about 10 µs a lead)
        return []
    reconciled = _reconciliation(previous, current) if watch_stages else None
    found: list[tuple[int, int, Fired]] = []
    for index, trigger in enumerate(model.triggers):
        if trigger.on == "stage_changed":
            firings = _stage_firings(model, trigger, previous, current, reconciled)
        elif trigger.on == "label_changed":
            firings = _label_firings(model, trigger, previous, current)
        elif scores_quiet:
            continue
        else:
            assert score_before_window is not None
            firings = _score_firings(model, trigger, current, score_before_window(trigger))
        if firings and trigger.when is not None and not _holds(trigger, current, attributes or {}):
            firings = []
        found.extend((to_micros(f.at), index, f) for f in firings)
    if len(found) < 2:  # (most leads fire once or not at all: nothing to order)
        return [f for _, _, f in found]
    found.sort(key=lambda item: (item[0], item[1]))
    return [f for _, _, f in found]


def _kinds(triggers: list[Trigger]) -> tuple[list[str], bool]:
    """The ids of the score_changed triggers, and whether any trigger is stage_changed (one pass)."""
    scores: list[str] = []
    stages = False
    for t in triggers:
        if t.on == "score_changed":
            scores.append(t.id)
        elif t.on == "stage_changed":
            stages = True
    return scores, stages


def _unmoved(previous: Result | None, current: Result) -> bool:
    """The same labels, stage and stage history (the replay's moves) in both results."""
    return (
        previous is not None
        and previous.stage == current.stage
        and previous.labels == current.labels
        and previous.stage_history == current.stage_history
    )


def _holds(trigger: Trigger, current: Result, attributes: Mapping[str, Any]) -> bool:
    assert trigger.when is not None
    scores = {**current.dimensions, "total": current.score}
    ctx = Context(to_micros(current.at), attributes, Timeline(()), scores, dict(current.labels), current.stage)
    return compile_condition(trigger.when)(ctx)


# -- stage_changed ------------------------------------------------------------------------------


def _moves(history: Iterable[StageChange]) -> list[StageChange]:
    return [c for c in history if c.previous is not None]


def _reconciliation(previous: Result | None, current: Result) -> StageChange | None:
    """A change from the previous stage to the current one when the replay does not explain it.

    When both results end in different stages and no change of `current` that `previous` had not
    seen leads to the new stage (e.g. the `stage` attribute was edited), one change from the old to
    the new stage is reported at the time of the last history entry. Not when late events removed a
    change the previous replay had: the stage going back is the replay correcting itself, not a
    transition of the lead.
    """
    if previous is None or previous.stage is None or current.stage is None or previous.stage == current.stage:
        return None
    moves = _moves(current.stage_history)
    if previous.stage_history:
        known = Counter((c.previous, c.stage) for c in _moves(previous.stage_history))
        now = Counter((c.previous, c.stage) for c in moves)
        if any(now[pair] < n for pair, n in known.items()):
            return None
        seen: Counter[tuple[str | None, str]] = Counter()
        for c in moves:
            seen[(c.previous, c.stage)] += 1
            if c.stage == current.stage and seen[(c.previous, c.stage)] > known[(c.previous, c.stage)]:
                return None
    elif any(c.stage == current.stage and c.at > previous.at for c in moves):
        return None
    last_at = current.stage_history[-1].at if current.stage_history else current.at
    return StageChange(current.stage, last_at, previous.stage, "reconciled")


def _entries(trigger: Trigger, changes: Iterable[StageChange]) -> Counter[str]:
    return Counter(c.stage for c in changes if _stage_matches(trigger, c))


def _stage_matches(trigger: Trigger, change: StageChange) -> bool:
    if trigger.to is not None and change.stage != trigger.to:
        return False
    return trigger.from_ is None or change.previous in trigger.from_


_NONE_KNOWN: Counter[str] = Counter()  # no previous result: read only, never counted into


def _stage_firings(
    model: ScoringModel, trigger: Trigger, previous: Result | None, current: Result, reconciled: StageChange | None
) -> list[Fired]:
    """One firing per entry into a stage that `previous` had not shown, numbered (see the docstring).

    The n-th entry into a stage is new when `previous` shows fewer than n such entries; a previous
    result without a history counts the changes after its time.
    """
    moves = _moves(current.stage_history) + ([reconciled] if reconciled is not None else [])
    known = _entries(trigger, _moves(previous.stage_history)) if previous is not None else _NONE_KNOWN
    entered: dict[str, int] = {}  # (a plain dict: a Counter per lead cost more than its counting)
    firings = []
    for change in moves:
        if not _stage_matches(trigger, change):
            continue
        n = entered[change.stage] = entered.get(change.stage, 0) + 1
        if previous is None or change is reconciled:
            new = True
        elif previous.stage_history:
            new = n > known[change.stage]
        else:
            new = change.at > previous.at
        if new:
            key = stage_entry_key(model, trigger, current.lead_id, change.stage, n)
            details = {"cause": change.cause, "event_id": change.event_id, "entry": n}
            firings.append(Fired(trigger, "stage_changed", change.at, change.previous, change.stage, key, details))
    return firings


def stage_entry_key(model: ScoringModel, trigger: Trigger, lead_id: str, stage: str, entry: int) -> str:
    """The key of the `entry`-th change into `stage` that `trigger` watches, for one lead (1 = first)."""
    return _key(["stage_changed", model.name, trigger.id, lead_id, stage, entry])


# -- label_changed ------------------------------------------------------------------------------


def _label_firings(model: ScoringModel, trigger: Trigger, previous: Result | None, current: Result) -> list[Fired]:
    """A label set's value changed (a first label of a new lead counts as a change from null).

    Without `to:`, every change fires, a change to null (no band matches any more) included.
    """
    assert trigger.set is not None
    old = previous.labels.get(trigger.set) if previous is not None else None
    new = current.labels.get(trigger.set)
    if new == old or (trigger.to is not None and new != trigger.to):
        return []
    since = previous.at if previous is not None else None
    micros = to_micros(since) if since is not None else None
    key = _key(["label_changed", model.name, trigger.id, current.lead_id, trigger.set, old, new, micros])
    details = {"set": trigger.set, "previous_at": to_iso(since) if since else None}
    return [Fired(trigger, "label_changed", current.at, old, new, key, details)]


# -- score_changed ------------------------------------------------------------------------------


def _score_firings(model: ScoringModel, trigger: Trigger, current: Result, before: float) -> list[Fired]:
    assert trigger.by is not None and trigger.within is not None
    delta = current.score - before
    if not _by(trigger)(delta):
        return []
    bucket = to_micros(current.at) // trigger.within.micros
    key = _key(["score_changed", model.name, trigger.id, current.lead_id, bucket])
    details = {"within": trigger.within.text, "delta": delta, "window_start": to_iso(window_start(trigger, current))}
    return [Fired(trigger, "score_changed", current.at, before, current.score, key, details)]


# `by:` predicates compiled, by the predicate object (kept, so its id is never reused meanwhile): a
# bulk rescore tests one trigger for every lead, and compiling it each time was 3/4 of that test
_BY: dict[int, tuple[Predicate, Test]] = {}


def _by(trigger: Trigger) -> Test:
    assert trigger.by is not None
    found = _BY.get(id(trigger.by))
    if found is None or found[0] is not trigger.by:
        if len(_BY) >= 256:  # models come and go in a long-running server: a bound, not an index
            _BY.clear()
        found = _BY[id(trigger.by)] = (trigger.by, compile_predicate(trigger.by))
    return found[1]


def window_start(trigger: Trigger, current: Result) -> datetime:
    """T - within for a score_changed trigger: where its score comparison starts."""
    assert trigger.within is not None
    return current.at - timedelta(seconds=int(trigger.within))


def scores_before(
    model: ScoringModel, lead: Lead, events: Iterable[Event], current: Result
) -> Callable[[Trigger], float]:
    """A `score_before_window` that rescores the lead with the pure scorer at T - within.

    Triggers with the same window share one evaluation.
    """
    scorer = scorer_for(model)
    own = [e for e in events if e.lead_id == lead.id]
    cache: dict[int, float] = {}

    def before(trigger: Trigger) -> float:
        start = window_start(trigger, current)
        key = to_micros(start)
        if key not in cache:
            cache[key] = scorer.score(lead, own, start).score
        return cache[key]

    return before


# -- the firing ---------------------------------------------------------------------------------


def firing(fired: Fired, current: Result, *, bare: bool = False) -> TriggerFiring:
    """The `TriggerFiring` of a transition of `current`'s lead, its payload around `current.to_dict()`;
    `bare`: with an empty payload (the outbox row's other columns, for a caller that encodes the payload
    itself, `lifecycle_history.finish`)."""
    trigger = fired.trigger
    return TriggerFiring(
        trigger_id=trigger.id,
        lead_id=current.lead_id,
        destination=trigger.destination,
        at=fired.at,
        kind=fired.kind,
        from_value=fired.old,
        to_value=fired.new,
        payload={} if bare else payload(fired, current.lead_id, current.to_dict()),
        key=fired.key,
    )


def payload(fired: Fired, lead_id: str, result: Any) -> dict[str, Any]:
    """A firing's payload, in the Standard Webhooks shape (`type`, `timestamp`, `data`), with `result`
    (the lead's result as `Result.to_dict` gives it) last in `data`, itself last."""
    when = to_iso(fired.at)
    kind = fired.kind
    change = {"kind": kind, "from": fired.old, "to": fired.new, "at": when, **fired.details}
    data = {
        "trigger": fired.trigger.id,
        "lead_id": lead_id,
        "destination": fired.trigger.destination,
        "change": change,
        "result": result,
    }
    return {"type": f"lead.{kind}", "timestamp": when, "data": data}
