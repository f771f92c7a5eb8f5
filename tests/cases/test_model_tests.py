"""Model tests (scoring as code): reading cases files with located errors, and comparing results."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadscore.cases.model_tests import CaseFileError, default_cases_path, load_cases, run_cases
from leadscore.model import parse_model

MODEL = parse_model(
    """
format: 1
name: t
dimensions: {fit: {}, engagement: {cap: 50}}
rules:
  - {id: visit, dimension: engagement, on: page_view, within: 30d, points: 10}
  - {id: big, dimension: fit, when: {attribute: employees, gte: 100}, points: 40}
labels:
  heat:
    - {label: hot, when: {score: engagement, gte: 30}}
    - {label: cold}
lifecycle:
  stages: [lead, mql]
  transitions: [{to: mql, when: {score: total, gte: 60}}]
playbooks:
  - {name: call, when: {label: heat, eq: hot}, priority: 1, action: Call now}
"""
)


def write(tmp_path: Path, text: str, name: str = "cases.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_passing_case_with_relative_times(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
at: 2026-06-01T00:00:00Z
cases:
  - name: three visits and a big company
    lead: {id: x, employees: 150}
    events:
      - {type: page_view, ago: 1d}
      - {type: page_view, ago: 29d}
      - {type: page_view, ago: 30d}
      - {type: page_view, timestamp: 2026-05-31T12:00:00Z, path: /pricing}
    expect:
      score: 70
      dimensions: {fit: 40, engagement: 30}
      labels: {heat: hot}
      stage: mql
      playbook: Call now
      priority: 1
      breakdown: {visit: 30, big: 40}
""",
    )
    [case] = load_cases(path)
    assert case.lead.id == "x" and len(case.events) == 4
    [outcome] = run_cases(MODEL, [case])
    assert outcome.passed, outcome.mismatches


def test_failures_name_each_difference(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
cases:
  - name: wrong on purpose
    at: 2026-06-01
    attributes: {employees: 10}
    events: [{type: page_view, ago: 2d}]
    expect:
      score: 11
      labels: {heat: hot}
      stage: mql
      playbook: call
      breakdown: {visit: 10, big: 40, no-such-rule: 0}
""",
    )
    [outcome] = run_cases(MODEL, load_cases(path))
    assert not outcome.passed
    found = {m.what: (m.expected, m.actual) for m in outcome.mismatches}
    assert found == {
        "score": (11, 10.0),
        "labels.heat": ("hot", "cold"),
        "stage": ("mql", "lead"),
        "playbook": ("call", None),
        "breakdown.big": (40, 0.0),
        "breakdown.no-such-rule": (0, "(no such rule in the model)"),
    }


def test_numbers_agree_within_a_tolerance(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
cases:
  - {name: close, at: 2026-06-01, events: [{type: page_view, ago: 1d}], expect: {score: 10.0000000001}}
  - {name: far, at: 2026-06-01, events: [{type: page_view, ago: 1d}], expect: {score: 10.001}}
""",
    )
    assert [o.passed for o in run_cases(MODEL, load_cases(path))] == [True, False]


def test_bad_cases_file_errors_are_located(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """cases:
  - name: one
    at: 2026-06-01
    expect: {score: high, colour: red}
  - name: two
    at: not-a-time
    events: [{type: page_view}]
    expect: {score: 1}
  - at: 2026-06-01
    lead: {id: a}
    attributes: {b: 1}
    expect: {}
""",
    )
    with pytest.raises(CaseFileError) as info:
        load_cases(path)
    text = info.value.render()
    assert f"{path}:4:" in text and "expect.score: expected a number, got 'high'" in text
    assert "unknown key 'colour'" in text
    assert f"{path}:6:" in text and "expected an ISO 8601 time" in text
    assert f"{path}:7:" in text and "exactly one of `timestamp:` or `ago:`" in text
    assert "every case needs a `name:`" in text
    assert "give `lead:` or `attributes:`, not both" in text


def test_invalid_yaml_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, "cases:\n  - name: x\n    expect: {score: 1\n")
    with pytest.raises(CaseFileError) as info:
        load_cases(path)
    assert str(path) in info.value.render() and "invalid YAML" in info.value.render()


def test_directory_of_cases_and_default_location(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    case = "cases:\n  - {name: %s, at: 2026-06-01, expect: {score: -0}}\n"
    write(tmp_path / "tests", case % "a", "a.yaml")
    write(tmp_path / "tests", case % "b", "b.yml")
    write(tmp_path / "tests", "not: a cases file\n", "notes.txt")
    assert default_cases_path(tmp_path / "model.yaml") == (tmp_path / "tests").resolve()
    cases = load_cases(default_cases_path(tmp_path / "model.yaml"))
    assert [c.name for c in cases] == ["a", "b"]
    assert all(o.passed for o in run_cases(MODEL, cases))


def test_bad_data_in_a_case_fails_that_case(tmp_path: Path) -> None:
    path = write(tmp_path, "cases:\n  - {name: s, at: 2026-06-01, attributes: {stage: nowhere}, expect: {score: 0}}\n")
    [outcome] = run_cases(MODEL, load_cases(path))
    assert not outcome.passed and outcome.error is not None and "nowhere" in outcome.error
