"""Numbers in a model file are finite and within +-2**53: `.nan` / `.inf` points, caps, floors,
limits and predicate values are model errors with file:line:field, not crashes at scoring time."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadscore.model import ModelError, load_model


@pytest.mark.parametrize(
    ("line", "field", "text"),
    [
        ("  - {id: a, dimension: d, on: x, points: .nan}", "rules[0].points", "NaN"),
        ("  - {id: a, dimension: d, on: x, points: -.inf}", "rules[0].points", "-Infinity"),
        ("  - {id: a, dimension: d, on: x, points: 1e400}", "rules[0].points", "Infinity"),
        ("  - {id: a, dimension: d, on: x, points: 1, limit: .inf}", "rules[0].limit", "Infinity"),
        ("  - {id: a, dimension: d, on: x, points: 1e300}", "rules[0].points", "out of range"),
        ("  - {id: a, dimension: d, on: x, where: {amount: {gt: .nan}}, points: 1}", "rules[0].where.amount.gt", "NaN"),
    ],
)
def test_non_finite_rule_numbers_are_model_errors(tmp_path: Path, line: str, field: str, text: str) -> None:
    path = tmp_path / "model.yaml"
    path.write_text(f"format: 1\nname: t\ndimensions:\n  d: {{}}\nrules:\n{line}\n")
    with pytest.raises(ModelError) as info:
        load_model(path)
    message = str(info.value)
    assert f"{path}:6:" in message and field in message and text in message, message


def test_non_finite_cap_and_floor_are_model_errors(tmp_path: Path) -> None:
    path = tmp_path / "model.yaml"
    path.write_text(
        "format: 1\nname: t\ndimensions:\n  d: {cap: .inf, floor: -.nan}\n"
        "rules:\n  - {id: a, dimension: d, on: x, points: 1}\n"
    )
    with pytest.raises(ModelError) as info:
        load_model(path)
    message = str(info.value)
    assert f"{path}:4:" in message and "dimensions.d.cap" in message and "dimensions.d.floor" in message, message


def test_cases_files_refuse_non_finite_data(tmp_path: Path) -> None:
    from leadscore.cases.model_tests import CaseFileError, load_cases

    path = tmp_path / "cases.yaml"
    path.write_text(
        "cases:\n"
        "  - name: nan amount\n"
        "    at: 2026-06-01T00:00:00Z\n"
        "    lead: {id: c-1, employees: .inf}\n"
        "    expect: {score: 0}\n"
        "  - name: nested nan\n"
        "    at: 2026-06-01T00:00:00Z\n"
        "    events:\n"
        "      - {type: buy, ago: 1d, items: [{price: .nan}]}\n"
        "    expect: {score: 0}\n",
        encoding="utf-8",
    )
    with pytest.raises(CaseFileError) as info:
        load_cases(path)
    text = info.value.render()
    assert f"{path}:4:" in text and "lead.employees: Infinity" in text, text
    assert f"{path}:9:" in text and "items[0].price: not a number (NaN)" in text, text
