"""A lead's stage and history replayed from its automatic conditions' values at each event time,
without scoring: `CompiledLifecycle.replay` with the conditions read instead of evaluated.

The batch engine's replay in SQL (`sql.stage_replay`) gives every automatic transition's condition at
each of a lead's event times and at T; `replay` walks the lead's events in log order and reads those,
giving the same stage and the same history (times, causes, event ids) as the pure scorer. It walks
every event: the history pass walks only the rows that can move a stage (`lifecycle_walk.Walker`),
and this is the reference the tests compare that walk and the SQL replay's conditions with. Apart
from the history pass (`lifecycle_history`) because it is that reference, not a part of the pass.
"""

from __future__ import annotations

from collections.abc import Sequence

from leadscore.domain.result import StageChange
from leadscore.domain.timeutil import from_micros
from leadscore.engine.lifecycle_replay import STAGE_SET, CompiledLifecycle

Step = tuple[int, str, str | None, str | None]  # (time, type, event id, `stage` property)


def replay(
    lc: CompiledLifecycle, init: str, steps: Sequence[Step], conds: dict[int, tuple[bool, ...]], at: int
) -> tuple[str, list[StageChange]]:
    """`CompiledLifecycle.replay` with each automatic condition read from `conds` (by time; absent or
    unknown: false) instead of evaluated. `steps`: the lead's events up to `at` in log order."""
    stage = init
    start = steps[0][0] if steps else at
    history = [StageChange(stage, from_micros(start), None, "initial")]
    nothing: tuple[bool, ...] = ()

    def move(to: str, when: int, cause: str, event_id: str | None = None) -> None:
        nonlocal stage
        if to != stage:
            history.append(StageChange(to, from_micros(when), stage, cause, event_id))
            stage = to

    def automatic(when: int) -> None:
        if stage not in lc.auto_sources:
            return
        values = conds.get(when, nothing)
        for _ in range(len(lc.stages) + 1):
            for k, tr in enumerate(lc.auto):
                if stage in tr.sources and k < len(values) and values[k]:
                    move(tr.to, when, "auto")
                    break
            else:
                return

    for ts, typ, event_id, target in steps:
        if typ == STAGE_SET:
            assert target is not None  # a bad `stage` is the pure scorer's to refuse (fallback)
            move(target, ts, "manual", event_id)
        else:
            for etr in lc.event_transitions:
                if typ in etr.types and (etr.sources is None or stage in etr.sources):
                    move(etr.to, ts, f"event:{typ}", event_id)
                    break
        automatic(ts)
    automatic(at)
    return stage, history
