from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leadscore.predictive import artifact as artifacts
from leadscore.predictive.errors import ArtifactError
from leadscore.predictive.estimators import LogisticScorer, NaiveBayesScorer
from leadscore.predictive.scoring import probabilities
from leadscore.predictive.training import train


def _trained(leads: pd.DataFrame) -> artifacts.Artifact:
    fast = {"naive_bayes": NaiveBayesScorer(), "logistic": LogisticScorer()}
    return train(leads, "converted", split="time", candidates=fast).artifact


def test_round_trip_scores_the_same_and_hash_is_content_based(tmp_path: Path, leads: pd.DataFrame) -> None:
    art = _trained(leads)
    path = artifacts.save(art, tmp_path / "m.lsm")
    loaded = artifacts.load(path)
    np.testing.assert_allclose(probabilities(loaded, leads), probabilities(art, leads))
    assert loaded.version.startswith("sha256:") and loaded.version == art.version
    meta = artifacts.read_metadata(path)
    for key in ("data_window", "rows", "features", "parameters", "metrics", "calibration", "library_version"):
        assert key in meta
    assert meta["version"] == art.version


def test_a_modified_artifact_is_refused(tmp_path: Path, leads: pd.DataFrame) -> None:
    path = artifacts.save(_trained(leads), tmp_path / "m.lsm")
    with zipfile.ZipFile(path) as zf:
        meta = json.loads(zf.read("metadata.json"))
        payload = zf.read("model.joblib")
    meta["label"] = "something_else"
    edited = tmp_path / "edited.lsm"
    with zipfile.ZipFile(edited, "w") as zf:
        zf.writestr("metadata.json", json.dumps(meta))
        zf.writestr("model.joblib", payload)
    with pytest.raises(ArtifactError, match="does not match its version hash"):
        artifacts.load(edited)


def test_incompatible_or_foreign_files_are_clear_errors(tmp_path: Path, leads: pd.DataFrame) -> None:
    path = artifacts.save(_trained(leads), tmp_path / "m.lsm")
    with zipfile.ZipFile(path) as zf:
        meta = json.loads(zf.read("metadata.json"))
        payload = zf.read("model.joblib")
    meta["format_version"] = 99
    meta["library_version"] = "9.0.0"
    old = tmp_path / "old.lsm"
    with zipfile.ZipFile(old, "w") as zf:
        zf.writestr("metadata.json", json.dumps(meta))
        zf.writestr("model.joblib", payload)
    with pytest.raises(ArtifactError, match="format version 99"):
        artifacts.load(old)
    junk = tmp_path / "junk.lsm"
    junk.write_text("not a model")
    with pytest.raises(ArtifactError, match="not a leadscore model artifact"):
        artifacts.load(junk)
    with pytest.raises(ArtifactError, match="no such artifact"):
        artifacts.load(tmp_path / "missing.lsm")
