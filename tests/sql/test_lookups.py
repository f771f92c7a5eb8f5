"""What lets the batch engine run `matches` and `contains` in DuckDB: its RE2 and lower() agree with the
pure scorer's (`leadscore.sql.lookups`), checked here against the installed DuckDB."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.model.regex import searcher
from leadscore.sql.lookups import LOWER_DIFFERS, Lookups, duckdb_regex
from tests.support.duckdb_connections import fresh_connection
from tests.support.profiles import examples

duckdb = pytest.importorskip("duckdb")


def test_lower_differs_from_python_only_on_the_listed_characters() -> None:
    """Every code point lowered by DuckDB and by Python's str.lower(): only LOWER_DIFFERS differ
    (alone, or as a capital sigma ending a word, which Python lowers to a final sigma)."""
    import pyarrow as pa

    points = [c for c in range(1, 0x110000) if not 0xD800 <= c <= 0xDFFF]
    chars = [chr(c) for c in points]
    # Python's lower() beside each character and the two compared in DuckDB: the same comparison as
    # fetching a million (point, lower) rows to compare here, at a third of the CPU
    py = pa.array([c.lower() for c in chars])
    table = pa.table({"c": pa.array(points, pa.int32()), "s": pa.array(chars), "py": py})
    con = fresh_connection()
    con.register("points", table)
    differ = {chr(c) for (c,) in con.execute("SELECT c FROM points WHERE lower(s) IS DISTINCT FROM py").fetchall()}
    assert differ <= set(LOWER_DIFFERS)
    word = "ΟΔΟΣ"  # Python lowers the last sigma to ς, DuckDB to σ: a value to evaluate in Python
    assert con.execute("SELECT lower(?)", [word]).fetchone()[0] != word.lower()
    assert "\u03a3" in LOWER_DIFFERS


# Pieces of patterns: ASCII literals and escapes, classes, anchors, (?i), word boundaries, repetition.
_ATOMS = st.sampled_from(
    ["a", "k", "s", "i", "K", "S", "I", "x", ".", "\\d", "\\w", "\\s", "\\W", "[a-z]", "[^a-z]", "[k-s]", "\\.", " "]
)
_TEXT = st.text(
    alphabet=st.sampled_from([*"akisKSIx. 1_\n\t", "\u212a", "\u017f", "\u0130", "\u0131", "é", "ß", "Σ", "٣"]),
    max_size=8,
)


@st.composite
def _patterns(draw: st.DrawFn) -> str:
    parts = draw(st.lists(_ATOMS, min_size=1, max_size=4))
    quant = draw(st.lists(st.sampled_from(["", "", "*", "+", "?", "{1,2}"]), min_size=len(parts), max_size=len(parts)))
    body = "".join(p + q for p, q in zip(parts, quant, strict=True))
    if draw(st.booleans()):
        body = f"\\b{body}"
    if draw(st.booleans()):
        body = f"(?:{body})$"
    if draw(st.booleans()):
        body = f"^{body}"
    return ("(?i)" if draw(st.booleans()) else "") + body


def _same_in_duckdb(pattern: str, texts: list[str]) -> None:
    """The pattern runs in DuckDB (`duckdb_regex`) and matches there exactly the texts the pure scorer's RE2 does."""
    assert duckdb_regex(pattern)
    con = fresh_connection()
    found = searcher(pattern)
    for text in texts:
        got = con.execute("SELECT regexp_matches(?, ?)", [text, pattern]).fetchone()[0]
        assert got == found(text), (pattern, text)


@settings(max_examples=examples(300), deadline=None)
@given(pattern=_patterns(), texts=st.lists(_TEXT, min_size=1, max_size=6))
def test_duckdb_regexp_matches_equals_the_pure_scorers_re2(pattern: str, texts: list[str]) -> None:
    _same_in_duckdb(pattern, texts)


# Non-ASCII pieces (literals, class ranges and negations, any character) for patterns without case folding.
_WIDE_ATOMS = st.sampled_from(["é", "ß", "Σ", "価格", "ı", "İ", "[à-ÿ]", "[^é]", "[α-ω]", ".", "a", "\\b", "(?:ß|ss)"])
_WIDE_TEXT = st.text(
    alphabet=st.sampled_from([*"aeEs ", "é", "É", "ß", "ẞ", "Σ", "σ", "ς", "価", "格", "ı", "İ", "ÿ"]), max_size=8
)


@settings(max_examples=examples(200), deadline=None)
@given(
    parts=st.lists(_WIDE_ATOMS, min_size=1, max_size=4), anchored=st.booleans(), texts=st.lists(_WIDE_TEXT, max_size=6)
)
def test_non_ascii_patterns_without_folding_run_in_duckdb_as_in_the_pure_scorer(
    parts: list[str], anchored: bool, texts: list[str]
) -> None:
    pattern = ("^" if anchored else "") + "".join(parts)
    _same_in_duckdb(pattern, texts)


@pytest.mark.parametrize(
    ("pattern", "direct"),
    [
        (r"(?i)\b(chief|c[eomt]o|vp)\b", True),
        (r"^\w+ \d+$", True),
        (r"^\pL+$", False),
        (r"\p{Greek}", False),
        ("münchen", True),  # no case folding: the same UTF-8 bytes in every build
        ("^/(ja/価格|tr/fiyatlandırma)(/|$)", True),
        ("(?i)münchen", False),  # folding non-ASCII text reads the builds' Unicode tables
        ("(?i:é)x", False),
        ("(?si)é", False),
        (r"a\Cb", False),
    ],
)
def test_which_patterns_run_in_duckdb(pattern: str, direct: bool) -> None:
    assert duckdb_regex(pattern) is direct


_LETTERS = [*"iIaknNs /", "\u0130", "\u0131", "\u0307", "\u03a3", "\u03c3", "\u03c2", "Ο", "Δ", "é", "ß", "\u212a"]


def _contains_in_duckdb(
    needle: str, texts: list[str | None], deferred: bool, eager: bool = False
) -> tuple[list[bool], set[str]]:
    """`contains` of `needle` as the engine compiles it over a table of `texts` (filled as a run fills
    it; a deferred look-up evaluated as `BatchRun` does once the query found a value needing it; with
    `eager`, the column is one whose look-ups are made before the query), and the values the pure
    scorer's predicate was asked about. Every answer is TRUE or FALSE, never NULL (a `not` would keep
    a NULL unknown)."""
    import pyarrow as pa

    con = fresh_connection()
    con.register("events", pa.table({"v": pa.array(texts, pa.string())}))
    lookups = Lookups("duckdb", defer_events=deferred, eager=frozenset({'"v"'} if eager else ()))
    sql = lookups.add("events", '"v"', "contains", needle)
    lookups.fill_duckdb(con, deferred=deferred)
    asked = {str(r[0]) for lk in lookups.entries.values() for r in con.execute(f"SELECT v FROM {lk.name}").fetchall()}
    answers = [r[0] for r in con.execute(f"SELECT {lookups.inline(sql)} FROM events").fetchall()]
    assert all(a is not None for a in answers), (needle, texts, answers)
    return [bool(a) for a in answers], asked | ({"?"} if lookups.values_tested else set())


@settings(max_examples=examples(300), deadline=None)
@given(
    needle=st.text(alphabet=st.sampled_from(_LETTERS), min_size=1, max_size=4),
    texts=st.lists(st.none() | st.text(alphabet=st.sampled_from(_LETTERS), max_size=8), min_size=1, max_size=6),
    deferred=st.booleans(),
    eager=st.booleans(),
)
def test_contains_equals_the_pure_scorers_on_text_whose_lower_case_differs(
    needle: str, texts: list[str | None], deferred: bool, eager: bool
) -> None:
    """Whatever the needle (with or without "i", a sigma or a combining dot) and the values (with "İ",
    a final "Σ"), the compiled `contains` answers as `needle.lower() in value.lower()`, deferred, made
    before the query, or on a column whose look-ups are never deferred."""
    got, _ = _contains_in_duckdb(needle, texts, deferred, eager)
    assert got == [t is not None and needle.lower() in t.lower() for t in texts], (needle, texts)


@pytest.mark.parametrize(
    ("needle", "asked"),
    [("newsletter", False), ("/docs/", False), ("GESCHÄFTSFÜHR", False), ("linkedin", True), ("σ", True)],
)
def test_contains_asks_the_pure_scorer_only_where_lower_case_can_change_the_answer(needle: str, asked: bool) -> None:
    """A needle without "i" or a sigma is decided by DuckDB's lower() alone, even on a value holding "İ"
    or "Σ"; one with an "i" asks only about values that hold "İ" and where DuckDB finds it."""
    texts = ["LİNKEDIN NEWSLETTER /DOCS/ GESCHÄFTSFÜHRER ΟΔΟΣ", "İstanbul", "linkedin"]
    got, values = _contains_in_duckdb(needle, texts, deferred=False)
    assert got == [needle.lower() in t.lower() for t in texts]
    assert bool(values) is asked


def test_an_events_look_up_evaluates_only_the_values_of_its_filters_types() -> None:
    """A (?i) pattern with non-ASCII text (a look-up) on a property other types fill with their own
    values: only the distinct values of the rule's types reach the pure scorer's predicate; the same
    pattern in a second rule widens the look-up to its types too; scores equal the pure scorer's."""
    from datetime import timedelta

    from leadscore.batch import run_batch
    from leadscore.domain.events import Event
    from leadscore.domain.lead import Lead
    from leadscore.domain.timeutil import parse_timestamp
    from leadscore.engine import score_many
    from leadscore.model import parse_model
    from tests.batch.compare import differences
    from tests.batch.tables import events_table, leads_table

    at = parse_timestamp("2026-06-01T00:00:00Z")
    model = parse_model(
        "format: 1\nname: t\nrules:\n"
        "  - {id: a, on: read, where: {path: {matches: '(?i)ανάλυση|straße'}}, points: 2}\n"
        "  - {id: b, on: [read, share], where: {path: {matches: '(?i)ανάλυση|straße'}}, points: 1, within: 30d}\n"
        "  - {id: c, on: view, where: {path: {contains: x}}, points: 1}\n"
    )
    paths = ["/ΑΝΑΛΥΣΗ/1", "/Straße", "/STRASSE", "/other"]
    events = [Event.of(f"l{i % 5}", "read", at - timedelta(days=i), path=paths[i % 4]) for i in range(8)]
    events += [Event.of(f"l{i % 5}", "share", at - timedelta(days=i), path=f"/ανάλυση/s{i}") for i in range(3)]
    events += [Event.of(f"l{i % 5}", "view", at - timedelta(hours=i), path=f"/ανάλυση/{i}") for i in range(40)]
    leads = [Lead(f"l{i}") for i in range(5)]
    run = run_batch(model, leads_table(leads), events_table(events), at)
    assert not differences([r.to_dict() for r in score_many(model, leads, events, at)], run.to_dicts())
    assert run.stats.lookup_values == len(paths) + 3  # the read and share paths, not the 40 views'
