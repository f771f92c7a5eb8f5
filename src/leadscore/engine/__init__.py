"""The engine: rule evaluation, the pure scorer, and explanations.

The names below are imported when first asked for (`_extras.lazy_attributes`): the SQL engines read a
few of the engine's leaf modules (`engine.values.kind`), and importing the pure scorer with them cost
a `--dedupe never` batch run about 9 ms of a run that needs none of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from leadscore._extras import lazy_attributes

if TYPE_CHECKING:
    from leadscore.engine.errors import ScoringDataError
    from leadscore.engine.scorer import Scorer, score, score_many, scorer_for

__all__ = ["Scorer", "ScoringDataError", "score", "score_many", "scorer_for"]

_HOMES = dict.fromkeys(("Scorer", "score", "score_many", "scorer_for"), "scorer") | {"ScoringDataError": "errors"}
__getattr__ = lazy_attributes(__name__, _HOMES, globals())
