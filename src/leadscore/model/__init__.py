"""The scoring-model file (MODEL-FORMAT.md): pydantic spec, loader with located errors, version hash."""

from leadscore.model.errors import ModelError, ModelIssue
from leadscore.model.fingerprint import model_version
from leadscore.model.loader import load_model, parse_model, validate_model
from leadscore.model.spec import ScoringModel

__all__ = ["ModelError", "ModelIssue", "ScoringModel", "load_model", "model_version", "parse_model", "validate_model"]
