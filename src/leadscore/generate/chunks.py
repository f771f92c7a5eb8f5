"""The data, chunk by chunk: leads and their events for one slice of lead numbers at a time.

Memory is bounded by one chunk whatever the number of leads; every chunk is generated from its own
seed, so a chunk is the same whether it is written to disk or sampled in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from leadscore.generate import events_b2b, events_b2c, leads_b2b, leads_b2c, vocab_b2b, vocab_b2c
from leadscore.generate.calendar import Calendar
from leadscore.generate.frame import EventSchema, lead_ids, to_table
from leadscore.generate.options import CHUNK_LEADS, Options
from leadscore.generate.rand import chunk_rng


@dataclass
class Chunk:
    index: int
    leads: pa.Table
    events: pa.Table
    type_counts: np.ndarray  # events per type, in the schema's order


def calendar(opts: Options) -> Calendar:
    campaigns = vocab_b2b.CAMPAIGNS if opts.kind == "b2b" else vocab_b2c.CAMPAIGNS
    return Calendar(int(opts.start.timestamp()), int(opts.end.timestamp()), campaigns)


def schema(kind: str) -> EventSchema:
    return vocab_b2b.EVENTS if kind == "b2b" else vocab_b2c.EVENTS


def chunk_count(opts: Options) -> int:
    return -(-opts.n_leads // CHUNK_LEADS)


def make_chunk(opts: Options, index: int, cal: Calendar) -> Chunk:
    first = index * CHUNK_LEADS
    ids = lead_ids(first, min(CHUNK_LEADS, opts.n_leads - first), opts.id_width)
    rng = chunk_rng(opts.seed, opts.kind, index)
    leads_mod, events_mod = (leads_b2b, events_b2b) if opts.kind == "b2b" else (leads_b2c, events_b2c)
    cohort = leads_mod.make_leads(rng, opts.seed, first, ids, opts.n_leads, cal)
    frame = events_mod.make_events(rng, cohort, cal, opts.events_per_lead)
    s = schema(opts.kind)
    counts = np.bincount(frame.type, minlength=len(s.types))
    return Chunk(index=index, leads=cohort.table, events=to_table(frame, s, ids), type_counts=counts)


def iter_chunks(opts: Options) -> Iterator[Chunk]:
    cal = calendar(opts)
    for index in range(chunk_count(opts)):
        yield make_chunk(opts, index, cal)
