"""A stored result's JSON columns built as text in PostgreSQL, byte for byte as the store writes them.

The store writes JSON with Python's `json.dumps` (", " and ": " separators, ASCII escapes), and
reads it back with `json.loads`, where `5.0` stays a float but `5` becomes an int. So every piece
known before the query runs (keys, rule ids, labels, playbooks) is written by `json.dumps` here,
and each number is printed as Python's `repr` prints a float: PostgreSQL's shortest round-trip
digits (`extra_float_digits = 1`), plus the `.0` Python gives integral values.
"""

from __future__ import annotations

import json

from leadscore.domain import PlaybookMatch
from leadscore.model.spec import ScoringModel
from leadscore.sql import literals as q
from leadscore.sql.query import QueryPlan
from leadscore.store.codec import NO_PLAYBOOK_RANK, UNPRIORITISED_RANK

_MAX_ARGS = 90  # PostgreSQL functions take at most 100 arguments


def _lit(value: object) -> str:
    """A JSON fragment as a SQL text literal."""
    return q.text(json.dumps(value))


def _raw(fragment: str) -> str:
    return q.text(fragment)


def number(x: str) -> str:
    """Text of the double `x` as Python's `repr` writes it (also -0.0, NaN and Infinity)."""
    return (
        f"(CASE WHEN {x} = trunc({x}) AND abs({x}) < 1e15 THEN CAST({x} AS TEXT) || '.0' "
        f"WHEN {x} = trunc({x}) AND abs({x}) < 1e16 THEN CAST(CAST({x} AS BIGINT) AS TEXT) || '.0' "
        f"ELSE CAST({x} AS TEXT) END)"
    )


def _object(items: list[tuple[str, str]]) -> str:
    """`{"k": v, ...}` from (key, SQL text of the JSON value) pairs."""
    if not items:
        return _raw("{}")
    parts = []
    for i, (key, value) in enumerate(items):
        parts += [_raw(("{" if i == 0 else ", ") + json.dumps(key) + ": "), value]
    return "(" + " || ".join([*parts, _raw("}")]) + ")"


def _joined(entries: list[str]) -> str:
    """The non-null entries joined by ", " (concat_ws skips NULLs), in chunks PostgreSQL accepts."""
    if len(entries) <= _MAX_ARGS:
        return f"concat_ws(', ', {', '.join(entries)})" if entries else "''"
    chunks = [f"nullif({_joined(entries[i : i + _MAX_ARGS])}, '')" for i in range(0, len(entries), _MAX_ARGS)]
    return _joined(chunks)


def dimensions_json(plan: QueryPlan) -> str:
    return _object([(d, number(f"dim_{j}")) for j, d in enumerate(plan.dimensions)])


def labels_json(model: ScoringModel, plan: QueryPlan) -> str:
    items = []
    for i, name in enumerate(plan.label_sets):
        known = dict.fromkeys(b.label for b in model.labels[name])
        whens = " ".join(f"WHEN {q.text(label)} THEN {_lit(label)}" for label in known)
        items.append((name, f"(CASE label_{i} {whens} ELSE 'null' END)"))
    return _object(items)


def breakdown_json(plan: QueryPlan) -> str:
    """BreakdownEntry.to_dict of the non-zero rules (model order), then the non-zero floors / caps."""
    entries = []
    for i, r in enumerate(plan.rules):
        head = _raw(json.dumps({"rule": r.id, "dimension": r.dimension})[:-1] + ', "points": ')
        tail = f"', \"events\": ' || CAST(events_{i} AS TEXT) || '}}'" if r.events is not None else _raw("}")
        entries.append(f"(CASE WHEN points_{i} <> 0 THEN {head} || {number(f'points_{i}')} || {tail} END)")
    for j, d in enumerate(plan.dimensions):
        rule = f"(CASE WHEN adjust_{j} < 0 THEN {_lit('cap:' + d)} ELSE {_lit('floor:' + d)} END)"
        rest = _raw(", " + json.dumps("dimension") + ": " + json.dumps(d) + ', "points": ')
        value = number(f"adjust_{j}")
        entries.append(f"(CASE WHEN adjust_{j} <> 0 THEN '{{\"rule\": ' || {rule} || {rest} || {value} || '}}' END)")
    return f"('[' || {_joined(entries)} || ']')"


def _match(model: ScoringModel, index: int) -> PlaybookMatch:
    p = model.playbooks[index]
    return PlaybookMatch(index, p.action, p.priority, tuple(p.content), p.name)


def playbook_json(model: ScoringModel) -> str:
    """codec.playbook_json of the matched playbook; JSON null (as the store writes None) when none."""
    if not model.playbooks:
        return _raw("null")
    whens = []
    for i in range(len(model.playbooks)):
        match = _match(model, i)
        whens.append(f"WHEN {i} THEN {_lit({**match.to_dict(), 'index': match.index})}")
    return f"(CASE playbook {' '.join(whens)} ELSE 'null' END)"


def queue_rank(model: ScoringModel) -> str:
    """codec.queue_rank of the matched playbook."""
    whens = []
    for i, p in enumerate(model.playbooks):
        rank = UNPRIORITISED_RANK if p.priority is None else min(p.priority, UNPRIORITISED_RANK - 1)
        whens.append(f"WHEN {i} THEN {rank}")
    if not whens:
        return str(NO_PLAYBOOK_RANK)
    return f"(CASE playbook {' '.join(whens)} ELSE {NO_PLAYBOOK_RANK} END)"
