"""The batch engine: compile the model to one query, run it in DuckDB and hand undecidable leads to the
pure scorer; `output.py` writes the results in the shape of `Result.to_dict()` (JSON Lines or Parquet)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from leadscore.batch.duckdb import output
from leadscore.batch.duckdb.file_checks import (
    DictionaryColumns,
    check_parquet,
    dictionary_event_columns,
    parquet_sources,
)
from leadscore.batch.duckdb.layout import events_clustered, holds_lower_differs, parquet_events
from leadscore.batch.duckdb.output import Breakdown
from leadscore.batch.duckdb.sources import Source, prepare
from leadscore.domain.timeutil import parse_timestamp, to_micros
from leadscore.model.fingerprint import model_version
from leadscore.model.spec import ScoringModel
from leadscore.sql.columns import SourceSchema
from leadscore.sql.kept_aggregates import Aggregated
from leadscore.sql.literals import text as _text
from leadscore.sql.lookups import Lookups
from leadscore.sql.predicate_sql import NotExpressible
from leadscore.sql.query import QueryPlan, build_query
from leadscore.sql.result_columns import columns_sql, dimensions_sql
from leadscore.sql.result_shape import shape_sql

if TYPE_CHECKING:
    import duckdb

    from leadscore.batch.duckdb.id_ahead import IdsAhead
    from leadscore.batch.duckdb.id_order import Passed
    from leadscore.engine.predictors import Predictor

# The duplicate check's modules (duplicates, id_ahead, id_order, id_files), the pure scorer's (fallback,
# engine) and the lifecycle replay's (stage_replay, stage_windows, stage_arrays) are imported where a run
# needs them: a run with trusted ids (`--dedupe never`) whose query decides every lead needs none of them
# (0.06 s of imports of a 200k-lead run of 4 CPU s; the replay's and stage_sql, 0.016 more).

Dedupe = Literal["auto", "always", "never"]
RESULT = "_ls_result"
AGGREGATES = "_ls_aggs"  # the scoring query's per-lead aggregates, kept for the replay's pass (`keep_aggregates`)
FALLBACK = "_ls_fb_results"  # (lead_id, result): the pure scorer's results as `Result.to_dict()` JSON
# the messages of the statement that writes the output itself when a row needs what only RESULT allows
# (`_score_to_file`): the files' check, or the pure scorer / the deferred look-ups
_GUARD_INPUT = "leadscore: an event row needs the input files' check"
_GUARD_TABLE = "leadscore: a lead needs the result table"


class _StripIds(Exception):
    """The events' ids or types have something to strip: the run starts again with views that strip."""


@dataclass
class BatchStats:
    leads: int = 0
    events: int = 0
    fallback_leads: int = 0
    replayed_leads: int = 0  # leads whose stage needed the replay at each event time, done in SQL
    fallback_reason: str | None = None
    deduplicated: bool = False
    lookup_values: int = 0  # distinct text values a predicate without exact SQL was evaluated on
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())

    @property
    def events_per_second(self) -> float:
        return self.events / self.total_seconds if self.total_seconds else 0.0


def connect(threads: int | None = None, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    from leadscore._extras import require

    require("batch", "the batch engine")
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    # DuckDB draws a progress bar on stdout for a statement past 2 s, from a thread that polls the
    # statement: stdout is the command's (a `leadscore batch` run printed dozens of bars on it)
    con.execute("SET enable_progress_bar = false")
    # the Parquet files' footers parsed once per connection, not once per statement that scans them (a
    # run's checks scan the events' files a dozen times): 0.03 CPU s of 0.26 in the statements beside the
    # scoring one (foreign benchmark, 200k leads). DuckDB reads a file's footer again if it changed.
    con.execute("SET parquet_metadata_cache = true")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    return con


class BatchRun:
    """One evaluation of a model over a set of leads and events at time `at`."""

    # the scoring query's per-lead aggregates kept in a table (AGGREGATES) when a replay may follow, so
    # that the replay's pass reads them instead of aggregating the replayed leads' events again: one
    # table of about the result's size more, worth it where the leads come in parts (the store's runs)
    keep_aggregates = False

    def __init__(
        self,
        model: ScoringModel,
        leads: Source,
        events: Source,
        at: datetime | str,
        *,
        con: duckdb.DuckDBPyConnection | None = None,
        threads: int | None = None,
        dedupe: Dedupe = "auto",
        workers: int | None = None,
        event_leads: bool = True,
        sql_replay: bool = True,
        predictors: Mapping[str, Predictor] | None = None,
        next_change: bool = False,
        check_numbers: bool = True,
        stored: bool = False,
        breakdown: bool = True,
        out: str | Path | None = None,
        layout: Breakdown = "dimensions",
    ) -> None:
        self.model = model
        # the output, written by the scoring statement itself where it can be (`_score_to_file`); else
        # the caller writes it from RESULT (`write`). `written`: the file, once the statement wrote it.
        self._out = (Path(out), layout, output.file_format(Path(out), layout)) if out is not None else None
        self.written: Path | None = None
        self._materialized = True  # RESULT holds the results (False: the statement wrote the file instead)
        # without, the result table holds no rule's points or counts: only the `dimensions` layout can
        # be written from it (`shaped`), at a fraction of the cost (`result_columns.dimensions_sql`)
        self.breakdown = breakdown
        self.stored = stored  # a store's export: ids and types read as stored (`sources.prepare`)
        self.next_change = next_change  # a `next_change_at` column in the result table (for the store)
        self.predictors = dict(predictors or {})
        self.predictive = bool(model.predictive_dimensions())
        # a predictive dimension's artifact is part of the version, as in the pure scorer
        if self.predictive:
            from leadscore.engine.scorer import Scorer

            self.version = Scorer(model, self.predictors).version
        else:
            self.version = model_version(model)
        self.at = to_micros(parse_timestamp(at))
        self.con = con or connect(threads)
        self.workers = workers
        self.event_leads = event_leads
        self.sql_replay = sql_replay
        self.dups_table: str | None = None
        self.aggregated: Aggregated | None = None  # the scoring query's aggregates, while kept
        self.null_ids = True  # some event may lack an id (or nobody checked)
        # the events' `contains` look-ups wait for the query to find a value that needs them (lookups.py)
        self.lookups = Lookups("duckdb", regex_ok=self._duckdb_compiles, defer_events=True)
        self.stats = BatchStats()
        self._sources = (leads, events)
        try:
            self._start(dedupe, check_numbers, defer_check=True)
        except _StripIds:  # the check found ids or types to strip: the views strip them, all over again
            self.lookups = Lookups("duckdb", regex_ok=self._duckdb_compiles, defer_events=True)
            self.stats = BatchStats()
            self._start(dedupe, check_numbers, defer_check=False)

    def _start(self, dedupe: Dedupe, check_numbers: bool, defer_check: bool) -> None:
        leads, events = self._sources
        t = time.perf_counter()
        # the events' files are checked by the scoring query's own pass when it can (`_check_rows`)
        # (an event id to strip matters only to the duplicate check)
        ids_read = dedupe != "never"
        from leadscore.sql.dialects import infer_schema

        # the event columns the scoring pass reads: the files' checks of the others are scans of their own
        reads = frozenset({"lead_id", "type", "timestamp", *infer_schema(self.model).events.slots})
        self._files_checked = False
        # the events' dictionary-encoded columns, read from the files' metadata once for both users
        dictionary = DictionaryColumns()
        self.schema: SourceSchema = prepare(
            self.con,
            leads,
            events,
            defer_check=defer_check,
            ids_read=ids_read,
            reads=reads,
            stored=self.stored,
            dictionary=dictionary,
        )
        # their `contains` look-ups made before the query (`Lookups.eager`)
        self.lookups.eager = dictionary_event_columns(self.con, self._sources[1], dictionary)
        self.lookups.common_differs = lambda column: holds_lower_differs(self.con, column)
        # the store's export was checked when it was ingested (`check_numbers` False)
        self._numbers_pending = check_numbers
        self._numbers_sql: str | None = None
        if check_numbers:
            from leadscore.batch.duckdb import number_checks

            number_checks.check_numbers(self.con, self.model, self.schema, leads, events, views=("leads",))
            # the events' numbers ride on the scoring pass with the files' row check when it can
            self._numbers_sql = None
            if self.schema.row_check:
                self._numbers_sql = number_checks.events_sql(self.con, self.model, self.schema)
        # the form of the query's counts (`layout.py`): a sample of the events' first rows
        self.clustered = events_clustered(self.con, files=parquet_events(events))
        self.stats.seconds["prepare"] = time.perf_counter() - t
        # the ids' pass on a thread while the query runs, where they will likely prove distinct (`id_ahead.py`)
        self._ahead = self._ids_ahead(dedupe)
        if self._ahead is None:
            t = time.perf_counter()
            self.stats.deduplicated = self._check_duplicates(dedupe)
            if dedupe != "never":
                self.stats.seconds["duplicates"] = time.perf_counter() - t
        try:
            self._plan()
            self._run()
        finally:
            if self._ahead is not None:  # the run failed before it settled the check: the pass may stop
                self._ahead.cancel()
                self._ahead = None

    def _plan(self) -> None:
        """The scoring query (None: every lead goes to the pure scorer), and the inputs' checks it cannot
        make on its way, made now."""
        self.plan: QueryPlan | None
        try:
            if self.predictive:
                # trained models are not SQL: every lead goes to the pure scorer with its predictors
                raise NotExpressible("predictive dimensions are computed by their trained models, not in SQL")
            self.plan = build_query(
                self.model,
                self.schema,
                self.at,
                dedupe=self.stats.deduplicated,
                dups_table=self.dups_table,
                event_leads=self.event_leads,
                next_change=self.next_change,
                lookups=self.lookups,
                null_ids=self.null_ids,
                number_check=self._numbers_sql,
                clustered=self.clustered,
                breakdown=self.breakdown,
            )
        except NotExpressible as exc:
            self.plan = None
            self.stats.fallback_reason = str(exc)
        if self.plan is None or not self.plan.row_check:
            self._check_numbers()
            if self.schema.row_check is not None:
                self._check_files()  # this query cannot check the rows on its way

    def _check_numbers(self) -> None:
        """The events' numbers the model reads, refused at the first one not accepted (once)."""
        if self._numbers_pending:
            from leadscore.batch.duckdb.number_checks import check_numbers

            self._numbers_pending = False
            check_numbers(self.con, self.model, self.schema, *self._sources, views=("events",))

    def _check_inputs(self) -> None:
        """Some event row met the cheap conditions of a check: its numbers first, then the files by the
        reader's rules (the order the checks refuse in when they run before the query)."""
        self._check_numbers()
        self._check_files()

    def _check_files(self) -> None:
        """The events' files checked by the reader's rules (`file_checks.check_parquet`): refused with the
        bad rows named, or found to hold ids or types to strip (`_StripIds`: the views must strip them)."""
        if self._files_checked:
            return
        self._files_checked = True
        files = parquet_sources(Path(self._sources[1]))
        if not check_parquet(self.con, files, "events"):
            raise _StripIds

    def _check_rows(self) -> None:
        """After the query, before any result is trusted: when some event row met the check's cheap
        conditions (`file_checks.row_check_sql`), the files are checked in full."""
        row = self.con.execute(f"SELECT bool_or(input_check) FROM {RESULT}").fetchall()
        if row and row[0][0]:
            self._check_inputs()

    def _duckdb_compiles(self, pattern: str) -> bool:
        """Whether DuckDB's RE2 (older than the pure scorer's) accepts the pattern (`(?<name>` it does not)."""
        try:
            self.con.execute("SELECT regexp_matches('', ?)", [pattern]).fetchall()
        except Exception:  # duckdb raises its own error types for a pattern it cannot compile
            return False
        return True

    def _check_duplicates(self, mode: Dedupe, first: Passed | Literal["not run"] = "not run") -> bool:
        """Whether the query must drop repeated events; with ids, also lists the repeated ones
        (`duplicates.py`) so that the query drops them by a join instead of a window over all events.
        `first`: the ordered pass's answer, run ahead (`_ids_ahead`)."""
        if mode == "never":
            return False
        if not self.schema.has_event_id:
            return True  # events are identified by their content: the window over all of them
        # an id check deferred to this pass means the view reads the files' text ids as stored
        # (`file_checks.row_check_sql`): the pass may read them from the files
        from leadscore.batch.duckdb.duplicates import find_duplicates

        events = self._sources[1]
        files = parquet_sources(Path(events)) if self.schema.id_check is not None else None
        # what identifies an event without id beside its lead, type and time, as the query's window over
        # them has it (`sql.query.event_ctes`)
        content = self.schema.events.columns()
        check = find_duplicates(
            self.con,
            id_check=self.schema.id_check,
            check_files=self._check_inputs,
            files=files,
            first=first,
            content=content if self.schema.has_ord else None,
        )
        self.dups_table = check.table
        # the copies without id listed with the others: the query drops them all by the macro, no window
        self.null_ids = check.without_id > 0 and not check.contents_listed
        return mode == "always" or check.needed

    def _ids_ahead(self, mode: Dedupe) -> IdsAhead | None:
        """The duplicate check's pass started on a thread, the query to run meanwhile as if the ids were
        distinct, where they likely are (`id_ahead.py`); None: the check runs first, as it decides the query.
        Only where the pass would read the files' ids itself (the view reads them as stored, checked by the
        pass: `schema.id_check`), and with a query to run meanwhile."""
        from leadscore.batch.duckdb import duplicates, id_files
        from leadscore.batch.duckdb.id_ahead import IdsAhead, ascending_groups

        if mode != "auto" or not duplicates.ORDERED or not self.schema.has_event_id or self.schema.id_check is None:
            return None
        if self.predictive:
            return None
        files = parquet_sources(Path(self._sources[1]))
        if not id_files.readable(files) or not ascending_groups(files):
            return None
        total = int(self.con.execute("SELECT count(*) FROM events").fetchall()[0][0])  # from file metadata
        return IdsAhead(files, duplicates.tail_limit(total), test=True)

    def _settle(self) -> bool:
        """The duplicate check run ahead, finished (its answer awaited; the exact check of a tail, as
        `find_duplicates` makes it): whether the query must run again, dropping repeats after all."""
        ahead, self._ahead = self._ahead, None
        if ahead is None:
            return False
        t = time.perf_counter()
        self.stats.deduplicated = self._check_duplicates("auto", ahead.result())
        self.stats.seconds["duplicates"] = time.perf_counter() - t
        return self.stats.deduplicated

    def _run(self) -> None:
        con = self.con
        t = time.perf_counter()
        if self.plan is None:
            self._settle()  # the pure scorer drops repeats itself: the check only refuses bad ids here
            extra = " UNION SELECT DISTINCT lead_id FROM events" if self.event_leads else ""
            con.execute(f"CREATE OR REPLACE TEMP TABLE _ls_fb_ids AS SELECT id AS lead_id FROM leads{extra}")
        else:
            self._fill_lookups()
            if not self.plan.lookup_risk:  # the query cannot tell which leads need them: evaluate them now
                self.lookups.fill_duckdb(con, deferred=True)
            if self.plan.row_check and self.schema.scan_check is not None:
                # the check's conditions that are scans of their own (`file_checks.row_check_sql`)
                found = con.execute(self.schema.scan_check).fetchall()
                if found and found[0][0]:
                    self._check_inputs()
            done = self._score_to_file() if self._direct() else "table"
            if done == "again":  # repeats after all (a wrong guess of `_ids_ahead`): the query again, dropping them
                self.stats.seconds["query"] = time.perf_counter() - t
                self._plan()
                self._run()
                return
            if done == "written":
                self.stats.seconds["query"] = time.perf_counter() - t
                row = con.execute(self.plan.scored_events_sql).fetchall()[0]
                self.stats.events = int(row[0] or 0) if row else 0
                return
            try:
                self._score(self.plan)
            except Exception:  # duckdb's own error types: a bad row the check would name, unless none is
                if self.plan.row_check:
                    self._check_inputs()
                raise
            if self.plan.row_check:
                self._check_rows()
            if self._settle():  # repeats after all (a wrong guess of `_ids_ahead`): the query again, dropping them
                self.stats.seconds["query"] = self.stats.seconds.get("query", 0.0) + time.perf_counter() - t
                self._plan()
                self._run()
                return
            if self.plan.lookup_risk:
                self._rescore_risky()
            if self.plan.dynamic_lifecycle and self.sql_replay:
                self.stats.seconds["query"] = time.perf_counter() - t
                t = time.perf_counter()
                self._replay()
                self.stats.seconds["replay"] = time.perf_counter() - t
                t = time.perf_counter()
            self._drop_aggregates()
            con.execute(f"CREATE OR REPLACE TEMP TABLE _ls_fb_ids AS SELECT lead_id FROM {RESULT} WHERE fallback")
        self.stats.seconds["query"] = self.stats.seconds.get("query", 0.0) + time.perf_counter() - t
        row = con.execute(
            f"SELECT count(*) FROM {RESULT}" if self.plan is not None else "SELECT count(*) FROM _ls_fb_ids"
        ).fetchall()[0]
        self.stats.leads = int(row[0]) if row else 0
        if self.plan is not None and self.plan.scored_events_sql:
            # not counted per lead by the single pass (`QueryPlan.scored_events_sql`)
            row = con.execute(self.plan.scored_events_sql).fetchall()[0]
        elif self.plan is not None:
            row = con.execute(f"SELECT sum(n_events) FROM {RESULT}").fetchall()[0]
        else:
            row = con.execute(f'SELECT count(*) FROM events WHERE epoch_us("timestamp") <= {self.at}').fetchall()[0]
        self.stats.events = int(row[0] or 0) if row else 0
        self.stats.fallback_leads = int(con.execute("SELECT count(*) FROM _ls_fb_ids").fetchall()[0][0])
        if self.stats.fallback_leads:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {FALLBACK} (lead_id VARCHAR, result VARCHAR)")
            t = time.perf_counter()
            self._fallback()
            self.stats.seconds["fallback"] = time.perf_counter() - t
            if self.plan is not None and self.stats.fallback_reason is None:
                self.stats.fallback_reason = "lifecycle replay depends on scores or events at each event's time"

    def _direct(self) -> bool:
        """Whether the scoring statement writes the output itself, its rows never kept in RESULT: an output
        to write, no lifecycle replay, and the events scored counted apart (the single pass:
        `QueryPlan.scored_events_sql`), for `COPY` gives only its rows' count."""
        plan = self.plan
        return (
            self._out is not None and plan is not None and not plan.dynamic_lifecycle and bool(plan.scored_events_sql)
        )

    def _score_to_file(self) -> Literal["written", "table", "again"]:
        """The output written by `COPY (shaped scoring statement) TO` a file beside it, put in its place when
        whole (`output.beside`): the checks RESULT would be read for after the statement ride it as errors
        raised by a row that needs them (the input files' check, a lead for the pure scorer or a deferred
        look-up). "table": such a row was met (the files' check made and passed): the run goes on with
        RESULT, the statement run again. The duplicate check run ahead (`_ids_ahead`) is settled before the
        file is put in place: "again" when it found repeats (the file is dropped, the query must drop them).
        A bad input leaves no file and an existing one as it was."""
        assert self._out is not None and self.plan is not None
        path, layout, fmt = self._out
        plan = self.plan
        table = [c for c, on in (("fallback", plan.has_lifecycle), ("lookup_risk", plan.lookup_risk)) if on]
        guards = [f"WHEN input_check THEN error({_text(_GUARD_INPUT)})"] if plan.row_check else []
        guards += [f"WHEN {' OR '.join(table)} THEN error({_text(_GUARD_TABLE)})"] if table else []
        keep = f"CASE {' '.join(guards)} ELSE TRUE END" if guards else "TRUE"
        source = f"({self.lookups.inline(plan.sql)}) AS _ls_q WHERE {keep}"
        tmp = output.beside(path)
        try:
            leads = output.copy(self.con, self._shaped_sql(fmt == "JSON", layout, source), tmp, fmt)
        except Exception as exc:  # duckdb's own error types
            tmp.unlink(missing_ok=True)
            if plan.row_check and _GUARD_TABLE not in str(exc):
                self._check_inputs()  # refuses a bad input with its rows named (or the views must strip)
            if _GUARD_INPUT in str(exc) or _GUARD_TABLE in str(exc):
                return "table"
            raise
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        try:
            again = self._settle()
        except BaseException:  # the ids' check refused them: no output
            tmp.unlink(missing_ok=True)
            raise
        if again:
            tmp.unlink(missing_ok=True)
            return "again"
        os.replace(tmp, path)
        self.written = path
        self._materialized = False
        self.stats.leads = leads
        self.stats.fallback_leads = 0
        return "written"

    def _materialize(self) -> None:
        """RESULT, for results asked after the statement wrote the file itself (the checks already passed)."""
        if not self._materialized and self.plan is not None:
            self._score(self.plan)
            self._materialized = True

    def _score(self, plan: QueryPlan) -> None:
        """RESULT from the scoring query; its aggregates kept in AGGREGATES when a replay may read them."""
        inline = self.lookups.inline
        self.aggregated = None
        keep = self.keep_aggregates and plan.dynamic_lifecycle and self.sql_replay and plan.aggregates_sql
        if not keep:
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {RESULT} AS {inline(plan.sql)}")
            return
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {AGGREGATES} AS {inline(plan.aggregates_sql)}")
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {RESULT} AS {inline(plan.reading(AGGREGATES))}")
        self.aggregated = plan.aggregated(AGGREGATES)

    def _drop_aggregates(self) -> None:
        if self.aggregated is not None:
            self.con.execute(f"DROP TABLE IF EXISTS {self.aggregated.table}")
            self.aggregated = None

    def _fill_lookups(self) -> None:
        t = time.perf_counter()
        self.lookups.fill_duckdb(self.con)
        self.stats.lookup_values = self.lookups.values_tested
        if any(not lk.deferred for lk in self.lookups.entries.values()):  # a deferred one waits: no pass
            self.stats.seconds["lookups"] = self.stats.seconds.get("lookups", 0.0) + time.perf_counter() - t

    def _rescore_risky(self) -> None:
        """The leads with an event value a deferred look-up must evaluate (`lookups.py`), scored again
        once those values are evaluated; usually there is none and the look-ups cost nothing."""
        con = self.con
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ls_lk_ids AS SELECT lead_id FROM {RESULT} WHERE lookup_risk")
        row = con.execute("SELECT count(*) FROM _ls_lk_ids").fetchall()[0]
        if not row or not row[0]:
            return
        t = time.perf_counter()
        self.lookups.fill_duckdb(con, deferred=True)
        self.stats.lookup_values = self.lookups.values_tested
        self.stats.seconds["lookups"] = self.stats.seconds.get("lookups", 0.0) + time.perf_counter() - t
        self._drop_aggregates()  # theirs were computed before the look-ups knew these values
        self._score_again("_ls_lk_ids")
        con.execute("DROP TABLE _ls_lk_ids")

    def _fallback(self) -> None:
        """The pure scorer over the leads of `_ls_fb_ids`, chunk by chunk, into the table FALLBACK."""
        import pyarrow as pa

        from leadscore.batch.duckdb import fallback

        parts = fallback.chunks(self.con, self.schema, "_ls_fb_ids")
        n = self.stats.fallback_leads
        for scored in fallback.score(self.model, parts, self.at, n, self.workers, self.predictors):
            rows = pa.table({"lead_id": [r[0] for r in scored], "result": [r[1] for r in scored]})
            self.con.register("_ls_fb_part", rows)
            self.con.execute(f"INSERT INTO {FALLBACK} SELECT lead_id, result FROM _ls_fb_part")
            self.con.unregister("_ls_fb_part")

    def fallback_json(self, size: int = 10_000) -> Iterator[list[str]]:
        """The pure scorer's results (`Result.to_dict()` as compact JSON), `size` at a time."""
        if not self.stats.fallback_leads:
            return
        cur = self.con.execute(f"SELECT result FROM {FALLBACK} ORDER BY rowid")
        while batch := cur.fetchmany(size):
            yield [row[0] for row in batch]

    def _replay(self) -> None:
        """Stages of the leads the bounds left undecided, by the replay in SQL (`replay.py`)."""
        con = self.con
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ls_rp_ids AS SELECT lead_id FROM {RESULT} WHERE needs_replay")
        row = con.execute("SELECT count(*) FROM _ls_rp_ids").fetchall()[0]
        self.stats.replayed_leads = int(row[0]) if row else 0
        if not self.stats.replayed_leads:
            return
        from leadscore.sql.stage_replay import conditions_query

        conds = conditions_query(
            self.model,
            self.schema,
            self.at,
            "_ls_rp_ids",
            dedupe=self.stats.deduplicated,
            dups_table=self.dups_table,
            lookups=self.lookups,
            null_ids=self.null_ids,
        )
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ls_conds AS {self.lookups.inline(conds)}")
        self._score_again("_ls_rp_ids", replay="_ls_conds")
        con.execute("DROP TABLE _ls_conds")

    def _score_again(self, ids: str, replay: str | None = None) -> None:
        """The scoring query again over the leads of the table `ids` (with the replay's conditions
        table, if any), its rows replacing theirs in RESULT."""
        plan = build_query(
            self.model,
            self.schema,
            self.at,
            dedupe=self.stats.deduplicated,
            dups_table=self.dups_table,
            event_leads=self.event_leads,
            only=ids,
            replay=replay,
            next_change=self.next_change,
            lookups=self.lookups,
            null_ids=self.null_ids,
            clustered=self.clustered,
            breakdown=self.breakdown,
            aggregated=self.aggregated if replay is not None else None,
        )
        self.con.execute(f"DELETE FROM {RESULT} WHERE lead_id IN (SELECT lead_id FROM {ids})")
        self.con.execute(f"INSERT INTO {RESULT} BY NAME {self.lookups.inline(plan.sql)}")

    # -- results ---------------------------------------------------------------------------------------
    def shaped(self, json_text: bool, breakdown: Breakdown = "list") -> str | None:
        """The query of the native rows as `Result.to_dict()` gives them (JSON text or typed columns), or
        in a Parquet layout (`output.write`); None when every lead went to the pure scorer."""
        if self.plan is None:
            return None
        self._materialize()
        return self._shaped_sql(json_text, breakdown, f"{RESULT} WHERE NOT fallback")

    def _shaped_sql(self, json_text: bool, breakdown: Breakdown, source: str) -> str:
        assert self.plan is not None
        if breakdown == "dimensions" and not json_text:
            return dimensions_sql(self.model, self.version, self.plan, self.at, source)
        if not self.breakdown:
            raise ValueError(
                "this run kept no per-rule breakdown (BatchRun(breakdown=False)): it can write the "
                "`dimensions` Parquet layout only; run with breakdown=True for results with their breakdown"
            )
        if breakdown == "columns" and not json_text:
            return columns_sql(self.model, self.version, self.plan, self.at, source)
        return shape_sql(self.model, self.version, self.plan, self.at, source, json=json_text)

    def to_dicts(self) -> list[dict[str, Any]]:
        """Every result as `Result.to_dict()` gives it (native rows first, then fallback rows)."""
        return output.to_dicts(self)

    def write(self, path: str | Path, breakdown: Breakdown = "dimensions") -> Path:
        """JSON Lines (.jsonl, .ndjson, .json: `Result.to_dict()` per line) or Parquet (.parquet), by the
        file's extension; `breakdown`: the Parquet layout (`output.write`)."""
        return output.write(self, path, breakdown)


def run_batch(
    model: ScoringModel,
    leads: Source,
    events: Source,
    at: datetime | str,
    out: str | Path | None = None,
    breakdown: Breakdown = "dimensions",
    **options: Any,
) -> BatchRun:
    """Score every lead of `leads` at `at`; write the results to `out` when given (`breakdown`: the
    Parquet layout, `BatchRun.write`). A run that writes Parquet without the per-rule breakdown (the
    default layout) computes none (`BatchRun(breakdown=False)`): its `to_dicts` is refused."""
    if out is not None and Path(out).suffix.lower() == ".parquet" and breakdown == "dimensions":
        options.setdefault("breakdown", False)
    # the scoring statement writes the file itself where it can (`BatchRun._score_to_file`)
    run = BatchRun(model, leads, events, at, out=out, layout=breakdown, **options)
    if out is not None and run.written is None:
        run.write(out, breakdown)
    return run
