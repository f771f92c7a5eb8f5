"""The generator's arguments, checked once, with defaults that make results reproducible."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from leadscore.domain.timeutil import parse_timestamp
from leadscore.generate.errors import GenerateError

KINDS = ("b2b", "b2c")
FORMATS = ("auto", "parquet", "csv")
DEFAULT_END = "2026-06-01T00:00:00Z"
DEFAULT_MONTHS = 18
DEFAULT_EVENTS_PER_LEAD = {"b2b": 50.0, "b2c": 30.0}
CHUNK_LEADS = 50_000  # part of the data's definition: chunk k's leads and events come from seed (seed, k)
CSV_LIMIT = 10_000  # up to this many leads, "auto" also writes CSV


@dataclass(frozen=True)
class Options:
    kind: str
    n_leads: int
    seed: int
    start: datetime
    end: datetime
    events_per_lead: float

    @property
    def id_width(self) -> int:
        return max(7, len(str(self.n_leads)))


def months_before(end: datetime, months: int) -> datetime:
    index = end.year * 12 + end.month - 1 - months
    year, month = divmod(index, 12)
    day = min(end.day, 28)  # every month has a 28th
    return end.replace(year=year, month=month + 1, day=day)


def _time(name: str, value: datetime | str) -> datetime:
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise GenerateError(f"--{name}: {exc}") from None


def make_options(
    kind: str,
    n_leads: int,
    seed: int = 0,
    *,
    events_per_lead: float | None = None,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
) -> Options:
    if kind not in KINDS:
        raise GenerateError(f"--kind: unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if isinstance(n_leads, bool) or not isinstance(n_leads, int) or n_leads < 1:
        raise GenerateError(f"--leads: must be a whole number of at least 1, got {n_leads!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise GenerateError(f"--seed: must be a whole number of at least 0, got {seed!r}")
    if events_per_lead is None:
        events_per_lead = DEFAULT_EVENTS_PER_LEAD[kind]
    if not 1 <= events_per_lead <= 10_000:
        raise GenerateError(f"--events-per-lead: must be between 1 and 10000, got {events_per_lead!r}")
    end_dt = _time("end", end if end is not None else DEFAULT_END)
    start_dt = _time("start", start) if start is not None else months_before(end_dt, DEFAULT_MONTHS)
    if (end_dt - start_dt).total_seconds() < 86_400:
        raise GenerateError(f"--start must be at least a day before --end, got {start_dt} and {end_dt}")
    if start_dt.microsecond or end_dt.microsecond:
        raise GenerateError("--start and --end: whole seconds only")
    return Options(kind=kind, n_leads=n_leads, seed=seed, start=start_dt, end=end_dt,
                   events_per_lead=float(events_per_lead))
