"""Generated data files mixing valid rows with broken ones, written in every format the readers take.

A `Sheet` is the rows of one file (leads or events), each good or bad with the field a reader must
name; `write` renders it as CSV, JSON Lines, a JSON list or Parquet and says where each row lands
(its line, or its Parquet row), so a test can check that a command refuses exactly the bad rows,
at their place, and that what it accepts is what `leadscore score` makes of the good rows alone.
Non-finite numbers are left out: they are another suite's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

FORMATS = ("csv", "jsonl", "json", "parquet")
TIMES = ("2026-05-20T10:00:00Z", "2026-05-25T08:30:00+02:00", "2026-05-31", "2026-04-01T00:00:00Z")
TYPES = ("page_view", "demo_request", "email_open", "sales_accepted")
PATHS = ("/", "/pricing", "/blog", "/docs")
EXTRA = "\u00e9"  # written in Latin-1 by a row whose encoding is broken


@dataclass(frozen=True)
class Row:
    fields: dict[str, Any]
    bad: str | None = None  # the field a reader names (None: the row is good; "" : the row as a whole)
    store_only: bool = False  # only the store refuses it (a database column limit); `score` takes it
    latin1: bool = False  # written in Latin-1 instead of UTF-8
    open_quote: bool = False  # CSV: the last field opens a quote that never closes (last row only)

    def refused(self, store: bool) -> bool:
        return self.bad is not None and (store or not self.store_only)


@dataclass(frozen=True)
class Sheet:
    kind: str  # "events" or "leads"
    rows: tuple[Row, ...]

    def good(self, store: bool) -> Sheet:
        """The rows a command takes: the store refuses a few more than `score` does."""
        return Sheet(self.kind, tuple(r for r in self.rows if not r.refused(store)))

    def refused(self, store: bool) -> bool:
        return any(r.refused(store) for r in self.rows)

    @property
    def columns(self) -> list[str]:
        names: dict[str, None] = {}
        for row in self.rows:
            names.update(dict.fromkeys(row.fields))
        return list(names)


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": value} if depth % 2 else [value]
    return value


def _lead_ids(prefix: str) -> st.SearchStrategy[str]:
    return st.sampled_from([f"{prefix}{i}" for i in range(4)])


def good_event(prefix: str) -> st.SearchStrategy[Row]:
    props = st.fixed_dictionaries(
        {},
        optional={
            "path": st.sampled_from(PATHS),
            "amount": st.one_of(st.integers(-5, 500), st.sampled_from([12.5, 0.25])),
            "phone": st.sampled_from(["+4799887766", "0612345678", "12"]),
        },
    )
    # ids repeat within and across leads: per lead they are one event, across leads two
    ident = st.one_of(st.none(), st.sampled_from(["1", "2", "e-3"]))
    return st.builds(
        lambda lead, typ, ts, eid, p: Row(
            {"lead_id": lead, "type": typ, "timestamp": ts, **({"id": eid} if eid else {}), **p}
        ),
        _lead_ids(prefix),
        st.sampled_from(TYPES),
        st.sampled_from(TIMES),
        ident,
        props,
    )


def good_lead(prefix: str, index: int) -> st.SearchStrategy[Row]:
    return st.builds(
        lambda employees, phone, zip_code: Row(
            {"id": f"{prefix}{index}", "employees": employees, "phone": phone, "zip": zip_code}
        ),
        st.sampled_from([5, 50, 150, 5000]),
        st.sampled_from(["+4799887766", "0612345678"]),
        st.sampled_from(["0150", "2000"]),
    )


def bad_kinds(kind: str, fmt: str) -> list[str]:
    kinds = ["bad-time", "year-99999", "nul", "long-id", "missing-id"] if kind == "events" else []
    if kind == "leads":
        kinds = ["nul", "long-id", "missing-id", "duplicate-id", "long-account"]
    if fmt in ("jsonl", "json"):
        kinds.append("deep")
    if fmt in ("csv", "jsonl"):
        kinds.append("latin1")
    if fmt == "csv":
        kinds.append("broken-quote")
    if fmt == "parquet" and kind == "events":
        kinds.remove("bad-time")  # a Parquet time column holds times; year 99999 stands for it
    return kinds


def bad_row(kind: str, fmt: str, base: Row, what: str, depth: int) -> Row:
    """`base` (a good row) broken in the way `what` says."""
    f = dict(base.fields)
    key = "lead_id" if kind == "events" else "id"
    if what == "bad-time":
        return Row({**f, "timestamp": "2026-13-01T00:00:00Z"}, "timestamp")
    if what == "year-99999":
        return Row({**f, "timestamp": "99999-01-01T00:00:00Z"}, "timestamp")
    if what == "nul":
        return Row({**f, "note": "before\u0000after"}, "note")
    if what == "long-id":
        return Row({**f, key: "L" * 256}, key)
    if what == "missing-id":
        return Row({k: v for k, v in f.items() if k != key}, key)
    if what == "long-account":
        return Row({**f, "account": "a" * 256}, "account", store_only=True)
    if what == "deep":
        return Row({**f, "meta": nested(depth)}, "meta")
    if what == "latin1":
        return Row({**f, "note": "caf" + EXTRA}, "note" if fmt == "csv" else "", latin1=True)
    if what == "broken-quote":
        return Row({**f}, "", open_quote=True)
    raise AssertionError(what)


@st.composite
def sheets(draw: st.DrawFn, kind: str, fmt: str, prefix: str) -> Sheet:
    """3 to 8 rows, about a third of them broken (a broken quote can only be the last row)."""
    n = draw(st.integers(3, 8))
    rows: list[Row] = []
    for i in range(n):
        base = draw(good_event(prefix) if kind == "events" else good_lead(prefix, i))
        if draw(st.integers(0, 2)) == 0:
            kinds = [k for k in bad_kinds(kind, fmt) if k != "broken-quote" or i == n - 1]
            if kind == "leads" and (i == 0 or rows[0].bad is not None):
                kinds.remove("duplicate-id")  # only a good lead's id is remembered, and repeated
            what = draw(st.sampled_from(kinds))
            if what == "duplicate-id":
                rows.append(Row({**base.fields, "id": rows[0].fields["id"]}, "id"))
                continue
            rows.append(bad_row(kind, fmt, base, what, draw(st.integers(65, 300))))
        else:
            rows.append(base)
    return Sheet(kind, tuple(rows))


def write(sheet: Sheet, path: Path, store: bool = False) -> list[str]:
    """Write the sheet in the format of `path`'s extension; returns the place of each row the
    command refuses (`file:line` or `file:row N`, with `:field` when one is named); `store`: the
    command writes to the store."""
    fmt = path.suffix[1:]
    places = {"csv": lambda i: str(i + 2), "jsonl": lambda i: str(i + 1), "json": lambda i: str(i + 2)}
    place = places.get(fmt, lambda i: f"row {i + 1}")
    if fmt == "csv":
        _write_csv(sheet, path)
    elif fmt == "jsonl":
        path.write_bytes(b"".join(_json_line(r) + b"\n" for r in sheet.rows))
    elif fmt == "json":
        path.write_bytes(b"[\n" + b",\n".join(_json_line(r) for r in sheet.rows) + b"\n]\n")
    else:
        _write_parquet(sheet, path)
    key = "lead_id" if sheet.kind == "events" else "id"
    if fmt in ("csv", "parquet") and key not in sheet.columns:
        # every row lacks its id: the file has no such column, and is refused as a whole (named, no row)
        return [f"{path}: missing required column"]
    return [f"{path}:{place(i)}" + (f":{r.bad}" if r.bad else "") for i, r in enumerate(sheet.rows) if r.refused(store)]


def _json_line(row: Row) -> bytes:
    text = json.dumps(row.fields, ensure_ascii=False)
    return text.encode("latin-1" if row.latin1 else "utf-8")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value)
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text


def _write_csv(sheet: Sheet, path: Path) -> None:
    columns = sheet.columns
    out = [(",".join(columns) + "\n").encode()]
    for row in sheet.rows:
        line = ",".join(_cell(row.fields.get(c)) for c in columns)
        if row.open_quote:
            line += ',"never closed'
        out.append((line + "\n").encode("latin-1" if row.latin1 else "utf-8"))
    path.write_bytes(b"".join(out))


def _write_parquet(sheet: Sheet, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from leadscore.domain.timeutil import parse_timestamp, to_micros

    columns: dict[str, Any] = {}
    for name in sheet.columns:
        values = [r.fields.get(name) for r in sheet.rows]
        if name == "timestamp":
            micros = [_micros(v, parse_timestamp, to_micros) for v in values]
            columns[name] = pa.array(micros, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
        elif all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in values):
            columns[name] = pa.array(values, pa.int64())
        elif all(v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in values):
            columns[name] = pa.array([None if v is None else float(v) for v in values], pa.float64())
        else:
            columns[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
    pq.write_table(pa.table(columns), path)


def _micros(value: Any, parse: Any, micros: Any) -> int | None:
    if value is None:
        return None
    if value.startswith("99999"):
        return 3_093_527_980_800_000_000  # the year 99999: a Parquet time holds it, Python cannot
    return int(micros(parse(value)))
