"""A model's version: a hash of its canonical content, so the same model written differently
(`on: x` or `on: [x]`, `720h` or `30d`, `20` or `20.0`, keys in any order) gets the same version."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from leadscore.model.spec import ScoringModel


def canonical(model: ScoringModel) -> Any:
    return _normalize(model.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True))


def _normalize(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normalize(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_normalize(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def model_version(model: ScoringModel) -> str:
    payload = json.dumps(canonical(model), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
