"""Accounts (B2B): leads grouped by account, with scores and labels rolled up from their leads.

Each dimension rolls up as its model says (`rollup: sum | max | mean`, default sum); the total is
the sum of the rolled-up dimensions. An account's labels apply the model's label bands to those
rolled-up scores (conditions on attributes or events see an account with neither).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadscore.engine import Scorer
from leadscore.engine.compile import Context
from leadscore.engine.timeline import Timeline
from leadscore.store.tables import leads, results


def _roll(values: list[float], how: str) -> float:
    if how == "max":
        return max(values)
    if how == "mean":
        return math.fsum(values) / len(values)
    return math.fsum(values)


def accounts(conn: Connection, scorer: Scorer, at: int, account: str | None = None) -> list[dict[str, Any]]:
    """Every account (or one) with its lead count, rolled-up dimensions, total and labels; best first."""
    query = (
        sa.select(leads.c.account, leads.c.id, results.c.dimensions)
        .join(results, results.c.lead_id == leads.c.id)
        .where(leads.c.account.is_not(None))
    )
    if account is not None:
        query = query.where(leads.c.account == account)
    grouped: dict[str, list[dict[str, float]]] = defaultdict(list)
    for row in conn.execute(query):
        grouped[row.account].append(row.dimensions)
    model = scorer.model
    empty = Timeline(())
    out: list[dict[str, Any]] = []
    for name, dims in grouped.items():
        rolled: dict[str, float] = {}
        for dim in scorer.dimensions:
            how = model.dimension_spec(dim).rollup or "sum"
            rolled[dim] = _roll([d.get(dim, 0.0) for d in dims], how)
        scores = {**rolled, "total": math.fsum(rolled.values())}
        labels = scorer.labels_at(Context(at, {}, empty, scores))
        out.append(
            {"account": name, "leads": len(dims), "score": scores["total"], "dimensions": rolled, "labels": labels}
        )
    out.sort(key=lambda a: (-a["score"], a["account"]))
    return out
