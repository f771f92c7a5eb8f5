"""`matches:` has RE2 semantics: linear time whatever the pattern, and what RE2 cannot do is a model error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leadscore.model import ModelError, parse_model
from leadscore.model.limits import MAX_PATTERN_CHARS
from leadscore.model.regex import PatternError, compile_pattern, searcher
from tests.model.hostile import leadscore


def model_with(pattern: str) -> str:
    quoted = json.dumps(pattern)
    head = "format: 1\nname: x\nrules:\n  - id: r\n    on: visit\n    points: 1\n"
    return head + f"    where: {{path: {{matches: {quoted}}}}}\n"


def test_search_anywhere_with_re2_semantics() -> None:
    assert searcher("pricing")("/en/pricing/team")
    assert searcher("^/pricing")("/pricing") and not searcher("^/pricing")("/en/pricing")
    assert searcher("c$")("abc") and not searcher("c$")("abc\n")  # `$` is the very end of the text
    assert not searcher("a.c")("a\nc")  # `.` does not match a newline
    assert not searcher(r"\d")("٣") and searcher(r"\d")("3")  # ASCII classes
    assert searcher("(?i)straße")("STRAßE")
    assert searcher(r"(?P<year>\d{4})")("in 2026")


@pytest.mark.parametrize(
    "pattern",
    [
        r"(a)\1",
        r"(?P<x>a)(?P=x)",
        r"(?=a)b",
        r"(?!a)b",
        r"(?<=a)b",
        r"(?<!a)b",
        r"a++",
        r"\Z",
        r"a{1001}",
        "(",
        "[z-a]",
    ],
)
def test_what_re2_cannot_compile_is_refused_with_file_line_and_field(pattern: str) -> None:
    with pytest.raises(ModelError) as info:
        parse_model(model_with(pattern), source="m.yaml")
    (issue,) = info.value.issues
    assert issue.line == 7 and issue.path == "rules[0].where.path.matches"
    assert "not a valid RE2 regular expression" in issue.message


def test_a_pattern_over_the_length_limit_is_refused() -> None:
    with pytest.raises(PatternError, match="longer than"):
        compile_pattern("a" * (MAX_PATTERN_CHARS + 1))
    with pytest.raises(ModelError, match="longer than"):
        parse_model(model_with("a" * (MAX_PATTERN_CHARS + 1)))


@pytest.mark.parametrize("pattern", ["^(a+)+$", "^(a|a)*$", "^(a|aa)+$", "(x+x+)+y", "^(([a-z])+.)+[A-Z]([a-z])+$"])
def test_catastrophic_patterns_answer_in_linear_time(pattern: str) -> None:
    # with a backtracking engine each of these takes longer than the age of the universe on this text
    assert not searcher(pattern)("a" * 50_000 + "!" if "x" not in pattern else "x" * 50_000)


@pytest.mark.integration
def test_scoring_with_a_catastrophic_pattern_does_not_stall(tmp_path: Path) -> None:
    (tmp_path / "model.yaml").write_text(model_with("^(a+)+$"))
    (tmp_path / "leads.csv").write_text("id\nl1\nl2\n")
    rows = [f"e{i},l{1 + i % 2},visit,2026-05-01T00:00:00Z,{'a' * 40 + ('!' if i % 2 else '')}" for i in range(50)]
    (tmp_path / "events.csv").write_text("id,lead_id,type,timestamp,path\n" + "\n".join(rows) + "\n")
    run = leadscore(
        "score",
        "model.yaml",
        "--leads",
        "leads.csv",
        "--events",
        "events.csv",
        "--at",
        "2026-06-01",
        "-f",
        "json",
        cwd=tmp_path,
    )
    assert run.code == 0, run.output
    scores = {r["lead_id"]: r["score"] for r in json.loads(run.stdout)}
    assert scores == {"l1": 25, "l2": 0}
