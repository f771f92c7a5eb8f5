"""Predictive lead scoring: scores learned from the leads that converted, evaluated honestly, calibrated,
and explained row by row. Heavy libraries are imported by the submodules that need them."""

from __future__ import annotations

from leadscore.predictive.artifact import Artifact, load, read_metadata, save
from leadscore.predictive.errors import ArtifactError, DataError, PredictiveError
from leadscore.predictive.scoring import Evaluation, evaluate, live_drift, predict
from leadscore.predictive.table import read_table
from leadscore.predictive.training import TrainingResult, train

__all__ = [
    "Artifact",
    "ArtifactError",
    "DataError",
    "Evaluation",
    "PredictiveError",
    "TrainingResult",
    "evaluate",
    "live_drift",
    "load",
    "predict",
    "read_metadata",
    "read_table",
    "save",
    "train",
]
