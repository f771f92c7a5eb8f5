"""A part's row of the history pass (`lifecycle_history.finish`) as the pure path's objects: its
`Result` without the breakdown (`row_result`), its stage history (`history_of`), a firing without
its result (`bare_firing`) and the score at T - within a trigger reads (`score_before`), with the
values a part's leads share made once (`made_time`, `made_playbook`). Apart from the pass because
these turn the query's columns into the domain's values; the pass decides what to make of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from leadscore.domain.result import PlaybookMatch, Result, StageChange, StageColumns
from leadscore.domain.timeutil import from_micros
from leadscore.model.spec import Trigger
from leadscore.store.events_repo import json_value
from leadscore.triggers.firings import Fired, TriggerFiring


def history_of(columns: StageColumns, lo: int, hi: int) -> list[StageChange]:
    """The changes lo..hi-1 of `columns` as `StageChange`s (a result's history, for `detect_transitions`)."""
    to, froms, causes, eids, times = columns
    return [StageChange(to[j], from_micros(times[j]), froms[j], causes[j], eids[j]) for j in range(lo, hi)]


def made_time(made: dict[Any, Any], evaluated_at: int) -> Any:
    """The evaluation time's datetime, made once (`row_result`'s `made`)."""
    at = made.get(evaluated_at)
    if at is None:
        at = made[evaluated_at] = from_micros(evaluated_at)
    return at


def made_playbook(made: dict[Any, Any], text: str | None) -> PlaybookMatch | None:
    """The playbook match of the query's text, made once per text (`row_result`'s `made`)."""
    if text is None:
        return None
    playbook = made.get(text)
    if playbook is None:
        d = json_value(text)
        playbook = made[text] = PlaybookMatch(d["index"], d["action"], d["priority"], tuple(d["content"]), d["name"])
    return playbook


def bare_firing(f: Fired, lead: str) -> TriggerFiring:
    """`firing(f, result, bare=True)` of lead `lead`'s result, without the result."""
    t = f.trigger
    return TriggerFiring(t.id, lead, t.destination, f.at, f.kind, f.old, f.new, {}, f.key)


def row_result(cols: dict[str, list[Any]], i: int, history: list[StageChange], made: dict[Any, Any]) -> Result:
    """`result_of` of the query's row `i` (JSON as text) with the walk's `history`, without its
    breakdown (see `lifecycle_history.finish`). The history is the walk's own changes, not dicts made
    of them and read back (the same values: times in whole microseconds either way). `made` (a dict
    kept for a part): the evaluation time's datetime and each playbook text's match, made once, as a
    part's leads share them (one time, a playbook per stage); both are immutable."""
    loads = json_value  # the C scanner straight away: five short texts a lead
    playbook = made_playbook(made, cols["playbook"][i])
    at = made_time(made, cols["evaluated_at"][i])
    return Result(
        lead_id=cols["lead_id"][i],
        at=at,
        model=cols["model"][i],
        model_version=cols["model_version"][i],
        score=cols["score"][i],
        dimensions=loads(cols["dimensions"][i]),
        labels=loads(cols["labels"][i]),
        stage=cols["stage"][i],
        stage_history=tuple(history),
        breakdown=(),
        playbook=playbook,
    )


def score_before(slots: dict[int, int], befores: list[float | None]) -> Callable[[Trigger], float]:
    """The lead's score at T - within of a trigger: `befores` by window, `slots` each window's."""

    def before(trigger: Trigger) -> float:
        assert trigger.within is not None
        score = befores[slots[trigger.within.micros]]
        assert score is not None  # the batch engine scored every lead at T - within
        return float(score)

    return before
