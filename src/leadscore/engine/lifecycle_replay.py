"""The lifecycle stage of a lead, derived by replaying its events in time order (MODEL-FORMAT.md).

After each event: the event's own transition (first in the list whose `from:` allows it; may move
back or out of an exit), then automatic transitions with the score at that event's time until none
applies. After the last event, automatic transitions run once more at T.

`replay` is that definition, step by step: it evaluates the automatic transitions at every event,
each time with the whole score (quadratic in a lead's events with decay). `replay_spans` gives the
same stages and history in one pass: while the lead is in a stage, it proves with span bounds
(`engine.spans`) for how many of the next events none of that stage's transitions can fire, by
galloping over the event times, skips them, and evaluates exactly (three-valued first, the full
score only when the bounds cannot decide) at the events that are left. `replay` stays as the
oracle the tests compare it with.

Events that share an instant are cheap: the automatic pass at an event's time reads the timeline up
to that time and the stage only, so the bounds' verdict is kept per (stage, span) and, once the pass
at a time has found nothing to do from a stage, the next events of that instant that leave the stage
as it is are not evaluated again (a bulk load's events often all carry one timestamp).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from leadscore.domain.result import StageChange
from leadscore.domain.timeutil import from_micros, to_micros
from leadscore.engine.compile import Check, Context, compile_condition
from leadscore.engine.errors import ScoringDataError
from leadscore.engine.span_conditions import Node
from leadscore.engine.spans import SpanModel
from leadscore.engine.timeline import Timeline
from leadscore.model.checks import auto_sources
from leadscore.model.spec import Lifecycle

STAGE_SET = "stage_set"


@dataclass(frozen=True, slots=True)
class _EventTransition:
    to: str
    sources: frozenset[str] | None
    types: frozenset[str]


@dataclass(frozen=True, slots=True)
class _AutoTransition:
    to: str
    sources: frozenset[str]
    check: Check
    span: Node | None = None  # the condition, three-valued over a span of time (`engine.span_conditions`)


@dataclass(frozen=True, slots=True)
class ReplayStart:
    """The replay's state after its first `index` events: where a later replay of the same timeline
    with more events appended after those (strictly later in time) can resume (`replay_spans(start=)`).

    Every step of the replay at an event's time reads the timeline up to that time only, so the
    steps over the first `index` events are the same with or without the later ones.
    """

    index: int
    stage: str
    history: tuple[StageChange, ...]

    @classmethod
    def after(cls, history: Sequence[StageChange], index: int, last_us: int) -> ReplayStart | None:
        """From the history of an earlier replay whose last event (the `index`-th) was at `last_us`:
        its moves after that time were made by the final automatic step at the evaluation time,
        which a replay with later events does not make then, so they are dropped."""
        kept = tuple(h for h in history if to_micros(h.at) <= last_us)
        if index <= 0 or not kept:
            return None
        return cls(index, kept[-1].stage, kept)


class CompiledLifecycle:
    def __init__(self, lc: Lifecycle, spans: SpanModel | None = None) -> None:
        self.spec = lc
        self.stages = frozenset(lc.all_stages())
        self.initial = lc.initial_stage
        self.event_transitions: list[_EventTransition] = []
        self.auto: list[_AutoTransition] = []
        for tr in lc.transitions:
            if tr.on is not None:
                self.event_transitions.append(
                    _EventTransition(tr.to, frozenset(tr.from_) if tr.from_ else None, frozenset(tr.on))
                )
            elif tr.when is not None:
                srcs = frozenset(auto_sources(lc, tr.to, tr.from_))
                span = spans.node(tr.when) if spans is not None else None
                self.auto.append(_AutoTransition(tr.to, srcs, compile_condition(tr.when), span))
        self.auto_sources = frozenset().union(*(a.sources for a in self.auto)) if self.auto else frozenset()
        # per event type, the event transitions it can take, in the model's order: `replay_spans` looks
        # at those alone at each event instead of testing every transition's types
        self.on_type: dict[str, list[_EventTransition]] = {}
        for etr in self.event_transitions:
            for type_ in sorted(etr.types):
                self.on_type.setdefault(type_, []).append(etr)
        self.spans = spans
        self.auto_from: dict[str, list[_AutoTransition]] = {
            s: [a for a in self.auto if s in a.sources] for s in self.auto_sources
        }

    def _checked(self, lead_id: str, stage: Any, what: str) -> str:
        if not isinstance(stage, str) or stage not in self.stages:
            raise ScoringDataError(
                lead_id,
                f"{what} {stage!r} names no stage of the model (expected one of {', '.join(sorted(self.stages))})",
            )
        return stage

    def replay(
        self,
        lead_id: str,
        attributes: Mapping[str, Any],
        timeline: Timeline,
        at: int,
        scores_at: Callable[[int], dict[str, float]],
    ) -> tuple[str, list[StageChange]]:
        stage = self.initial
        if "stage" in attributes:
            stage = self._checked(lead_id, attributes["stage"], "the `stage` attribute")
        start = timeline.events[0].ts if timeline.events else at
        history = [StageChange(stage, from_micros(start), None, "initial")]

        def move(to: str, when: int, cause: str, event_id: str | None = None) -> None:
            nonlocal stage
            if to != stage:
                history.append(StageChange(to, from_micros(when), stage, cause, event_id))
                stage = to

        def automatic(when: int) -> None:
            if stage not in self.auto_sources:
                return
            ctx = Context(when, attributes, timeline, _LazyScores(when, scores_at))
            for _ in range(len(self.stages) + 1):  # the model has no cycles; this bounds the pass anyway
                for tr in self.auto:
                    if stage in tr.sources and tr.check(ctx):
                        move(tr.to, when, "auto")
                        break
                else:
                    return

        for event in timeline.events:
            if event.type == STAGE_SET:
                target = self._checked(lead_id, event.properties.get("stage"), "a stage_set event's `stage`")
                move(target, event.ts, "manual", event.id)
            else:
                for tr in self.event_transitions:
                    if event.type in tr.types and (tr.sources is None or stage in tr.sources):
                        move(tr.to, event.ts, f"event:{event.type}", event.id)
                        break
            automatic(event.ts)
        automatic(at)
        return stage, history

    def replay_spans(
        self,
        lead_id: str,
        attributes: Mapping[str, Any],
        timeline: Timeline,
        at: int,
        scores_at: Callable[[int], dict[str, float]],
        start: ReplayStart | None = None,
    ) -> tuple[str, list[StageChange]]:
        """The same stage and history as `replay`, skipping the events at which span bounds prove
        that no automatic transition of the current stage can fire. With `start`, the replay of
        the events before `start.index` is taken as given (an incremental rescoring)."""
        assert self.spans is not None
        view = self.spans.view(attributes, timeline)
        stage = self.initial
        if "stage" in attributes:
            stage = self._checked(lead_id, attributes["stage"], "the `stage` attribute")
        events = timeline.events
        first = events[0].ts if events else at
        history = [StageChange(stage, from_micros(first), None, "initial")]
        begin = 0
        if start is not None and 0 < start.index <= len(events):
            begin, stage, history = start.index, start.stage, list(start.history)
        times = [e.ts for e in events]
        quiet_stage: str | None = None
        quiet_until = -1  # no automatic transition of quiet_stage fires at events [.., quiet_until)
        # (stage, time) where the automatic pass last ended with nothing left to apply: the pass reads
        # only the stage and the timeline up to the time, so from that stage at that time it would
        # find nothing again (`replay` runs it after every event)
        settled: tuple[str, int] | None = None
        verdicts: dict[tuple[str, int, int], bool] = {}  # `silent`'s answers: a pure function of these

        def move(to: str, when: int, cause: str, event_id: str | None = None) -> None:
            nonlocal stage
            if to != stage:
                history.append(StageChange(to, from_micros(when), stage, cause, event_id))
                stage = to

        def automatic(when: int) -> None:
            nonlocal settled
            if settled == (stage, when):
                return
            ctx: Context | None = None
            for _ in range(len(self.stages) + 1):
                for tr in self.auto_from.get(stage, ()):
                    assert tr.span is not None
                    fires = tr.span.tri(view, when, when)
                    if fires is None:
                        if ctx is None:
                            ctx = Context(when, attributes, timeline, _LazyScores(when, scores_at))
                        fires = tr.check(ctx)
                    if fires:
                        move(tr.to, when, "auto")
                        break
                else:
                    settled = (stage, when)
                    return

        def silent(k: int, m: int) -> bool:
            """No automatic transition of the current stage can fire at any time of events k..m-1."""
            key = (stage, times[k], times[m - 1])
            found = verdicts.get(key)
            if found is None:
                ta, tb = key[1], key[2]
                found = verdicts[key] = all(
                    tr.span is not None and tr.span.tri(view, ta, tb) is False for tr in self.auto_from[stage]
                )
            return found

        n = len(events)
        on_type = self.on_type
        for k in range(begin, n):
            event = events[k]
            if event.type == STAGE_SET:
                target = self._checked(lead_id, event.properties.get("stage"), "a stage_set event's `stage`")
                move(target, event.ts, "manual", event.id)
            else:
                for etr in on_type.get(event.type, ()):
                    if etr.sources is None or stage in etr.sources:
                        move(etr.to, event.ts, f"event:{event.type}", event.id)
                        break
            if stage not in self.auto_sources or (stage == quiet_stage and k < quiet_until):
                continue
            if not silent(k, k + 1):
                automatic(event.ts)
                continue
            # gallop: the longest run of events from k at which this stage cannot move
            good, step = k + 1, 1
            while good < n:
                probe = min(n, k + 2 * step)
                if not silent(k, probe):
                    lo, hi = good, probe  # silent up to `lo`, not up to `hi`
                    while hi - lo > 1:
                        mid = (lo + hi) // 2
                        lo, hi = (mid, hi) if silent(k, mid) else (lo, mid)
                    good = lo
                    break
                good, step = probe, step * 2
            quiet_stage, quiet_until = stage, good
        automatic(at)
        return stage, history


class _LazyScores(Mapping[str, float]):
    """The scores at one instant, computed only if a condition asks for them (most do not)."""

    def __init__(self, at: int, scores_at: Callable[[int], dict[str, float]]) -> None:
        self._at = at
        self._scores_at = scores_at
        self._values: dict[str, float] | None = None

    def _get(self) -> dict[str, float]:
        if self._values is None:
            self._values = self._scores_at(self._at)
        return self._values

    def __getitem__(self, key: str) -> float:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())
