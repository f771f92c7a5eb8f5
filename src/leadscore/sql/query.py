"""The scoring query: one pass over the events (a single GROUP BY with FILTER clauses), joined to the
leads, then rule points, dimension floors / caps, labels, stage and playbook as columns of one row per lead.

The query reads two relations, `leads` (column `id` + attribute columns) and `events` (`lead_id`,
`type`, `timestamp`, optional `id`, property columns, and `_ls_ord` for input order when known).
Its columns are positional (`points_3` is the fourth rule's points) so that every dialect accepts
them; `QueryPlan` keeps the names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from leadscore.model.spec import ScoringModel
from leadscore.sql import literals as q
from leadscore.sql.columns import SourceSchema
from leadscore.sql.condition_sql import ORD, STAGE, TOTAL, TS, Compiler
from leadscore.sql.hoist import hoist
from leadscore.sql.kept_aggregates import Aggregated, aggregate_keys, new_aggregates, reused_aggregates
from leadscore.sql.lookups import Lookups
from leadscore.sql.next_change_sql import next_change_sql
from leadscore.sql.rule_sql import RuleSql, rule_sql
from leadscore.sql.stage_fold import fold_ctes

if TYPE_CHECKING:
    from leadscore.sql.stage_sql import StageSql

Flavor = Literal["duckdb", "spark", "portable"]


@dataclass(frozen=True)
class QueryPlan:
    sql: str
    rules: list[RuleSql]
    dimensions: list[str]
    adjustments: list[tuple[str, str]]  # (dimension, "cap" | "floor" placeholder resolved per row)
    label_sets: list[str]
    has_lifecycle: bool
    dynamic_lifecycle: bool
    notes: list[str] = field(default_factory=list)
    # a `lookup_risk` column: the lead has an event value a deferred look-up must evaluate (lookups.py)
    lookup_risk: bool = False
    # an `input_check` column: some event row of the lead needs the input files' check (`row_check`)
    row_check: bool = False
    # the query of the per-lead aggregates alone (`_ls_lead` and each aggregate), and the rest of `sql`
    # after them ("" where the query cannot be cut there): `reading` runs the rest over a table of them
    aggregates_sql: str = ""
    after_aggregates: str = ""
    aggregate_columns: dict[str, str] = field(default_factory=dict)  # `aggregate_keys` -> column
    # the number of events scored, where the result's `n_events` does not hold it (NULL): the single
    # pass counts them in a query of its own over their times
    scored_events_sql: str = ""

    def reading(self, table: str) -> str:
        """`sql` with its per-lead aggregates read from `table`, made by `aggregates_sql`."""
        assert self.after_aggregates, "this query cannot be cut at its aggregates"
        return f"WITH _ls_agg AS (SELECT * FROM {table}),\n{self.after_aggregates}"

    def aggregated(self, table: str) -> Aggregated:
        return Aggregated(table, self.aggregate_columns)


ZERO = "CAST(0.0 AS DOUBLE)"
IN = "_ls_in"  # the single pass's rows that count: up to T, not a dropped copy
_FLAG = re.compile(r"\b_ls_f\d+\b")


def _row_sum(parts: list[str], flavor: Flavor) -> str:
    if not parts:
        return "CAST(0.0 AS DOUBLE)"
    if len(parts) == 1:
        return parts[0]
    if flavor == "duckdb":
        # Neumaier-compensated, like the pure scorer's math.fsum to the last bit in practice
        return f"list_aggregate([{', '.join(parts)}], 'fsum')"
    return "(" + " + ".join(parts) + ")"


def _epoch_us(flavor: Flavor) -> str:
    return 'epoch_us("timestamp")' if flavor == "duckdb" else 'EPOCH_US("timestamp")'


def event_ctes(
    schema: SourceSchema,
    flavor: Flavor,
    dedupe: bool,
    dups_table: str | None,
    only: str | None,
    null_ids: bool = True,
) -> tuple[list[str], str]:
    """The events with their time in epoch micros (`_ls_ts`), deduplicated; (CTEs, name of the last)."""
    ev_cols = f"*, {_epoch_us(flavor)} AS {TS}"
    events = f"SELECT {ev_cols} FROM events"
    if only is not None:
        events += f" WHERE lead_id IN (SELECT lead_id FROM {only})"
    ctes = [f"_ls_ev AS ({events})"]
    if not dedupe:
        return ctes, "_ls_ev"
    content = ", ".join(["type", TS, *(q.ident(x) for x in schema.events.columns())])
    order = ORD if schema.has_ord else TS
    if dups_table is None:
        cols = ", ".join(f"CASE WHEN id IS NULL THEN {col} END" for col in content.split(", "))
        ctes.append(
            "_ls_dd AS (SELECT * FROM (SELECT *, row_number() OVER "
            f"(PARTITION BY lead_id, id, {cols} ORDER BY {order}) AS _ls_rn FROM _ls_ev) AS d WHERE _ls_rn = 1)"
        )
    elif not null_ids:
        # every event has an id: drop the listed copies by their input order (no id is read)
        ctes.append(f"_ls_dd AS (SELECT * FROM _ls_ev WHERE {dups_table}_kept({ORD}))")
    else:
        # events with an id: the listed copies dropped by their input order, as above (a NOT EXISTS against
        # the repeated pairs, correlated on every event's lead, id and order, held 2.2 GB at 10M events);
        # events without: one row per content. Each branch reads the events itself: a CTE named twice is
        # materialised whole by DuckDB (every column of every event in memory: 0.8 GB more at 10M events).
        ctes.append(
            f"_ls_dd AS (SELECT * FROM ({events}) AS e WHERE id IS NOT NULL AND {dups_table}_kept({ORD}) UNION ALL "
            f"SELECT * EXCLUDE (_ls_rn) FROM (SELECT *, row_number() OVER (PARTITION BY lead_id, {content} "
            f"ORDER BY {order}) AS _ls_rn FROM ({events}) AS n WHERE id IS NULL) AS d WHERE _ls_rn = 1)"
        )
    return ctes, "_ls_dd"


def score_ctes(model: ScoringModel, rules: list[RuleSql], flavor: Flavor, source: str) -> list[str]:
    """Rule points, raw sums, floor / cap adjustments, dimension scores and the total, as columns
    added to `source` (whose rows carry the aggregates); the last CTE is `_ls_dims`."""
    dims = model.dimension_names()
    pts = [f"{r.points} AS _ls_p{i}" for i, r in enumerate(rules)]
    pts += [f"{r.events} AS _ls_e{i}" for i, r in enumerate(rules) if r.events is not None]
    raw, adjust, dim_val = [], [], []
    for j, d in enumerate(dims):
        own = [f"_ls_p{i}" for i, r in enumerate(rules) if r.dimension == d]
        raw.append(f"{_row_sum(own, flavor)} AS _ls_raw{j}")
        spec = model.dimension_spec(d)
        # (condition, bound): the cap is tested first, as in the pure scorer
        clamps = [(f"_ls_raw{j} > {q.double(b)}", q.double(b + 0.0)) for b in (spec.cap,) if b is not None]
        clamps += [(f"_ls_raw{j} < {q.double(b)}", q.double(b + 0.0)) for b in (spec.floor,) if b is not None]
        if clamps:
            adjust.append(f"(CASE {' '.join(f'WHEN {c} THEN {b} - _ls_raw{j}' for c, b in clamps)} ELSE {ZERO} END)")
            # a clamped dimension is the bound itself, as in the pure scorer: the rules' points plus
            # the adjustment would keep the raw sum's rounding error (39.99999999999999 for a cap of 40)
            dim_val.append(f"(CASE {' '.join(f'WHEN {c} THEN {b}' for c, b in clamps)} ELSE _ls_raw{j} END)")
        else:
            adjust.append(ZERO)
            dim_val.append(f"_ls_raw{j}")
    adjust = [f"{a} AS _ls_j{j}" for j, a in enumerate(adjust)]
    dim_val = [f"{v} AS _ls_d{j}" for j, v in enumerate(dim_val)]
    # the total is the sum of the dimensions (after their floors and caps), MODEL-FORMAT.md
    total = _row_sum([f"_ls_d{j}" for j in range(len(dims))], flavor)
    return [
        f"_ls_pts AS (SELECT *, {', '.join(pts)} FROM {source})",
        f"_ls_raw AS (SELECT *, {', '.join(raw)} FROM _ls_pts)",
        f"_ls_adj AS (SELECT *, {', '.join(adjust)} FROM _ls_raw)",
        f"_ls_dim AS (SELECT *, {', '.join(dim_val)} FROM _ls_adj)",
        f"_ls_dims AS (SELECT *, {total} AS {TOTAL} FROM _ls_dim)",
    ]


def compiler(
    model: ScoringModel,
    schema: SourceSchema,
    at: int | str,
    flavor: Flavor,
    lookups: Lookups | None = None,
    clustered: bool = False,
) -> Compiler:
    dim_cols = {d: f"_ls_d{i}" for i, d in enumerate(model.dimension_names())}
    label_cols = {name: f"_ls_l{i}" for i, name in enumerate(model.labels)}
    native = flavor == "duckdb"
    return Compiler(
        schema,
        at,
        dim_cols,
        label_cols,
        sum_agg="fsum" if native else "sum",
        # which form of count costs less depends on where a lead's events lie (batch/duckdb/layout.py):
        # count_if(flag) when they are next to each other, count(*) FILTER (WHERE flag) when spread
        count_if=native and clustered,
        types_as_or=native,
        lookups=lookups,
        label_values={name: [b.label for b in bands] for name, bands in model.labels.items()},
        stage_values=model.lifecycle.all_stages() if model.lifecycle else (),
    )


def build_query(
    model: ScoringModel,
    schema: SourceSchema,
    at: int,
    *,
    flavor: Flavor = "duckdb",
    dedupe: bool = True,
    dups_table: str | None = None,
    event_leads: bool = False,
    only: str | None = None,
    replay: str | None = None,
    folded: str | None = None,
    next_change: bool = False,
    lookups: Lookups | None = None,
    null_ids: bool = True,
    number_check: str | None = None,
    clustered: bool = False,
    breakdown: bool = True,
    aggregated: Aggregated | None = None,
) -> QueryPlan:
    """The query; with `event_leads`, a lead id found only in the events is scored as a lead without
    attributes (as `leadscore score` does), also when all its events come after `at`.

    Duplicates (same lead and id: the first in input order wins; no id: same content) are dropped by
    a window over all events, or, given `dups_table` (lead_id, id, keep: the `_ls_ord` to keep, for the
    repeated ids only), by an anti-join with it plus a window over the events without id only; when
    no event lacks an id (`null_ids` False), by the macro `<dups_table>_kept(_ls_ord)` (the input
    orders of `<dups_table>_drop` excluded: `dropped_copies.kept_macro`).

    `only` (a table with a column lead_id) restricts the query to those leads. `replay` names the
    table of the automatic transitions' conditions at the leads' event times and at T (`replay.py`):
    the stage is then the exact fold of the replay; with `folded` (a table of lead_id and the fold, `_ls_fv`,
    of each of those leads: `bulk.replay_fold`) the fold is read from it and no event is listed. The
    column `needs_replay` marks the leads whose stage the bounds cannot decide without that table (they
    are also `fallback`). With `next_change`,
    the column `next_change_at` holds the next instant time alone can change the result (`horizon`).
    With `lookups`, text predicates without exact SQL read tables (or UDFs) that the caller fills
    before running the query (`lookups.py`); without, they raise NotExpressible. `number_check` (a
    BOOLEAN over an event row) joins the input check of the single pass (`row_check`); the caller
    checks the numbers itself when the plan has none. `clustered` (DuckDB): the events come lead by
    lead, so the counts are `count_if` rather than FILTER clauses (`batch.duckdb.layout`; same values).
    Without `breakdown` the rules' points and counts and the dimensions' adjustments are no columns of
    the result (the dimensions are still their exact sums): what the rules' counts alone feed is then
    not computed at all, and a result table holds a fifth of the columns. With `aggregated` (an
    earlier query's per-lead aggregates over the same events, `QueryPlan.aggregates_sql`), those of
    its aggregates are read from its table instead of computed again (the replay's second pass)."""
    dims = model.dimension_names()
    c = compiler(model, schema, at, flavor, lookups, clustered)
    rules = [rule_sql(c, r) for r in model.rules]

    labels = []
    for i, bands in enumerate(model.labels.values()):
        whens = [f"WHEN {c.condition(b.when) if b.when else 'TRUE'} THEN {q.text(b.label)}" for b in bands]
        labels.append(f"(CASE {' '.join(whens)} ELSE CAST(NULL AS VARCHAR) END) AS _ls_l{i}")

    lists = {"duckdb": "duckdb", "spark": "spark"}.get(flavor, "recursive")
    stage: StageSql | None = None
    if model.lifecycle:
        # imported for a model with a lifecycle only (with the pure scorer's replay it reads), as the
        # replay's own modules are (`batch.duckdb.run`)
        from leadscore.sql.stage_sql import stage_sql

        stage = stage_sql(c, model, lists, replay=replay is not None, folded=folded is not None)
    playbook = "CAST(NULL AS INTEGER)"
    if model.playbooks:
        whens = [f"WHEN {c.condition(p.when) if p.when else 'TRUE'} THEN {i}" for i, p in enumerate(model.playbooks)]
        playbook = f"(CASE {' '.join(whens)} ELSE CAST(NULL AS INTEGER) END)"

    horizon = next_change_sql(c, model, at) if next_change else None
    # One pass over every event, the input check's rows included (`schema.row_check`): events after T
    # and dropped copies stay in the GROUP BY, every flag and count keeping only the rows with `_ls_in`.
    # Lead ids found only after T then come from the same GROUP BY, without a scan of their own.
    single = (
        flavor == "duckdb"
        and schema.row_check is not None
        and stage is None
        and only is None
        and replay is None
        and event_leads  # the lead ids' checks read every lead id of the GROUP BY (`schema.lead_check`)
        and (not dedupe or (dups_table is not None and not null_ids))
        and all(_FLAG.search(sql) for sql in c.aggs.exprs)  # each aggregate reads a flag, so `_ls_in`
    )
    # the single pass keeps every row in its GROUP BY: where a lead's events are spread, a count of the
    # events scored is a filtered aggregate over all of them (0.26 CPU s of 3.7 on the product-led
    # benchmark model's 10M events), and the run counts them apart instead (`scored_events_sql`, 0.06-0.09);
    # clustered, `count_if` in the pass costs less than that count (0.16 on the generated set's 10M)
    n_all = None
    if not single:
        n_all = c.aggs.add("count(*)")
    elif c.count_if:
        n_all = c.aggs.add(f"count_if({IN})")
    row_check = q.any_of([f"{schema.row_check}", *([number_check] if number_check else [])])
    # no aggregate when every row condition is a scan of its own (`SourceSchema.scan_check`)
    check_agg = c.aggs.add(f"bool_or({row_check})") if single and row_check != "FALSE" else None
    # events whose filter is unknown: a deferred look-up must evaluate one of their values (lookups.py)
    unknown = [
        f"{name} IS NULL" for sql, name in c.flags.items() if lookups is not None and lookups.mentions_deferred(sql)
    ]
    risk_agg = c.aggs.add(f"bool_or({q.any_of(unknown)})") if unknown else None
    # every aggregate is known only now: rules, labels, stage and playbooks all registered theirs
    scored_events_sql = ""
    if single:
        keep = f"{TS} <= {at}"
        if dedupe:
            keep += f" AND {dups_table}_kept({ORD})"
        ctes = [
            f"_ls_ev AS (SELECT *, {_epoch_us(flavor)} AS {TS} FROM events)",
            f"_ls_evi AS (SELECT *, ({keep}) AS {IN} FROM _ls_ev)",
        ]
        source = "_ls_evi"
        if n_all is None:
            # less the copies dropped, counted from the check's list (`dropped_copies.dropped_macro`): the
            # macro `_kept` over every event made this count 0.43 CPU s against 0.09 (third data set, 10M)
            less = f" - {dups_table}_dropped({at})" if dedupe else ""
            scored_events_sql = f"WITH {ctes[0]} SELECT count(*){less} FROM _ls_ev WHERE {TS} <= {at}"
    else:
        ctes, source = event_ctes(schema, flavor, dedupe, dups_table, only, null_ids)
    events_source = source
    n_auto = 0
    if replay is not None:
        from leadscore.sql.stage_sql import auto_conditions

        n_auto = len(auto_conditions(model))
    if replay is not None and folded is None:
        conds = "".join(f", c._ls_c{k}" for k in range(n_auto))
        rows = source
        if _fold_alone(c, stage, aggregated):
            # only the fold's list reads the events here: an event with no row of the replay table at
            # its time (every condition NULL) enters it only by its type, so the others are dropped
            # before the join. The join of every replayed event (about 460,000 a part of 10,000 leads)
            # built its hash table on them; this filter builds it on the table's rows (about 23,000)
            assert stage is not None
            ctes.append(
                f"_ls_evr AS (SELECT * FROM {source} AS e0 WHERE {stage.fold_moving} OR EXISTS (SELECT 1 "
                f"FROM {replay} AS k WHERE k.lead_id = e0.lead_id AND k._ls_t = e0.{TS}))"
            )
            rows = "_ls_evr"
        ctes.append(
            f"_ls_evc AS (SELECT e.*{conds} FROM {rows} AS e LEFT JOIN {replay} AS c "
            f"ON c.lead_id = e.lead_id AND c._ls_t = e.{TS})"
        )
        source = "_ls_evc"
    unflagged = source
    if c.flags:
        if single:
            ctes.append(f"_ls_evf AS (SELECT *{c.flag_columns(IN)} FROM {source})")
        else:
            ctes.append(f"_ls_evf AS (SELECT *{c.flag_columns()} FROM {source} WHERE {TS} <= {at})")
        source = "_ls_evf"
    if c.factors:
        ctes.append(f"_ls_evx AS (SELECT *{c.factor_columns()} FROM {source})")
        source = "_ls_evx"
    agg_cols = ", ".join(["lead_id AS _ls_lead", *(f"{sql} AS {alias}" for sql, alias in c.aggs.exprs.items())])
    where = "" if single else f" WHERE {TS} <= {at}"
    cut = len(ctes)
    if aggregated is None:
        ctes.append(f"_ls_agg AS (SELECT {agg_cols} FROM {source}{where} GROUP BY lead_id)")
    else:
        ctes.append(reused_aggregates(c, aggregated, unflagged, source, where, only))
    leads = "leads" if only is None else f"(SELECT * FROM leads WHERE id IN (SELECT lead_id FROM {only}))"
    if event_leads and single:
        attrs = [q.ident(col) for col in schema.leads.columns()]
        ctes.append(f"_ls_leads AS (SELECT {', '.join(['id', *attrs])} FROM leads)")
        base = "SELECT coalesce(l.id, a._ls_lead) AS _ls_id, l.*, a.* FROM _ls_leads AS l FULL JOIN _ls_agg AS a "
        base += "ON a._ls_lead = l.id"
    elif event_leads:
        attrs = [q.ident(col) for col in schema.leads.columns()]
        late = ", ".join(["lead_id", *("NULL" for _ in attrs)])
        late_where = f"{_epoch_us(flavor)} > {at} AND lead_id NOT IN (SELECT id FROM leads)"
        if only is not None:
            late_where += f" AND lead_id IN (SELECT lead_id FROM {only})"
        ctes.append(
            f"_ls_leads AS (SELECT {', '.join(['id', *attrs])} FROM {leads} AS l0 UNION ALL SELECT DISTINCT {late} "
            f"FROM events WHERE {late_where})"
        )
        base = "SELECT coalesce(l.id, a._ls_lead) AS _ls_id, l.*, a.* FROM _ls_leads AS l FULL JOIN _ls_agg AS a "
        base += "ON a._ls_lead = l.id"
    else:
        base = f"SELECT l.id AS _ls_id, l.*, a.* FROM {leads} AS l LEFT JOIN _ls_agg AS a ON a._ls_lead = l.id"
    if replay is not None:
        at_t = "".join(f", r._ls_c{k} AS _ls_ct{k}" for k in range(n_auto))
        fold_col, fold_join = "", ""
        if folded is not None:
            from leadscore.sql.stage_sql import FOLDED

            fold_col, fold_join = f", f.{FOLDED}", f" LEFT JOIN {folded} AS f ON f.lead_id = b._ls_id"
        ctes.append(f"_ls_base0 AS ({base})")
        base = (
            f"SELECT b.*{at_t}{fold_col} FROM _ls_base0 AS b LEFT JOIN {replay} AS r "
            f"ON r.lead_id = b._ls_id AND r._ls_t = {at}{fold_join}"
        )
    ctes.append(f"_ls_base AS ({base})")
    ctes += score_ctes(model, rules, flavor, "_ls_base")
    last = "_ls_dims"
    if labels:
        ctes.append(f"_ls_labels AS (SELECT *, {', '.join(labels)} FROM {last})")
        last = "_ls_labels"
    fallback = "FALSE"
    needs_replay = "FALSE"
    if stage is not None:
        from leadscore.sql.stage_sql import FOLD

        if stage.columns:
            cols = ", ".join(f"{sql} AS {name}" for name, sql in stage.columns)
            ctes.append(f"_ls_autos AS (SELECT *, {cols} FROM {last})")
            last = "_ls_autos"
        if stage.fold is not None:
            ctes.append(f"_ls_fold AS (SELECT *, {stage.fold} AS {FOLD} FROM {last})")
            last = "_ls_fold"
        elif stage.recursive is not None:
            ctes += fold_ctes(stage.recursive, events_source, last, at, "_ls_fold", FOLD)
            last = "_ls_fold"
        stage_cols = [(stage.stage, STAGE), (stage.bad, "_ls_bad"), (stage.undecided, "_ls_nr")]
        if flavor == "duckdb":
            stage_cols, last = _named_once(ctes, stage_cols, last, "_ls_sx")
        picked = ", ".join(f"{sql} AS {name}" for sql, name in stage_cols)
        ctes.append(f"_ls_stage AS (SELECT *, {picked} FROM {last})")
        last = "_ls_stage"
        fallback = "(_ls_bad OR _ls_nr)"
        needs_replay = "(_ls_nr AND NOT _ls_bad)"
    else:
        ctes.append(f"_ls_stage AS (SELECT *, CAST(NULL AS VARCHAR) AS {STAGE} FROM {last})")
        last = "_ls_stage"

    out = [
        "_ls_id AS lead_id",
        f"{TOTAL} AS score",
        *(f"_ls_d{j} AS dim_{j}" for j in range(len(dims))),
        *(f"_ls_p{i} AS points_{i}" for i in range(len(rules)) if breakdown),
        *(f"_ls_e{i} AS events_{i}" for i, r in enumerate(rules) if r.events is not None and breakdown),
        *(f"_ls_j{j} AS adjust_{j}" for j in range(len(dims)) if breakdown),
        *(f"_ls_l{i} AS label_{i}" for i in range(len(model.labels))),
        f"{STAGE} AS stage",
        f"{playbook} AS playbook",
        f"{fallback} AS fallback",
        f"coalesce({n_all}, 0) AS n_events" if n_all is not None else "CAST(NULL AS BIGINT) AS n_events",
    ]
    if horizon is not None:
        out.append(f"{horizon} AS next_change_at")
    if flavor == "duckdb":
        out.append(f"{needs_replay} AS needs_replay")
    if risk_agg is not None:
        out.append(f"coalesce({risk_agg}, FALSE) AS lookup_risk")
    if single:
        checks = [f"coalesce({check_agg}, FALSE)"] if check_agg is not None else []
        checks += [f"coalesce({schema.lead_check}, FALSE)"] if schema.lead_check else []
        out.append(f"{q.any_of(checks)} AS input_check")
    recursive = "RECURSIVE " if stage is not None and stage.recursive is not None else ""
    final = f"\nSELECT {', '.join(out)} FROM {last}"
    sql = f"WITH {recursive}" + ",\n".join(ctes) + final
    # cut at the aggregates where what follows reads no CTE before them (a recursive fold reads the events)
    cuttable = flavor == "duckdb" and not recursive
    aggregates_sql = "WITH " + ",\n".join(ctes[: cut + 1]) + "\nSELECT * FROM _ls_agg" if cuttable else ""
    return QueryPlan(
        sql=sql,
        rules=rules,
        dimensions=dims,
        adjustments=[],
        label_sets=list(model.labels),
        has_lifecycle=model.lifecycle is not None,
        dynamic_lifecycle=bool(stage and stage.dynamic),
        # the deferred look-ups may wait only if the flags alone read them: elsewhere NULL would pass unseen
        lookup_risk=risk_agg is not None and not _reads_deferred_outside_flags(sql, c, lookups),
        row_check=single,
        aggregates_sql=aggregates_sql,
        after_aggregates=",\n".join(ctes[cut + 1 :]) + final if cuttable else "",
        aggregate_columns={key: c.aggs.exprs[sql] for sql, key in aggregate_keys(c).items()},
        scored_events_sql=scored_events_sql,
    )


def _fold_alone(c: Compiler, stage: StageSql | None, aggregated: Aggregated | None) -> bool:
    """The replay's pass computes no aggregate over the events but the fold's list: every other is
    read from `aggregated`, the scoring query's."""
    if aggregated is None or stage is None or stage.fold_list is None or stage.fold_moving is None:
        return False
    return set(new_aggregates(c, aggregated)) <= {stage.fold_list}


def _named_once(
    ctes: list[str], columns: list[tuple[str, str]], last: str, prefix: str
) -> tuple[list[tuple[str, str]], str]:
    """`columns` ((SQL, name) over the rows of `last`) with their repeated parts computed once, in CTEs
    appended to `ctes` (`hoist`: the stage bounds repeat whole score bounds, which DuckDB bound and
    planned at each copy); returns the columns and the CTE they read."""
    layers, exprs = hoist([sql for sql, _ in columns], prefix)
    for k, layer in enumerate(layers):
        ctes.append(f"{prefix}_{k} AS (SELECT *, {', '.join(f'{sql} AS {name}' for sql, name in layer)} FROM {last})")
        last = f"{prefix}_{k}"
    return [(sql, name) for sql, (_, name) in zip(exprs, columns, strict=True)], last


def _reads_deferred_outside_flags(sql: str, c: Compiler, lookups: Lookups | None) -> bool:
    if lookups is None:
        return False
    # longest first: a flag's text may hold a shorter flag's (`type = 'visit'` inside the CASE of a
    # `where:` on that type); removing the short one first left the long one's look-up behind, read as
    # "outside the flags", and the look-ups then ran before the query (a pass over those columns)
    for flag_sql in sorted(c.flags, key=len, reverse=True):
        sql = sql.replace(flag_sql, "")
    return lookups.mentions_deferred(sql)
