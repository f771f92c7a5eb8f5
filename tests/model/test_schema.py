"""The JSON Schema of model files: editors use it to complete and check what a user types."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from leadscore.model.loader import parse_yaml
from leadscore.model.schema import SCHEMA_DIALECT, model_schema

jsonschema = pytest.importorskip("jsonschema")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MODELS = sorted(EXAMPLES.glob("*/model.yaml"))


def load(path: Path) -> Any:
    data, _ = parse_yaml(path.read_text(encoding="utf-8"), str(path))
    return data


@pytest.fixture(scope="module")
def validator() -> Any:
    schema = model_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_names_itself() -> None:
    schema = model_schema()
    assert schema["$schema"] == SCHEMA_DIALECT
    assert "scoring model" in schema["title"] and schema["description"]
    assert {"format", "name", "rules"} <= set(schema["required"])
    # file names, not Python names
    assert "on" in schema["$defs"]["EventRule"]["properties"]


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.parent.name)
def test_examples_validate(validator: Any, path: Path) -> None:
    assert list(validator.iter_errors(load(path))) == []


def test_examples_exist() -> None:
    assert {p.parent.name for p in MODELS} >= {"shoe-shop", "b2b-saas"}


def test_typo_key_is_rejected(validator: Any) -> None:
    data = load(EXAMPLES / "shoe-shop" / "model.yaml")
    bad = copy.deepcopy(data)
    bad["rules"][0]["wihtin"] = "30d"
    assert list(validator.iter_errors(bad))
    top = copy.deepcopy(data)
    top["playbook"] = []
    assert any("playbook" in e.message for e in validator.iter_errors(top))


def test_bad_duration_and_missing_points_are_rejected(validator: Any) -> None:
    data = load(EXAMPLES / "shoe-shop" / "model.yaml")
    bad = copy.deepcopy(data)
    bad["rules"][2]["when"]["within"] = "a year"
    assert list(validator.iter_errors(bad))
    bad = copy.deepcopy(data)
    del bad["rules"][0]["points"]
    assert list(validator.iter_errors(bad))
