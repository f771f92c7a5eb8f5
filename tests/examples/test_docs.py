"""The documentation's examples run: every YAML block marked as a complete model is a valid model."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from leadscore.model import parse_model

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"^```yaml complete-model\n(.*?)^```", re.DOTALL | re.MULTILINE)


def complete_models() -> list[tuple[str, str]]:
    found = []
    for path in sorted(DOCS.glob("*.md")):
        for i, match in enumerate(BLOCK.finditer(path.read_text(encoding="utf-8"))):
            found.append((f"{path.name}#{i + 1}", match.group(1)))
    return found


def test_the_reference_has_complete_models() -> None:
    assert sum(name.startswith("model-format.md") for name, _ in complete_models()) >= 2


@pytest.mark.parametrize(("name", "text"), complete_models(), ids=[n for n, _ in complete_models()])
def test_complete_model_is_valid(name: str, text: str) -> None:
    model = parse_model(text, source=name)
    assert model.rules
