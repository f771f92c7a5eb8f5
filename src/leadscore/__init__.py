"""leadscore: explainable lead scoring and lead management.

The library in four lines::

    import leadscore
    model = leadscore.load_model("examples/shoe-shop/model.yaml")
    result = leadscore.score(model, leadscore.Lead("c-17", {}), events, at="2026-06-01")
    result.to_dict()  # score, dimensions, labels, stage, breakdown, playbook

Names are imported on first use, so that `leadscore --help` does not pay for the model classes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Event": "leadscore.domain",
    "Lead": "leadscore.domain",
    "Result": "leadscore.domain",
    "Scorer": "leadscore.engine",
    "ScoringDataError": "leadscore.engine",
    "score": "leadscore.engine",
    "score_many": "leadscore.engine",
    "ModelError": "leadscore.model",
    "ScoringModel": "leadscore.model",
    "load_model": "leadscore.model",
    "model_version": "leadscore.model",
    "parse_model": "leadscore.model",
}
__all__ = [
    "Event",
    "Lead",
    "ModelError",
    "Result",
    "Scorer",
    "ScoringDataError",
    "ScoringModel",
    "load_model",
    "model_version",
    "parse_model",
    "score",
    "score_many",
]

if TYPE_CHECKING:
    from leadscore.domain import Event, Lead, Result
    from leadscore.engine import Scorer, ScoringDataError, score, score_many
    from leadscore.model import ModelError, ScoringModel, load_model, model_version, parse_model


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'leadscore' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
