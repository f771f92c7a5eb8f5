"""leadscore: explainable lead scoring and lead management.

The library in four lines::

    import leadscore
    model = leadscore.load_model("examples/shoe-shop/model.yaml")
    result = leadscore.score(model, leadscore.Lead("c-17", {}), events, at="2026-06-01")
    result.to_dict()  # score, dimensions, labels, stage, breakdown, playbook
"""

from leadscore.domain import Event, Lead, Result
from leadscore.engine import Scorer, ScoringDataError, score, score_many
from leadscore.model import ModelError, ScoringModel, load_model, model_version, parse_model

__version__ = "0.1.0"

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
