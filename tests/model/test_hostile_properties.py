"""Generated hostile model text: whatever it holds, the loader either returns a model or raises a located
ModelError, never another exception, and never holds more than a bounded amount of memory while deciding."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.model import ModelError, parse_model
from leadscore.model.limits import MODEL_LIMITS
from leadscore.model.regex import compile_pattern, searcher
from leadscore.model.yamlguard import decode_yaml_bytes
from tests.model.hostile import MEMORY_BOUND_MB, MINIMAL

# pytest-timeout turns a hang into a failure; no duration is asserted
pytestmark = pytest.mark.timeout(600)
HOSTILE = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def refusal(text: str) -> ModelError:
    """The ModelError `text` is refused with, measured: the peak of Python allocations stays bounded."""
    tracemalloc.start()
    try:
        parse_model(text, source="m.yaml")
    except ModelError as exc:
        return exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < MEMORY_BOUND_MB * 1024 * 1024, f"{peak / 1e6:.0f} MB"
    raise AssertionError("accepted")


def outcome(text: str) -> ModelError | None:
    try:
        parse_model(text, source="m.yaml")
    except ModelError as exc:
        assert all(i.format("m.yaml").startswith("m.yaml") for i in exc.issues)
        return exc
    return None


@st.composite
def alias_bombs(draw: Any) -> tuple[str, int]:
    """An anchored value and levels of aliases of the level below, placed anywhere in a model."""
    levels = draw(st.integers(1, 12))
    width = draw(st.integers(2, 12))
    name = draw(st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True))
    flow = draw(st.booleans())
    lines = [f"{name}0: &{name}0 [lol, lol, lol]"]
    for i in range(1, levels + 1):
        refs = [f"*{name}{i - 1}"] * width
        lines.append(f"{name}{i}: &{name}{i} [{', '.join(refs)}]" if flow else f"{name}{i}: &{name}{i}")
        if not flow:
            lines.extend(f"  - {r}" for r in refs)
    at = draw(st.integers(0, 3))
    head = MINIMAL.splitlines()
    body = [*head[:at], *lines, *head[at:]]
    return "\n".join(body) + "\n", at + 1


@HOSTILE
@given(alias_bombs())
def test_alias_bombs_are_refused_at_their_first_anchor(bomb: tuple[str, int]) -> None:
    text, line = bomb
    exc = refusal(text)
    assert exc.issues[0].line == line and "anchors (&" in exc.issues[0].message


tag_names = st.one_of(
    st.from_regex(r"!![a-z]{1,8}(/[a-z_.:]{1,20})?", fullmatch=True),
    st.from_regex(r"![a-z][a-z0-9]{0,8}", fullmatch=True),
    st.just("!"),
    st.from_regex(r"!<tag:[a-z]{1,8}\.com,20[0-9]{2}:[a-z]{1,8}>", fullmatch=True),
)


@HOSTILE
@given(tag_names, st.sampled_from(["visit", "[a, b]", "{a: 1}", "'quoted'", "1"]))
def test_any_tag_on_any_node_is_refused_where_it_stands(tag: str, value: str) -> None:
    exc = refusal(f"format: 1\nname: x\nrules:\n  - id: r\n    on: {tag} {value}\n    points: 1\n")
    assert (exc.issues[0].line, exc.issues[0].column) == (5, 9) and "tags (" in exc.issues[0].message


# each example costs about a second whatever its depth: the YAML scanner looks up to 1024 characters
# ahead for a flow key before the depth bound is met
@settings(HOSTILE, max_examples=12)
@given(st.integers(MODEL_LIMITS.max_depth, 20_000), st.lists(st.sampled_from(["[", "{k: "]), min_size=1, max_size=4))
def test_nesting_beyond_the_limit_is_refused(depth: int, kinds: list[str]) -> None:
    opens = [kinds[i % len(kinds)] for i in range(depth)]
    closing = "".join("]" if o == "[" else "}" for o in reversed(opens))
    exc = refusal(f"format: 1\nname: x\nrules: {''.join(opens)}1{closing}\n")
    assert exc.issues[0].line == 3 and "nested more than" in exc.issues[0].message


@HOSTILE
@given(st.binary(min_size=1, max_size=64), st.integers(0, len(MINIMAL)))
def test_arbitrary_bytes_spliced_into_a_model_never_escape_as_another_error(junk: bytes, at: int) -> None:
    data = MINIMAL.encode()[:at] + junk + MINIMAL.encode()[at:]
    try:
        text = decode_yaml_bytes(data, "m.yaml")
    except ModelError as exc:
        assert exc.issues[0].message.startswith(("not UTF-8", "the file is UTF-"))
        return
    outcome(text)


@HOSTILE
@given(st.text(max_size=200))
def test_arbitrary_text_never_escapes_as_another_error(text: str) -> None:
    outcome(text)
    outcome(MINIMAL + text)


@HOSTILE
@given(st.text(alphabet="()[]{}*+?|^$.\\-:=<>!,0123456789adPwsbBzZ", max_size=40))
def test_any_pattern_is_either_refused_at_its_line_or_runs_in_linear_time(pattern: str) -> None:
    import json

    text = (
        "format: 1\nname: x\nrules:\n  - id: r\n    on: visit\n    points: 1\n"
        f"    where: {{path: {{matches: {json.dumps(pattern)}}}}}\n"
    )
    exc = outcome(text)
    if exc is not None:
        assert exc.issues[0].line == 7 and exc.issues[0].path == "rules[0].where.path.matches"
        return
    compile_pattern(pattern)
    found: Callable[[str], bool] = searcher(pattern)
    for subject in ("a" * 20_000 + "!", "0" * 20_000, "ab" * 10_000 + "\n"):
        found(subject)  # RE2: linear in the text, whatever the pattern


@HOSTILE
@given(st.integers(0xD800, 0xDFFF), st.sampled_from(["description: {}", "rules:\n  - {{id: r, on: {}, points: 1}}"]))
def test_any_lone_surrogate_escape_is_refused_at_its_line(code: int, where: str) -> None:
    escaped = f'"\\u{code:04x}"'
    head = "format: 1\nname: x\n"
    body = where.format(escaped) + ("" if "rules" in where else "\nrules: [{id: r, on: v, points: 1}]")
    exc = refusal(head + body + "\n")
    assert exc.issues[0].line in (3, 4) and "lone UTF-16 surrogate" in exc.issues[0].message
