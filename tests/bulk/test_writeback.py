"""The bulk rescore's writes (`bulk.writeback`): what a rescore in parts hands back of its firings."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from leadscore.bulk.writeback import _counted
from leadscore.triggers.firings import TriggerFiring


def test_the_parts_firings_are_the_firings_without_their_payloads() -> None:
    """Every field kept but the payload (made field by field: a field added to TriggerFiring must
    come through too)."""
    at = datetime(2026, 3, 1, tzinfo=UTC)
    firings = [
        TriggerFiring("to-mql", "l1", "crm", at, "stage_changed", "lead", "mql", {"data": {"x": 1}}, "trg_a"),
        TriggerFiring("jump", "l2", None, at, "score_changed", 10.0, 80.5, {"data": {}}, "trg_b"),
    ]
    got = _counted(firings)
    assert got == [dataclasses.replace(f, payload={}) for f in firings]
    assert len(dataclasses.fields(TriggerFiring)) == 9  # `_counted` names each one
