"""Helpers for the tests of the waits for current results (leadscore.app.lead_waits)."""

from __future__ import annotations

import asyncio
import time

from leadscore.app.lead_waits import LeadWaits


async def until_waiting(waits: LeadWaits, count: int = 1) -> None:
    """Until `count` waits are registered (a loaded machine takes its time to start them)."""
    deadline = time.monotonic() + 30
    while waits.waiting < count and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert waits.waiting == count
