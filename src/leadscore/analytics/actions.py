"""What sales does from the queue: accept, reject, disqualify, opportunity, won, lost, with a reason.

Each is an event in the lead's log (decision 2), so the lifecycle moves by replay and the feedback
report counts it: the outcomes through `LeadService.record_outcome`, a disqualification as a manual
`stage_set` to the model's `disqualified` stage. The reason and who acted travel as event properties.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leadscore.app.errors import InvalidInput
from leadscore.domain import Event, Result

if TYPE_CHECKING:
    from leadscore.app.service import LeadService

ACTIONS = ("accepted", "rejected", "disqualified", "opportunity", "won", "lost")
MAX_REASON = 500


def perform(service: LeadService, lead_id: str, action: str, reason: str = "", by: str | None = None) -> Result:
    if action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r} (expected one of {', '.join(ACTIONS)})", field="action")
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"the reason is {len(reason)} characters long; at most {MAX_REASON}", field="reason")
    props: dict[str, Any] = {k: v for k, v in (("reason", reason), ("by", by)) if v}
    if action != "disqualified":
        return service.record_outcome(lead_id, action, **props)
    lc = service.model.lifecycle
    if lc is None or "disqualified" not in lc.all_stages():
        raise InvalidInput("the model has no `disqualified` stage to move the lead to", field="action")
    service.require_lead(lead_id)
    service.ingest_events([Event.of(lead_id, "stage_set", service.now(), stage="disqualified", **props)])
    found = service.result(lead_id)
    assert found is not None
    return found
