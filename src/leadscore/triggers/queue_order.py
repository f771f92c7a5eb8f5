"""The sales queue: which lead a sales rep should pick up first (MODEL-FORMAT.md "Playbooks").

Order: playbook priority (1 first), ties by total score (highest first), then lead id; leads whose
playbook has no priority come after every prioritised lead, and leads without a playbook last.
The lead id makes the order total, so two runs over the same results list leads identically.
"""

from __future__ import annotations

from collections.abc import Iterable

from leadscore.domain.result import Result

# Groups of the queue, in order: prioritised playbook, playbook without priority, no playbook.
_PRIORITISED, _UNPRIORITISED, _NO_PLAYBOOK = 0, 1, 2


def queue_key(result: Result) -> tuple[int, int, float, str]:
    """Sort key of a result in the sales queue (smaller comes first)."""
    playbook = result.playbook
    if playbook is None:
        group, priority = _NO_PLAYBOOK, 0
    elif playbook.priority is None:
        group, priority = _UNPRIORITISED, 0
    else:
        group, priority = _PRIORITISED, playbook.priority
    return (group, priority, -result.score, result.lead_id)


def sales_queue(results: Iterable[Result]) -> list[Result]:
    """The results in sales-queue order (a new list; the input is left as it is)."""
    return sorted(results, key=queue_key)
