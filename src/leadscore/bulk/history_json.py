"""The JSON texts the history pass writes (`lifecycle_history.finish`), made without the dicts and
objects `json_text` of `Result.to_dict` would need: each lead's stage history text, the breakdown and the
whole result a firing's payload carries, the payloads around it. Each gives the very text `json_text`
gives of the pure path's dicts (the tests compare them), at a fraction of the cost on a pass over
hundreds of thousands of leads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from leadscore.domain.result import PlaybookMatch, Result, StageChange, StageColumns
from leadscore.domain.timeutil import to_iso
from leadscore.sql import literals as q
from leadscore.store.backends import json_text
from leadscore.store.events_repo import json_value
from leadscore.triggers.firings import Fired, TriggerFiring, payload

# an entry's keys as `BreakdownEntry.to_dict` orders them, without and with `events`
_ENTRY_KEYS = (("rule", "dimension", "points"), ("rule", "dimension", "points", "events"))


def breakdown_dicts(text: str) -> list[dict[str, Any]]:
    """A breakdown's JSON text (the query's row) as `Result.to_dict` gives it for `result_of` of
    that row: each entry `BreakdownEntry.to_dict`'s keys in its order, `events` only when it is not
    null, the values as decoded. Without making the entries first: a frozen dataclass each (717,000
    at 100,000 leads x 50 events) turned back into these very dicts. The query writes its entries so
    (`result_shape`: the struct's keys in that order, null `events` dropped): a decoded entry with
    those keys is kept as it is, only another one is made again."""
    out: list[dict[str, Any]] = json_value(text)
    keys3, keys4 = _ENTRY_KEYS
    for k, b in enumerate(out):
        keys = tuple(b)
        if keys == keys3 or (keys == keys4 and b["events"] is not None):
            continue
        entry = {"rule": b["rule"], "dimension": b["dimension"], "points": b["points"]}
        events = b.get("events")
        if events is not None:
            entry["events"] = events
        out[k] = entry
    return out


def with_breakdown(firings: list[TriggerFiring], breakdown: list[dict[str, Any]]) -> list[TriggerFiring]:
    """`firings`, detected on a result without its breakdown, with `breakdown` (`breakdown_dicts`)
    in their payload's result: then each payload is the one `detect_triggers` gives for the whole
    result (its `result`, that result's `to_dict`, is the only part of a firing the breakdown
    reaches: a trigger's `when:` reads scores, labels and stage). So the lead's triggers are
    detected once, and the result is not made and turned into a dict again for the payload. Each
    firing gets lists and dicts of its own, as from `to_dict`."""
    for k, one in enumerate(firings):
        result = one.payload["data"]["result"]
        assert result["lead_id"] == one.lead_id and "breakdown" in result
        result["breakdown"] = breakdown if k == 0 else [dict(e) for e in breakdown]
    return firings


class AtText(dict[datetime, str]):
    """`to_iso` of each evaluation time met, made once: every lead of an apply has the same one. Also
    the JSON text of each playbook match met (`playbooks`): a part's leads share a few."""

    def __init__(self) -> None:
        super().__init__()
        self.playbooks: dict[PlaybookMatch, str] = {}

    def __missing__(self, at: datetime) -> str:
        text = self[at] = to_iso(at)
        return text


# The query's breakdown text (`result_shape`: DuckDB's compact JSON, each entry's keys in
# `BreakdownEntry.to_dict`'s order, null `events` dropped) when `json_text` of its decoded entries is
# that very text with a space after each separator: plain ASCII names with no quote, backslash or
# comma (a `:` not first), `points` in the plain notation Python's `repr` also writes (no exponent, an
# integer part of at most 16 digits, not below 0.0001, no trailing zero but `.0`), `events` a plain count.
_NAME = r'"(?:[\x20\x21\x23-\x2b\x2d-\x39\x3b-\x5b\x5d-\x7e][\x20\x21\x23-\x2b\x2d-\x5b\x5d-\x7e]*)?"'
# (the fraction of a number below 1 spelled out by its leading zeros, none to three, where a lookahead
# `(?!0000)` would say it: DuckDB's RE2, which runs the same pattern in `spaced_breakdown_sql`, has none)
_POINTS = (
    r"-?(?:[1-9][0-9]{0,15}\.(?:0|[0-9]{0,16}[1-9])|0\.(?:0|[1-9](?:[0-9]{0,15}[1-9])?|0[1-9](?:[0-9]{0,14}[1-9])?"
    r"|00[1-9](?:[0-9]{0,13}[1-9])?|000[1-9](?:[0-9]{0,12}[1-9])?))"
)
_ENTRY = rf'\{{"rule":{_NAME},"dimension":{_NAME},"points":{_POINTS}(?:,"events":(?:0|[1-9][0-9]{{0,17}}))?\}}'
SHAPED_PATTERN = rf"\[(?:{_ENTRY}(?:,{_ENTRY})*)?\]"
_SHAPED = re.compile(SHAPED_PATTERN)
# the respacing of a text `_SHAPED` matches: its separators, in the order `breakdown_text` replaces them
_RESPACE = (('":', '": '), (',"', ', "'), ("},{", "}, {"))


def breakdown_text(text: str) -> str:
    """`json_text(breakdown_dicts(text))`: the breakdown's JSON text as the payload holds it. The
    query's own text is respaced without decoding it (`_SHAPED`: its separators are then the only
    `":`, `,"` and `},{` in it); any other text is decoded and encoded. Decoding the entries into
    dicts and encoding them again cost 21 us a firing lead of the b2b model, this 8."""
    if _SHAPED.fullmatch(text) is None:
        return json_text(breakdown_dicts(text))
    for sep, spaced in _RESPACE:
        text = text.replace(sep, spaced)
    return text


def spaced_breakdown_sql(column: str) -> str:
    """DuckDB SQL: `breakdown_text` of the text in `column` where it is respaced (NULL where the
    text is not in the query's form and must be decoded and encoded: `breakdown_text` then). For a
    whole part at once, in DuckDB's own regular expressions and replaces: the check and respacing in
    Python, lead by lead, were 8 us a firing lead. The same pattern (`SHAPED_PATTERN`, which RE2 and
    Python's `re` read alike: the tests compare them) and the same replaces."""
    spaced = column
    for sep, by in _RESPACE:
        spaced = f"replace({spaced}, {q.text(sep)}, {q.text(by)})"
    return f"CASE WHEN regexp_full_match({column}, {q.text(SHAPED_PATTERN)}) THEN {spaced} END"


def result_text(result: Result, breakdown: str, at_text: AtText, spaced: str | None = None) -> str:
    """`json_text` of `result.to_dict()` with the breakdown of the query's JSON text `breakdown` (the
    payload's result): its head encoded as `to_dict` orders it, the breakdown respaced
    (`breakdown_text`; `spaced`: that text already, from `spaced_breakdown_sql`), no dict or list of
    the whole made."""
    assert not result.extras  # (`_result` makes none; `to_dict` would add them last)
    values = (result.lead_id, result.model, result.model_version, result.score, result.stage)
    dimensions, labels = json_text(result.dimensions), json_text(result.labels)
    return result_text_of(values, result.at, dimensions, labels, result.playbook, breakdown, at_text, spaced)


def result_text_of(
    values: tuple[str, str, str, float, str | None],
    at: datetime,
    dimensions: str,
    labels: str,
    playbook: PlaybookMatch | None,
    breakdown: str,
    at_text: AtText,
    spaced: str | None = None,
) -> str:
    """`result_text` of a result given by its values (lead, model, version, score, stage), its time,
    its dimensions' and labels' JSON texts (`json_text`) and its playbook: the history pass makes it
    from a part's columns, without a `Result` for each lead that fires."""
    # `json_text` of the head's dict, its values encoded one by one (the same encoder): 3.2 us a
    # result of the b2b model against 4.8 for the dict made and encoded whole
    text = _STRING
    lead, model, version, score, stage = values
    head = (
        f'{{"lead_id": {text(lead)}, "at": {text(at_text[at])}, "model": {text(model)}, '
        f'"model_version": {text(version)}, "score": {json_text(score)}, '
        f'"dimensions": {dimensions}, "labels": {labels}, "stage": {"null" if stage is None else text(stage)}'
    )
    if spaced is None:
        spaced = breakdown_text(breakdown)
    return f'{head}, "breakdown": {spaced}, "playbook": {_playbook_text(playbook, at_text)}}}'


# the end of a payload's JSON text with a null result (`payload` puts `result` last in `data`, and
# `data` last), its key included
_TAIL = '"result": null}}'


def payload_texts(found: list[Fired], lead_id: str, result: str, at_text: AtText | None = None) -> list[str]:
    """The JSON text (`json_text`) of the payload of each of `found` (one lead's transitions,
    `detect_transitions`) around `result`, the JSON text of the lead's whole result (`to_dict` with its
    breakdown), encoded once for all of them. Each payload's text is its trigger's template (`_template`:
    `payload`'s own text around placeholders) with the firing's values encoded into it: no dict of the
    payload made and encoded per firing (5.4 against 4.8 us a stage change's firing, 3.1 where its time's
    text is known). `at_text`: the times' texts made so far (`result_text`: the evaluation time, which a
    label or score change's firing has); a stage change's time is formatted, not kept (one a change)."""
    when = at_text if at_text is not None else AtText()
    text = _STRING
    out = []
    for f in found:
        fill = _TEMPLATES.get((f.trigger.id, f.trigger.destination, f.kind, *f.details))
        if fill is None:
            fill = _template(f)
        old, new = f.old, f.new  # (mostly texts: `_scalar` inline)
        old = text(old) if old.__class__ is str else _scalar(old)
        new = text(new) if new.__class__ is str else _scalar(new)
        at = when.get(f.at) or to_iso(f.at)  # (the result's time is known, a change's is formatted: not kept)
        out.append(fill(text(at), text(lead_id), old, new, *map(_scalar, f.details.values()), result))
    return out


def payload_batch(found: Sequence[Fired], leads: Sequence[str], results: Sequence[str], at_text: AtText) -> list[str]:
    """`payload_texts` of many leads' firings at once: the text of each of `found` (several leads'
    transitions, lead after lead), whose lead is `leads[k]` and whose lead's result text is
    `results[k]`. The firings are grouped by their template, and each group's values are encoded a
    column at a time and its texts made by one `map` of the template: no call per lead, no lookup of
    the template and no `_scalar` call per firing (a part's first apply fires for most of its leads)."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for k, f in enumerate(found):
        t = f.trigger
        shape = (t.id, t.destination, f.kind, *f.details)
        ks = groups.get(shape)
        if ks is None:
            groups[shape] = [k]
        else:
            ks.append(k)
    text = _STRING
    out: list[str] = [""] * len(found)
    for key, ks in groups.items():
        fill = _TEMPLATES.get(key) or _template(found[ks[0]])
        fs = [found[k] for k in ks]
        # (the result's time is known, a change's is formatted: `payload_texts`)
        ats = [text(at_text.get(f.at) or to_iso(f.at)) for f in fs]
        details = [_scalars([f.details[name] for f in fs]) for name in key[3:]]
        olds, news = _scalars([f.old for f in fs]), _scalars([f.new for f in fs])
        got = map(fill, ats, [text(leads[k]) for k in ks], olds, news, *details, [results[k] for k in ks])
        for k, one in zip(ks, got, strict=True):
            out[k] = one
    return out


def _scalars(values: list[Any]) -> list[str]:
    """`_scalar` of each value, the common texts and whole numbers inline (`json_text` of an int is
    its `repr`, as `str` gives it; a bool is not one)."""
    text = _STRING
    return [
        "null" if v is None else text(v) if v.__class__ is str else str(v) if v.__class__ is int else _scalar(v)
        for v in values
    ]


def result_texts(
    rows: Sequence[int],
    cols: Mapping[str, Sequence[Any]],
    spaced: Sequence[str | None],
    playbook_of: Callable[[str | None], PlaybookMatch | None],
    at_of: Callable[[int], datetime],
    at_text: AtText,
) -> list[str]:
    """`result_text_of` of each row i of `rows` of a part's columns (the query's row: `lead_id`,
    `model`, `model_version`, `score`, `stage`, `evaluated_at` and the JSON texts `dimensions`,
    `labels`, `playbook`, `breakdown`; `spaced[i]`: the breakdown respaced, or None), with
    `playbook_of` and `at_of` the playbook match and the time of a row's text and microseconds. The
    dimensions', labels', playbooks', models' and times' texts are made once per distinct value of
    the part (its leads share most), and each result's text in one pass over the rows, with no
    `Result` or call per lead."""
    text = _STRING
    leads, scores, stages, breakdowns = cols["lead_id"], cols["score"], cols["stage"], cols["breakdown"]
    models, versions, evaluated = cols["model"], cols["model_version"], cols["evaluated_at"]
    dims, labels, playbooks = cols["dimensions"], cols["labels"], cols["playbook"]
    # each distinct text once: `json_text` of its decoded value (the encoder's spacing and numbers)
    dim_text = {t: json_text(json_value(t)) for t in {dims[i] for i in rows}}
    label_text = {t: json_text(json_value(t)) for t in {labels[i] for i in rows}}
    pb_text = {t: _playbook_text(playbook_of(t), at_text) for t in {playbooks[i] for i in rows}}
    names = {t: text(t) for t in {*(models[i] for i in rows), *(versions[i] for i in rows)}}
    ats = {t: text(at_text[at_of(t)]) for t in {evaluated[i] for i in rows}}
    return [
        f'{{"lead_id": {text(leads[i])}, "at": {ats[evaluated[i]]}, "model": {names[models[i]]}, '
        f'"model_version": {names[versions[i]]}, "score": {_number(scores[i])}, '
        f'"dimensions": {dim_text[dims[i]]}, "labels": {label_text[labels[i]]}, '
        f'"stage": {"null" if stages[i] is None else text(stages[i])}, '
        f'"breakdown": {breakdown_text(breakdowns[i]) if spaced[i] is None else spaced[i]}, '
        f'"playbook": {pb_text[playbooks[i]]}}}'
        for i in rows
    ]


def _number(value: Any) -> str:
    """`json_text(value)`: a finite float is its `repr` (as the encoder writes it), anything else encoded."""
    if value.__class__ is float and value - value == 0.0:
        return float.__repr__(value)
    return json_text(value)


def _playbook_text(playbook: PlaybookMatch | None, at_text: AtText) -> str:
    """A result's `playbook` as `result_text_of` writes it (the text kept per match in `at_text`)."""
    if playbook is None:
        return "null"
    pb = at_text.playbooks.get(playbook)
    if pb is None:
        pb = at_text.playbooks[playbook] = json_text(playbook.to_dict())
    return pb


# by (trigger id, destination, kind, the details' keys): `str.format` of the payload's text with its
# values as the arguments (`_template`), the result's text last
_TEMPLATES: dict[tuple[Any, ...], Callable[..., str]] = {}


def _template(f: Fired) -> Callable[..., str]:
    """The text of `payload(f, ...)` with a null result, made once per trigger, kind and details' keys,
    with a marker in place of each value the firings differ by (their time, lead, from and to, details):
    cut at the markers' JSON texts, what is between them is `payload`'s own text, so the shape is stated
    once (`firings.payload`). Checked: the markers and only they are cut out (a trigger's own text that
    holds a marker's - a destination is any text - makes other markers be tried), and the text ends with
    the null result."""
    for salt in range(1, 1000):
        fill = _cut(f, salt)
        if fill is not None:
            _TEMPLATES[(f.trigger.id, f.trigger.destination, f.kind, *f.details)] = fill
            return fill
    raise AssertionError(f"no markers found for the payload of trigger {f.trigger.id!r}")  # pragma: no cover


def _cut(f: Fired, salt: int) -> Callable[..., str] | None:
    """`_template`'s format with the markers of `salt`, or None where the payload's own text holds one."""
    marks = [f"\x00{salt}:{k}\x00" for k in range(4 + len(f.details))]
    mark_at = datetime(1111, 11, 11, 11, 11, 11, salt, tzinfo=UTC)  # a time no firing has
    details = dict(zip(f.details, marks[4:], strict=True))
    probe = f._replace(at=mark_at, old=marks[2], new=marks[3], details=details)
    text = json_text(payload(probe, marks[1], None))
    assert text.endswith(_TAIL), text  # by `payload`'s construction: `result` last in `data`, `data` last
    text = text[: -len(_TAIL) + len('"result": ')]
    tokens = [(_STRING(to_iso(mark_at)), 0), *((_STRING(m), k) for k, m in enumerate(marks) if k)]
    found = sorted((pos, len(token), k) for token, k in tokens for pos in _positions(text, token))
    # the time's text is both `timestamp` and the change's `at` (argument 0 twice); the result last
    if sorted(k for _, _, k in found) != [0, 0, *range(1, len(marks))]:
        return None
    pieces, last = [], 0
    for pos, size, k in found:
        pieces.append(text[last:pos].replace("{", "{{").replace("}", "}}") + f"{{{k}}}")
        last = pos + size
    # then the result's text (the last argument) and the two braces closing `data` and the payload
    pieces.append(text[last:].replace("{", "{{").replace("}", "}}") + "{" + str(len(marks)) + "}" + "}}}}")
    return "".join(pieces).format


def _positions(text: str, token: str) -> list[int]:
    out, at = [], text.find(token)
    while at >= 0:
        out.append(at)
        at = text.find(token, at + len(token))
    return out


def _scalar(value: Any) -> str:
    """`json_text(value)`: a payload's value as it is encoded inside the payload (the same encoder)."""
    if value is None:
        return "null"
    if value.__class__ is str:
        return _STRING(value)
    return json_text(value)


def history_text(history: Sequence[StageChange], times: Sequence[int]) -> str:
    """`json_text` of the stage changes as `codec.result_row` stores them (`to_dict`'s keys, the time
    in microseconds: `times`, the walk's whole numbers), written straight from the changes: a dict
    per change and their list, encoded, cost 3.6 us a lead of three changes, this 1.4."""
    columns = StageColumns(
        [c.stage for c in history], [c.previous for c in history], [c.cause for c in history],
        [c.event_id for c in history], times,
    )  # fmt: skip
    return history_texts(columns, [0, len(times)])[0]


def history_texts(changes: StageColumns, first: Sequence[int]) -> list[str]:
    """`history_text` of each lead i of a part whose changes are first[i]..first[i + 1]-1 of
    `changes` (lead after lead, `walk_part`): each change's text made in one pass over the columns."""
    text = _STRING
    to, froms, causes, eids, times = changes
    entries = [
        f'{{"stage": {text(s)}, "at": {t}, "from": {"null" if f is None else text(f)}, "cause": {text(c)}, '
        f'"event_id": {"null" if e is None else text(e)}}}'
        for s, t, f, c, e in zip(to, times, froms, causes, eids, strict=True)
    ]
    return ["[" + ", ".join(entries[first[i] : first[i + 1]]) + "]" for i in range(len(first) - 1)]


_STRING = json.encoder.encode_basestring_ascii  # the string encoder of `json_text` (ASCII, escaped)
