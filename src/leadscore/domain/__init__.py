"""Plain value objects shared by every layer: leads, events, results. No IO here."""

from leadscore.domain.events import Event, dedupe_events, event_key
from leadscore.domain.lead import Lead
from leadscore.domain.result import BreakdownEntry, PlaybookMatch, Result, StageChange
from leadscore.domain.timeutil import parse_timestamp, to_iso, utc_now

__all__ = [
    "BreakdownEntry",
    "Event",
    "Lead",
    "PlaybookMatch",
    "Result",
    "StageChange",
    "dedupe_events",
    "event_key",
    "parse_timestamp",
    "to_iso",
    "utc_now",
]
