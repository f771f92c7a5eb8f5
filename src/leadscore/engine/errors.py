"""Bad data met while scoring (not a bad model: that is leadscore.model.ModelError)."""

from __future__ import annotations


class ScoringDataError(ValueError):
    """A lead or event that the model cannot accept, e.g. a `stage` that names no stage of the model."""

    def __init__(self, lead_id: str, message: str) -> None:
        self.lead_id = lead_id
        self.detail = message
        super().__init__(f"lead {lead_id!r}: {message}")
