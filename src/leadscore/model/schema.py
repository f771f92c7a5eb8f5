"""JSON Schema of the model file, so that editors can complete and check model files as they are typed.

The schema comes from the pydantic spec (validation mode, file names such as `on`, `from`, `in`), so it
can never drift from what the loader accepts; cross-reference checks (unknown dimension, stage or label
set, cycles) are beyond JSON Schema and are left to `leadscore validate`.
"""

from __future__ import annotations

import json
from typing import Any

from leadscore.model.spec import ScoringModel

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:leadscore:model-format:1"


def model_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a format-1 scoring-model file."""
    body = ScoringModel.model_json_schema(by_alias=True, mode="validation")
    body.pop("title", None)
    body.pop("description", None)
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": SCHEMA_ID,
        "title": "leadscore scoring model (format 1)",
        "description": (
            "A declarative lead-scoring model: dimensions, rules, labels, lifecycle, playbooks and triggers. "
            "See docs/model-format.md. `leadscore validate` also checks cross-references "
            "(dimensions, stages, label sets) that a JSON Schema cannot express."
        ),
        **body,
    }


def model_schema_json(indent: int = 2) -> str:
    return json.dumps(model_schema(), indent=indent, ensure_ascii=False) + "\n"
