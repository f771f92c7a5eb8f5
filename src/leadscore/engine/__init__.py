"""The engine: rule evaluation, the pure scorer, and explanations."""

from leadscore.engine.errors import ScoringDataError
from leadscore.engine.scorer import Scorer, score, score_many, scorer_for

__all__ = ["Scorer", "ScoringDataError", "score", "score_many", "scorer_for"]
