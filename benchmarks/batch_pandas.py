"""A plain pandas implementation of a rule model, the yardstick of the batch benchmark.

It covers what the benchmark model uses (event rules with type / `where` eq-in filters, windows, decay,
once and limits; attribute, count, none conditions; floors and caps; labels on counts, attributes and
scores) and refuses anything else. It is written the way a data team would: one filtered group-by per
rule, joined back to the leads. It reports scores, dimensions and labels (no breakdown, no lifecycle).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from leadscore.model.conditions import (
    AllCondition,
    AnyCondition,
    AttributeCondition,
    CountCondition,
    NoneCondition,
    ScoreCondition,
)
from leadscore.model.spec import ConditionRule, EventRule, HalfLife, ScoringModel


def _mask_where(
    ev: pd.DataFrame, types: tuple[str, ...], where: dict[str, Any], within: int | None, at_us: int
) -> pd.Series:
    m = ev["type"].isin(types) if len(types) > 1 else ev["type"] == types[0]
    for prop, pred in where.items():
        items = dict(pred.predicate_items())
        if set(items) - {"eq", "in"}:
            raise NotImplementedError(f"where predicate {items}")
        values = [items["eq"]] if "eq" in items else list(items["in"])
        m &= ev[prop].isin(values)
    if within is not None:
        m &= ev["ts"] > at_us - int(within) * 1_000_000
    return m


def _attr(leads: pd.DataFrame, cond: Any) -> pd.Series:
    col = leads[cond.attribute] if cond.attribute in leads else pd.Series(np.nan, index=leads.index)
    out = col.notna()
    for key, v in cond.predicate_items():
        if key == "eq":
            out &= col == v
        elif key == "in":
            out &= col.isin(v)
        elif key == "between":
            out &= (col >= v[0]) & (col <= v[1])
        elif key in ("gt", "gte", "lt", "lte"):
            op = {"gt": "__gt__", "gte": "__ge__", "lt": "__lt__", "lte": "__le__"}[key]
            out &= getattr(col, op)(v).fillna(False).astype(bool)
        else:
            raise NotImplementedError(key)
    return out.fillna(False).astype(bool)


def _count(ev: pd.DataFrame, leads: pd.DataFrame, types: Any, where: Any, within: Any, at_us: int) -> pd.Series:
    m = _mask_where(ev, types, where, within, at_us)
    return ev.loc[m].groupby("lead_id").size().reindex(leads.index, fill_value=0)


def _cond(ev: pd.DataFrame, leads: pd.DataFrame, cond: Any, at_us: int, scores: dict[str, pd.Series]) -> pd.Series:
    if isinstance(cond, AttributeCondition):
        return _attr(leads, cond)
    if isinstance(cond, CountCondition):
        n = _count(ev, leads, cond.count, cond.where, cond.within, at_us)
        items = dict(cond.predicate_items())
        out = pd.Series(True, index=leads.index)
        for key, v in items.items():
            out &= {"gte": n >= v, "gt": n > v, "eq": n == v, "lte": n <= v, "lt": n < v}[key]
        return out
    if isinstance(cond, NoneCondition):
        return _count(ev, leads, cond.none, cond.where, cond.within, at_us) == 0
    if isinstance(cond, ScoreCondition):
        s = scores[cond.score]
        out = pd.Series(True, index=leads.index)
        for key, v in cond.predicate_items():
            out &= {"gte": s >= v, "gt": s > v, "eq": s == v, "lte": s <= v, "lt": s < v}[key]
        return out
    if isinstance(cond, AllCondition):
        out = pd.Series(True, index=leads.index)
        for c in cond.all:
            out &= _cond(ev, leads, c, at_us, scores)
        return out
    if isinstance(cond, AnyCondition):
        out = pd.Series(False, index=leads.index)
        for c in cond.any:
            out |= _cond(ev, leads, c, at_us, scores)
        return out
    raise NotImplementedError(type(cond).__name__)


def score_pandas(model: ScoringModel, leads: pd.DataFrame, events: pd.DataFrame, at_us: int) -> pd.DataFrame:
    """Scores, dimensions and labels per lead. `events` needs lead_id, type, ts (epoch micros) + properties."""
    leads = leads.set_index("id")
    ev = events[events["ts"] <= at_us]
    points: dict[str, pd.Series] = {}
    for rule in model.rules:
        if isinstance(rule, EventRule):
            m = _mask_where(ev, rule.on, rule.where, rule.within, at_us)
            sel = ev.loc[m, ["lead_id", "ts"]]
            if rule.once:
                sel = sel.groupby("lead_id", as_index=False).agg(ts=("ts", "max"))
            if rule.decay is None:
                total = sel.groupby("lead_id").size().astype(float) * rule.points
            else:
                age = (at_us - sel["ts"]) / 1e6
                w: Any
                if isinstance(rule.decay, HalfLife):
                    w = 0.5 ** (age / int(rule.decay.half_life))
                else:
                    w = np.maximum(0.0, 1.0 - age / int(rule.decay.linear))
                total = (w * rule.points).groupby(sel["lead_id"]).sum()
            if rule.limit is not None:
                total = total.clip(upper=rule.limit) if rule.points >= 0 else total.clip(lower=-rule.limit)
            points[rule.id] = total.reindex(leads.index, fill_value=0.0)
        elif isinstance(rule, ConditionRule):
            hit = _cond(ev, leads, rule.when, at_us, {})
            points[rule.id] = hit.astype(float) * rule.points
    out = pd.DataFrame(index=leads.index)
    for dim in model.dimension_names():
        raw = sum(
            (points[r.id] for r in model.rules if model.dimension_of(r) == dim), pd.Series(0.0, index=leads.index)
        )
        spec = model.dimension_spec(dim)
        out[dim] = raw.clip(lower=spec.floor, upper=spec.cap)
    out["total"] = out[model.dimension_names()].sum(axis=1)
    scores = {c: out[c] for c in out.columns}
    for name, bands in model.labels.items():
        label = pd.Series(None, index=leads.index, dtype=object)
        for band in reversed(bands):
            hit = _cond(ev, leads, band.when, at_us, scores) if band.when else pd.Series(True, index=leads.index)
            label = label.mask(hit, band.label)
        out[f"label:{name}"] = label
    return out
