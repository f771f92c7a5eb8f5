"""Ingesting whole files with bounded memory: strict (all or nothing) or skipping bad rows.

Strict, the default: a first streaming pass reads the whole file and refuses it, naming every
bad row (file:line:column), before anything is written. With `skip_invalid`, the good rows are
written and the bad ones go to a rejects file with their reasons.

An events file of at least `BULK_FILE_MIN` rows, when the caller gives a bulk rescoring (`bulk`), is
written as the deferred intake writes (each batch's events stored with their leads queued, one
transaction per batch), then every queued lead is rescored once, from its whole log, by the bulk
engine, which unqueues them in the transaction that writes their results. Rescoring each batch's
leads by the pure scorer as the batches go cost several times the storing itself. The guarantees
stay the pure path's: a crash loses at most the batch in flight, the stored events' leads stay
queued (`leadscore.store.pending`: the API's worker, or the same file run again, rescores them), and
a re-run stores nothing twice. In strict mode such a file is read once: its check pass also stages
the rows, which SQL then moves into the log (`leadscore.store.file_stage`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from leadscore.domain import Event, Lead
from leadscore.engine.lifecycle_replay import STAGE_SET
from leadscore.io import Batch, DataFileError, RowError, iter_event_batches, iter_lead_batches
from leadscore.io.errors import MAX_SHOWN
from leadscore.io.event_rows import EventRows, iter_event_rows
from leadscore.io.rejects import RejectsWriter
from leadscore.store import pending
from leadscore.store.base import LeadStore
from leadscore.store.file_stage import Staging
from leadscore.store.identity import IDENTIFY
from leadscore.store.ingest import BatchOutcome, Clock, event_problems, ingest_events, ingest_leads, lead_problems
from leadscore.store.pipeline import Evaluator, Rescored

T = TypeVar("T", Event, Lead)
Progress = Callable[[str, int, int | None], None]  # phase, rows done, rows in all (when known)
# every queued lead rescored at the given time, in bulk, and unqueued; None: not possible (nothing written)
BulkRescore = Callable[[int], Rescored | None]
# events of a file from which it is rescored in bulk once stored (below, the bulk engine's fixed costs
# - a DuckDB connection, the export, compiling the query - are more than scoring the batches)
BULK_FILE_MIN = 50_000


@dataclass
class FileReport(BatchOutcome):
    rejected: int = 0
    rejects_path: str | None = None
    rows: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class _Reader(Generic[T]):
    batches: Callable[[], Iterator[Batch[T]]]
    check: Callable[[Sequence[T], Sequence[int]], list[RowError]]
    write: Callable[[Sequence[T]], BatchOutcome]
    start: Callable[[int], None] = lambda rows: None  # told the row count once the file is checked
    finish: Callable[[], BatchOutcome] = BatchOutcome  # after the last batch


@dataclass
class _Queued:
    """A big events file: its batches stored with their leads queued, then the queue rescored in bulk."""

    store: LeadStore
    evaluator: Evaluator
    now: Clock
    bulk: BulkRescore | None
    minimum: int
    defer: bool
    on: bool = False

    def start(self, rows: int) -> None:
        self.on = self.bulk is not None and not self.defer and rows >= self.minimum

    def write(self, items: Sequence[Event]) -> BatchOutcome:
        done = ingest_events(self.store, self.evaluator, items, self.now, defer=self.defer or self.on)
        if self.on:
            done.pending = 0  # queued only until `finish`
        return done

    def finish(self) -> BatchOutcome:
        if not self.on or self.bulk is None:
            return BatchOutcome()
        with self.store.read() as conn:  # a re-run of a file stored whole: nothing to rescore
            if not pending.backlog(conn).leads:
                return BatchOutcome()
        done = self.bulk(self.now()) or Rescored()
        # what the bulk engine could not do, or leads another writer queued again meanwhile: drained by
        # the pure scorer, in as many rounds as the queue has leads now (other writers may keep adding)
        with self.store.read() as conn:
            rounds = -(-pending.backlog(conn).leads // pending.DRAIN_LEADS)
        for _ in range(rounds):
            drained = pending.drain(self.store, self.evaluator, self.now)
            if not drained.taken or drained.model_changed:
                break
            done.leads += drained.rescored.leads
            done.changed += drained.rescored.changed
            done.firings.extend(drained.rescored.firings)
        return BatchOutcome(rescored=done.leads, changed=done.changed, triggers=len(done.firings))


def _by_column(path: str | Path, batch_size: int) -> Callable[[], Iterator[Batch[Event] | EventRows]] | None:
    """A Parquet file's batches converted by column where they are plain (`io.event_rows`); the
    types the model checks (stage_set) or the store links by (identify) take the row path."""
    if not _by_row(path):
        return None
    return lambda: iter_event_rows(path, batch_size, (STAGE_SET, IDENTIFY))


def _by_row(path: str | Path) -> bool:
    """Whether rows of the file are numbered (Parquet) rather than found on lines."""
    p = Path(path)
    return p.is_dir() or p.suffix.lower() == ".parquet"


def default_rejects_path(path: str | Path) -> Path:
    p = Path(path)
    suffix = p.suffix.lower() if p.suffix.lower() in (".csv", ".tsv", ".jsonl", ".ndjson") else ".jsonl"
    return p.with_name(f"{p.stem}.rejects{suffix}")


def ingest_events_file(
    store: LeadStore,
    evaluator: Evaluator,
    path: str | Path,
    now: Clock,
    *,
    batch_size: int = 10_000,
    skip_invalid: bool = False,
    rejects: str | Path | None = None,
    force: bool = False,
    progress: Progress | None = None,
    defer: bool = False,
    bulk: BulkRescore | None = None,
    bulk_min: int = BULK_FILE_MIN,
) -> FileReport:
    """`defer`: store the events with their leads queued for rescoring (leadscore.store.pending).
    `bulk`: with at least `bulk_min` rows (and not `defer`), the leads are rescored by it once the
    events are stored (see the module's docstring)."""
    queued = _Queued(store, evaluator, now, bulk, bulk_min, defer)
    reader: _Reader[Event] = _Reader(
        lambda: iter_event_batches(path, batch_size),
        lambda items, lines: event_problems(evaluator.model, items, lines, str(path), _by_row(path)),
        queued.write,
        queued.start,
        queued.finish,
    )
    if bulk is None or defer or skip_invalid:
        return _ingest(reader, path, skip_invalid, rejects, force, progress)
    # strict, rescored in bulk when big: the check pass stages the rows (`file_stage`), read only once
    staging = Staging(store)
    try:
        total = _validate(reader, progress, keep=staging.add, by_column=_by_column(path, batch_size), staged=staging)
        if not staging.usable or total < bulk_min:  # nothing written yet: the batch path's write pass
            return _ingest(reader, path, skip_invalid, rejects, force, progress, checked=total)
        report = FileReport(rows=total, received=staging.rows)
        report.inserted = staging.move(now, None if progress is None else lambda done: progress("write", done, total))
    finally:
        staging.close()
    queued.start(total)
    report.add(queued.finish())
    return report


def ingest_leads_file(
    store: LeadStore,
    evaluator: Evaluator,
    path: str | Path,
    now: Clock,
    *,
    batch_size: int = 10_000,
    skip_invalid: bool = False,
    rejects: str | Path | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> FileReport:
    reader: _Reader[Lead] = _Reader(
        lambda: iter_lead_batches(path, batch_size),
        lambda items, lines: lead_problems(evaluator.model, items, lines, str(path), _by_row(path)),
        lambda items: ingest_leads(store, evaluator, items, now, f"file:{Path(path).name}"),
    )
    return _ingest(reader, path, skip_invalid, rejects, force, progress)


def _split(reader: _Reader[T], batch: Batch[T]) -> tuple[list[T], list[RowError]]:
    """The batch's good items, and every error (reading and model problems) in line order."""
    problems: list[RowError] = reader.check(batch.items, batch.lines)
    if not problems:
        return batch.items, batch.errors
    bad = {e.line for e in problems}
    good = [item for item, line in zip(batch.items, batch.lines, strict=True) if line not in bad]
    return good, sorted([*batch.errors, *problems], key=lambda e: e.line or 0)


def _ingest(
    reader: _Reader[T],
    path: str | Path,
    skip_invalid: bool,
    rejects: str | Path | None,
    force: bool,
    progress: Progress | None,
    checked: int | None = None,
) -> FileReport:
    """`force`: an existing rejects file may be replaced (never the input itself). `checked`: the
    strict check pass has run already and counted that many rows."""
    total: int | None = None
    writer: Any = None
    report = FileReport()
    if skip_invalid:  # refused before anything is read or written
        writer = RejectsWriter(rejects or default_rejects_path(path), force=force, inputs=[path])
    try:
        # a first pass: bad rows refuse the file (strict), or go to the rejects later; a problem with
        # the whole file (a JSON list cut short, a missing column) refuses it before anything is written
        total = checked if checked is not None else _validate(reader, progress, refuse_rows=not skip_invalid)
    except BaseException:
        if writer is not None:
            writer.close()
        raise
    try:
        if writer is not None:
            report.rejects_path = str(writer.path)
        reader.start(total)
        for batch in reader.batches():
            good, errors = _split(reader, batch)
            report.rows += len(batch.items) + len({e.line for e in batch.errors})
            if errors:
                if writer is None:  # the file changed between the passes
                    raise DataFileError(errors)
                report.rejected += writer.write(errors)
                report.errors.extend(str(e) for e in errors[: max(0, MAX_SHOWN - len(report.errors))])
            if good:
                report.add(reader.write(good))
            if progress:
                progress("write", report.rows, total)
        report.add(reader.finish())
    finally:
        if writer is not None:
            writer.close()
    return report


def _validate(
    reader: _Reader[T],
    progress: Progress | None,
    refuse_rows: bool = True,
    keep: Callable[[Sequence[T]], None] | None = None,
    by_column: Callable[[], Iterator[Batch[T] | EventRows]] | None = None,
    staged: Staging | None = None,
) -> int:
    """Read the whole file once; raise DataFileError naming the bad rows (`refuse_rows`) or a problem
    with the whole file. Returns the row count. `keep` is given each batch's items while no row of
    the file has been found bad. `by_column`: the file's batches, some converted by column (rows
    with no problem, given to `staged` while no row has been found bad)."""
    shown: list[RowError] = []
    bad = rows = 0
    for batch in reader.batches() if by_column is None else by_column():
        if isinstance(batch, EventRows):
            rows += len(batch)
            if staged is not None and not bad:
                staged.add_rows(batch)
            if progress:
                progress("check", rows, None)
            continue
        good, errors = _split(reader, batch)
        rows += len(batch.items) + len({e.line for e in batch.errors})
        if errors:
            bad += len(errors)
            shown.extend(errors[: max(0, MAX_SHOWN - len(shown))])
        elif keep is not None and not bad and good:
            keep(good)
        if progress:
            progress("check", rows, None)
    if bad and refuse_rows:
        raise DataFileError(shown, bad)
    return rows
