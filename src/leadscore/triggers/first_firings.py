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

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

from leadscore.domain.result import StageColumns
from leadscore.domain.timeutil import from_micros, to_micros
from leadscore.model.spec import ScoringModel
from leadscore.triggers.firings import _KEY_TEXT, KEY_PREFIX, Fired


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
    found: list[tuple[int, int, int, int, Fired]] = []  # (lead, time, trigger index, order, firing)
    parts: list[list[object]] = []  # each firing's key parts, in `found`'s order
    micros = to_micros(at)
    for index, trigger in enumerate(model.triggers):
        if trigger.on == "stage_changed":
            want, sources = trigger.to, trigger.from_
            for i in leads:
                entered: dict[str, int] = {}
                for j in range(first[i], first[i + 1]):
                    frm = previous[j]
                    # a change of the replay (not its initial entry) the trigger watches
                    if (
                        frm is None
                        or (want is not None and to[j] != want)
                        or (sources is not None and frm not in sources)
                    ):
                        continue
                    stage = to[j]
                    n = entered[stage] = entered.get(stage, 0) + 1
                    details = {"cause": causes[j], "event_id": eids[j], "entry": n}
                    fired = Fired(trigger, "stage_changed", from_micros(times[j]), frm, stage, "", details)
                    found.append((i, times[j], index, len(found), fired))
                    parts.append(["stage_changed", name, trigger.id, lead_ids[i], stage, n])
        elif trigger.on == "label_changed":
            assert trigger.set is not None
            for i in leads:
                new = labels[i].get(trigger.set)
                if new is None or (trigger.to is not None and new != trigger.to):
                    continue
                details = {"set": trigger.set, "previous_at": None}
                found.append(
                    (i, micros, index, len(found), Fired(trigger, "label_changed", at, None, new, "", details))
                )
                parts.append(["label_changed", name, trigger.id, lead_ids[i], trigger.set, None, new, None])
    keys = key_batch(parts)
    out: dict[int, list[Fired]] = {}
    for i, _, _, k, fired in sorted(found, key=itemgetter(0, 1, 2, 3)):
        out.setdefault(i, []).append(fired._replace(key=keys[k]))
    return out


def key_batch(parts: Sequence[list[object]]) -> list[str]:
    """`firings._key` of each of `parts`, in one pass (the same text and hash, no call per key)."""
    text, sha = _KEY_TEXT, hashlib.sha256
    return [KEY_PREFIX + sha(text(p).encode("utf-8")).hexdigest()[:32] for p in parts]
