"""When a lead's events happen: sessions (bursts) spread over the lead's life in the window.

A lead's first session starts when the lead is created; the rest are spread up to the window's end,
front-loaded for leads whose interest fades (skew > 1). Events cluster minutes apart in a session.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from leadscore.generate.frame import lead_time_order

SESSION_GAP = 240.0  # mean seconds between events in a session


@dataclass
class Timeline:
    lead: np.ndarray  # int64, sorted
    t: np.ndarray  # int64 epoch seconds, sorted within a lead
    q: np.ndarray  # position in the lead's history, 0 <= q < 1
    starts: np.ndarray  # index of each lead's first event
    counts: np.ndarray  # events per lead


def event_counts(rng: np.random.Generator, weight: np.ndarray, mean: float, cap: int) -> np.ndarray:
    """At least one event per lead; on average `mean`, in proportion to `weight`."""
    lam = mean * weight / max(float(weight.mean()), 1e-12)
    return np.minimum(1 + rng.poisson(np.maximum(lam - 1.0, 0.0)), cap).astype(np.int64)


def place(
    rng: np.random.Generator, counts: np.ndarray, created: np.ndarray, end: int, skew: np.ndarray
) -> Timeline:
    n = len(counts)
    sessions = 1 + rng.binomial(np.maximum(counts - 1, 0), 0.3)
    session_lead = np.repeat(np.arange(n), sessions)
    session_start = np.cumsum(sessions) - sessions
    v = rng.random(len(session_lead)) ** skew[session_lead]
    v[session_start] = 0.0
    life = (end - created).astype(np.float64)
    anchor = created[session_lead] + (v * life[session_lead]).astype(np.int64)

    lead = np.repeat(np.arange(n), counts)
    session = session_start[lead] + (rng.random(len(lead)) * sessions[lead]).astype(np.int64)
    offset = rng.exponential(SESSION_GAP, len(lead)) * rng.integers(0, 8, len(lead))
    starts = np.cumsum(counts) - counts
    session[starts] = session_start
    offset[starts] = 0.0  # the very first event is the moment the lead was created
    t = np.minimum(anchor[session] + offset.astype(np.int64), end - 1)
    t = t[lead_time_order(lead, t)]
    q = (np.arange(len(lead)) - starts[lead]) / counts[lead]
    return Timeline(lead=lead, t=t, q=q, starts=starts, counts=counts)


def later(rng: np.random.Generator, t: np.ndarray, mean_seconds: float, at_least: float = 1.0) -> np.ndarray:
    """Times a while after `t` (exponential delay), for follow-up events."""
    return t + (at_least + rng.exponential(mean_seconds, len(t))).astype(np.int64)


def pick_event(rng: np.random.Generator, timeline: Timeline, leads: np.ndarray, q_low: np.ndarray) -> np.ndarray:
    """Index of a random event of each lead, from position `q_low` of its history onwards."""
    counts = timeline.counts[leads]
    q = q_low + rng.random(len(leads)) * (1.0 - q_low)
    return timeline.starts[leads] + np.minimum((q * counts).astype(np.int64), counts - 1)
