"""The generator's entry points: `generate` writes files, `sample` returns domain objects in memory."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc

from leadscore.domain import Event, Lead, to_iso
from leadscore.domain.timeutil import to_micros
from leadscore.generate import propensity
from leadscore.generate.chunks import calendar, chunk_count, iter_chunks, make_chunk, schema
from leadscore.generate.errors import GenerateError
from leadscore.generate.options import CSV_LIMIT, FORMATS, Options, make_options
from leadscore.generate.writer import OutputWriter, prepare

GENERATOR_VERSION = "1.0.0"

Progress = Callable[[int, int], None]  # (leads done, leads in total)


@dataclass(frozen=True)
class Summary:
    kind: str
    seed: int
    leads: int
    events: int
    events_by_type: dict[str, int]
    start: datetime
    end: datetime
    out_dir: Path
    files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "seed": self.seed, "leads": self.leads, "events": self.events,
                "events_by_type": dict(self.events_by_type), "start": to_iso(self.start),
                "end": to_iso(self.end), "out_dir": str(self.out_dir), "files": list(self.files)}


def _manifest(opts: Options, counts: dict[str, int], total: int, first: int | None, last: int | None,
              files: list[str]) -> dict[str, Any]:
    def iso(seconds: int | None) -> str | None:
        return None if seconds is None else to_iso(datetime.fromtimestamp(seconds, UTC))

    return {
        "generator": "leadscore.generate",
        "version": GENERATOR_VERSION,
        "kind": opts.kind,
        "seed": opts.seed,
        "arguments": {"leads": opts.n_leads, "events_per_lead": opts.events_per_lead},
        "counts": {"leads": opts.n_leads, "events": total, "events_by_type": counts},
        "time_range": {"start": to_iso(opts.start), "end": to_iso(opts.end), "first_event": iso(first),
                       "last_event": iso(last)},
        "campaigns": calendar(opts).campaign_dates(),
        "files": files,
        "hidden_propensity": propensity.describe(opts.kind),
    }


def generate(
    kind: str,
    n_leads: int,
    out_dir: str | Path,
    seed: int = 0,
    *,
    events_per_lead: float | None = None,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    format: str = "auto",
    progress: Progress | None = None,
) -> Summary:
    """Write leads and events to `out_dir`; same arguments, same data. Raises GenerateError."""
    opts = make_options(kind, n_leads, seed, events_per_lead=events_per_lead, start=start, end=end)
    if format not in FORMATS:
        raise GenerateError(f"--format: unknown format {format!r}; expected one of {', '.join(FORMATS)}")
    csv = format == "csv" or (format == "auto" and n_leads <= CSV_LIMIT)
    prepare(Path(out_dir))  # fail on a bad --out before any work
    s = schema(kind)
    cal = calendar(opts)
    first = make_chunk(opts, 0, cal)
    writer = OutputWriter(Path(out_dir), first.leads.schema, s.arrow_schema(), csv)
    type_counts = np.zeros(len(s.types), dtype=np.int64)
    bounds: list[int] = []
    done = 0
    # Writing (Arrow, Parquet: no GIL) overlaps with generating the next chunk; at most two in memory.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending: Future[None] | None = None
        for index in range(chunk_count(opts)):
            chunk = first if index == 0 else make_chunk(opts, index, cal)
            type_counts += chunk.type_counts
            span = pc.min_max(chunk.events.column("timestamp"))
            bounds += [to_micros(span["min"].as_py()) // 1_000_000, to_micros(span["max"].as_py()) // 1_000_000]
            if pending is not None:
                pending.result()
                if progress:
                    progress(done, n_leads)
            pending = pool.submit(writer.write, index, chunk.leads, chunk.events)
            done += chunk.leads.num_rows
            del chunk
        if pending is not None:
            pending.result()
    counts = {name: int(c) for name, c in zip(s.types, type_counts, strict=True) if c}
    total = int(type_counts.sum())
    files = [*writer.files, "manifest.json"]
    writer.close(_manifest(opts, counts, total, min(bounds), max(bounds), files))
    if progress:
        progress(n_leads, n_leads)
    return Summary(kind=kind, seed=seed, leads=n_leads, events=total, events_by_type=counts,
                   start=opts.start, end=opts.end, out_dir=Path(out_dir), files=files)


def _utc(value: Any) -> Any:
    """Arrow hands out zoneinfo UTC; the domain uses datetime.UTC throughout."""
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) else value


def sample(
    kind: str,
    n_leads: int,
    seed: int = 0,
    *,
    events_per_lead: float | None = None,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
) -> tuple[list[Lead], list[Event]]:
    """The same leads and events `generate` would write for these arguments, as domain objects.

    For tests and examples of other modules; events come sorted by lead, then time.
    """
    opts = make_options(kind, n_leads, seed, events_per_lead=events_per_lead, start=start, end=end)
    leads: list[Lead] = []
    events: list[Event] = []
    for chunk in iter_chunks(opts):
        for row in chunk.leads.to_pylist():
            lead_id = row.pop("id")
            leads.append(Lead(lead_id, {k: _utc(v) for k, v in row.items() if v is not None}))
        for row in chunk.events.to_pylist():
            events.append(Event(
                lead_id=row.pop("lead_id"), type=row.pop("type"), timestamp=_utc(row.pop("timestamp")),
                id=row.pop("id"), properties={k: v for k, v in row.items() if v is not None},
            ))
    return leads, events
