"""The stage-history rows of a part's leads at once, from the walk's change columns.

`results_repo.stage_move_rows` makes one lead's rows: the changes of its new replay after its stored
result's time (all of them, its initial entry included, for a lead with no stored result), else, where
none is and the stored stage differs, the one move that explains the new stage. The history pass called
it lead by lead, and on a lifecycle apply over a rules-only model nearly every lead takes the second
case: a search backwards through its changes for the last one into its new stage. Here both cases are
found over the part's columns in NumPy (`walk_part.Changes`, lead after lead), and only the rows
written are made in Python. The rows, and their order, are `stage_move_rows`' lead after lead (the
property test in tests/bulk compares them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from leadscore.domain.result import StageColumns


def stage_rows(
    leads: Sequence[int],
    lead_ids: Sequence[str],
    versions: Sequence[str],
    stages: Sequence[str | None],
    evaluated: Sequence[int],
    stored: Sequence[dict[str, Any] | None],
    changes: StageColumns,
    first: Sequence[int],
    cause: str,
) -> list[dict[str, Any]]:
    """`stage_move_rows(lead_ids[i], versions[i], stages[i], evaluated[i], changes, first[i], first[i + 1],
    stored[k], cause)` of each lead i = leads[k] (in order; its stage not None), one list. `stored[k]`:
    the lead's stored result's `evaluated_at` and `stage`, or None."""
    if not leads:
        return []
    to, froms, causes, eids, times = changes
    n = len(first) - 1
    bounds = np.asarray(first, dtype=np.int64)
    lead_of = np.repeat(np.arange(n, dtype=np.int64), bounds[1:] - bounds[:-1])
    chosen = np.asarray(leads, dtype=np.int64)
    picked, has_prev = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    since = np.zeros(n, dtype=np.int64)
    picked[chosen] = True
    with_prev = [(i, p["evaluated_at"]) for i, p in zip(leads, stored, strict=True) if p is not None]
    if with_prev:
        at_prev = np.asarray([i for i, _ in with_prev], dtype=np.int64)
        has_prev[at_prev] = True
        since[at_prev] = np.asarray([t for _, t in with_prev], dtype=np.int64)
    t = np.asarray(times, dtype=np.int64)
    initial = np.asarray(causes, dtype=object) == "initial"
    # a lead with no stored result keeps every change; one with, those after its time but its initial entry
    keep = picked[lead_of] & (~has_prev[lead_of] | ((t > since[lead_of]) & ~initial))
    kept = np.flatnonzero(keep)
    # the leads with a stored result, no change kept and another stage: the move that explains it
    none_kept = (np.bincount(lead_of[kept], minlength=n) == 0).tolist()
    extra = [
        (k, i) for k, i in enumerate(leads) if none_kept[i] and (p := stored[k]) is not None and p["stage"] != stages[i]
    ]
    last = np.full(n, -1, dtype=np.int64)  # each lead's last change into its new stage (-1: none)
    if extra and len(t):
        target = np.asarray(stages, dtype=object)
        into = np.flatnonzero(np.asarray(to, dtype=object) == target[lead_of])
        if len(into):
            ends = np.append(lead_of[into][1:] != lead_of[into][:-1], True)
            last[lead_of[into][ends]] = into[ends]
    rows: list[dict[str, Any]] = [
        {
            "lead_id": lead_ids[i],
            "at": times[j],
            "from_stage": froms[j],
            "to_stage": to[j],
            "cause": causes[j],
            "event_key": eids[j],
            "model_version": versions[i],
        }
        for j, i in zip(kept.tolist(), lead_of[kept].tolist(), strict=True)
    ]
    if not extra:
        return rows
    explained = np.asarray([i for _, i in extra], dtype=np.int64)
    lasts = last[explained].tolist()
    for (k, i), j in zip(extra, lasts, strict=True):
        prev = stored[k]
        assert prev is not None
        found = j >= 0
        rows.append(
            {
                "lead_id": lead_ids[i],
                "at": times[j] if found else evaluated[i],
                "from_stage": prev["stage"],
                "to_stage": stages[i],
                "cause": causes[j] if found and causes[j] != "initial" else cause,
                "event_key": eids[j] if found else None,
                "model_version": versions[i],
            }
        )
    # lead after lead: a lead has kept rows or its one explaining row, never both
    order = np.argsort(np.concatenate([lead_of[kept], explained]), kind="stable")
    return [rows[m] for m in order.tolist()]
