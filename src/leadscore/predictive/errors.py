"""Error types a user can cause. The CLI turns them into a red message and exit code 2."""

from __future__ import annotations


class PredictiveError(ValueError):
    """Bad input to predictive scoring: a file, a column, a label or an artifact the user gave."""


class DataError(PredictiveError):
    """A data file or frame cannot be used as given (missing file, unknown column, non-binary label)."""


class ArtifactError(PredictiveError):
    """A model artifact cannot be read: not an artifact, corrupt, or from an incompatible version."""
