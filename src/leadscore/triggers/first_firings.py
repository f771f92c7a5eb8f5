"""`detect_transitions` for many leads at once, where none has a previous result to compare with.

A lifecycle apply of a new model (the first apply of a lifecycle over a rules-only model, a renamed
model) compares no lead with its stored result (another model's labels and stages are not this
model's transitions), so every lead is in the case `previous is None`: each change of its new replay
into a watched stage fires (numbered by entry), each label set's label fires against null, and no
reconciliation is made. The per-lead detection made a `Result` and a `StageChange` per change for
that, and walked every trigger per lead; here each trigger runs once over a part's changes as columns
(`results_repo.StageColumns`, lead after lead) and the keys are made in one batch.

Only for triggers without `when:` and leads whose `score_changed` triggers are known not to hold
(`score_hits.quiet`): the caller takes any other lead through `detect_transitions`. The firings, their
order (by time, then the model's trigger order) and keys are `detect_transitions`' (the property test
in tests/triggers compares them lead by lead).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

import numpy as np

from leadscore.domain.result import StageColumns
from leadscore.domain.timeutil import from_micros, to_micros
from leadscore.model.spec import ScoringModel, Trigger
from leadscore.triggers.firings import Fired, _key


def applies(model: ScoringModel) -> bool:
    """Whether `first_transitions` gives this model's firings: no trigger has a `when:`."""
    return all(t.when is None for t in model.triggers)


def first_transitions(
    model: ScoringModel,
    leads: Sequence[int],
    lead_ids: Sequence[str],
    at: datetime,
    labels: Mapping[int, Mapping[str, Any]],
    changes: StageColumns,
    first: Sequence[int],
) -> dict[int, list[Fired]]:
    """`detect_transitions(model, None, result, scores_quiet=True)` of each lead i of `leads` (a part's
    positions, in order), whose result has the id `lead_ids[i]`, the time `at`, the labels `labels[i]`
    and the stage history `changes` first[i]..first[i + 1]-1. Only the leads that fire are in the dict.
    (A `when:` is the caller's to rule out: `applies`.)"""
    to, previous, causes, eids, times = changes
    name = model.name
    # (lead, time, trigger index, order, then `Fired`'s fields but its key), and each one's key parts
    found: list[tuple[Any, ...]] = []
    parts: list[list[object]] = []
    micros = to_micros(at)
    watched = _watched(model, leads, changes, first)
    for index, trigger in enumerate(model.triggers):
        if trigger.on == "stage_changed":
            entered: dict[tuple[int, str], int] = {}  # by lead and stage: the entries so far
            for i, j in watched(trigger):
                stage = to[j]
                n = entered[(i, stage)] = entered.get((i, stage), 0) + 1
                details = {"cause": causes[j], "event_id": eids[j], "entry": n}
                t = times[j]
                found.append(
                    (i, t, index, len(found), trigger, "stage_changed", from_micros(t), previous[j], stage, details)
                )
                parts.append(["stage_changed", name, trigger.id, lead_ids[i], stage, n])
        elif trigger.on == "label_changed":
            assert trigger.set is not None
            for i in leads:
                new = labels[i].get(trigger.set)
                if new is None or (trigger.to is not None and new != trigger.to):
                    continue
                details = {"set": trigger.set, "previous_at": None}
                found.append((i, micros, index, len(found), trigger, "label_changed", at, None, new, details))
                parts.append(["label_changed", name, trigger.id, lead_ids[i], trigger.set, None, new, None])
    keys = key_batch(parts)
    out: dict[int, list[Fired]] = {}
    for i, _, _, k, trigger, kind, when, old, new, details in sorted(found, key=itemgetter(0, 1, 2, 3)):
        out.setdefault(i, []).append(Fired(trigger, kind, when, old, new, keys[k], details))
    return out


def _watched(
    model: ScoringModel, leads: Sequence[int], changes: StageColumns, first: Sequence[int]
) -> Callable[[Trigger], list[tuple[int, int]]]:
    """For a stage_changed trigger: the (lead, change) of `leads`' changes it watches, in order - over the
    part's change columns as arrays (most changes are of no trigger: no Python per change for them)."""
    to, previous = changes.to, changes.previous
    if not any(t.on == "stage_changed" for t in model.triggers) or not to:
        return lambda trigger: []
    n = len(to)
    bounds = np.asarray(first, dtype=np.int64)
    lead_of = np.repeat(np.arange(len(first) - 1), bounds[1:] - bounds[:-1])
    chosen = np.zeros(len(first) - 1, dtype=bool)
    chosen[np.asarray(leads, dtype=np.int64)] = True
    # a change of the replay (not its initial entry) of a chosen lead
    moves = chosen[lead_of] & np.fromiter((p is not None for p in previous), dtype=bool, count=n)
    stages = np.asarray(to, dtype=object)

    def watched(trigger: Trigger) -> list[tuple[int, int]]:
        hit = moves if trigger.to is None else moves & (stages == trigger.to)
        if trigger.from_ is not None:
            sources = trigger.from_
            hit = hit & np.fromiter((p in sources for p in previous), dtype=bool, count=n)
        js = np.flatnonzero(hit)
        return list(zip(lead_of[js].tolist(), js.tolist(), strict=True))

    return watched


def key_batch(parts: Sequence[list[object]]) -> list[str]:
    """`firings._key` of each of `parts` (the one place a key's text and hash are made)."""
    return list(map(_key, parts))
