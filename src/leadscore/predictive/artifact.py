"""A trained model as one file: a zip holding `metadata.json` (readable by anyone) and `model.joblib`.

The version is a content hash of both, so two artifacts with the same hash score identically. Artifacts
are pickles underneath: load only artifacts you trust, as with any scikit-learn model file.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leadscore import __version__
from leadscore.predictive.calibration import Calibrator
from leadscore.predictive.errors import ArtifactError
from leadscore.predictive.features import FeatureSchema

FORMAT = "leadscore-predictive"
FORMAT_VERSION = 1


@dataclass
class Artifact:
    schema: FeatureSchema
    model: Any  # a fitted scorer (see estimators.Scorer)
    calibrator: Calibrator
    label: str
    metadata: dict[str, Any] = field(default_factory=dict)
    drift: dict[str, dict[str, Any]] = field(default_factory=dict)  # feature name or "__score__" -> summary
    fingerprint: Any = None  # sorted 32-bit hashes of the training rows (see guards), None in older artifacts

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", ""))


def _payload(artifact: Artifact) -> bytes:
    import joblib

    buffer = io.BytesIO()
    joblib.dump(
        {
            "schema": artifact.schema,
            "model": artifact.model,
            "calibrator": artifact.calibrator,
            "drift": artifact.drift,
            "fingerprint": artifact.fingerprint,
        },
        buffer,
        compress=3,
    )
    return buffer.getvalue()


def save(artifact: Artifact, path: str | Path) -> Path:
    path = Path(path)
    payload = _payload(artifact)
    meta = {k: v for k, v in artifact.metadata.items() if k != "version"}
    meta.update({"format": FORMAT, "format_version": FORMAT_VERSION, "label": artifact.label})
    meta = json.loads(json.dumps(meta, default=str))  # what will be read back, so the hash can be re-checked
    meta["version"] = _digest(payload, meta)
    artifact.metadata = meta
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("metadata.json", json.dumps(meta, indent=2, default=str))
        zf.writestr("model.joblib", payload)
    return path


def _digest(payload: bytes, meta: dict[str, Any]) -> str:
    digest = hashlib.sha256(payload)
    digest.update(json.dumps({k: v for k, v in meta.items() if k != "version"}, sort_keys=True).encode())
    return "sha256:" + digest.hexdigest()[:16]


def read_metadata(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"{path}: no such artifact")
    try:
        with zipfile.ZipFile(path) as zf:
            meta: dict[str, Any] = json.loads(zf.read("metadata.json"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, IsADirectoryError) as exc:
        raise ArtifactError(f"{path}: not a leadscore model artifact ({exc})") from exc
    if meta.get("format") != FORMAT:
        raise ArtifactError(f"{path}: not a leadscore model artifact (format {meta.get('format')!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"{path}: artifact format version {meta.get('format_version')} (written by leadscore "
            f"{meta.get('library_version', '?')}) cannot be read by leadscore {__version__}, which reads version "
            f"{FORMAT_VERSION}; retrain the model with this version"
        )
    return meta


def load(path: str | Path) -> Artifact:
    import joblib

    meta = read_metadata(path)
    try:
        with zipfile.ZipFile(path) as zf:
            payload = zf.read("model.joblib")
        if _digest(payload, meta) != meta.get("version"):
            raise ArtifactError(f"{path}: content does not match its version hash (corrupt or modified file)")
        parts = joblib.load(io.BytesIO(payload))
    except ArtifactError:
        raise
    except Exception as exc:  # unpickling can fail in many ways when library versions differ
        raise ArtifactError(
            f"{path}: cannot load the model (written by leadscore {meta.get('library_version', '?')}): {exc}"
        ) from exc
    return Artifact(
        schema=parts["schema"],
        model=parts["model"],
        calibrator=parts["calibrator"],
        label=str(meta["label"]),
        metadata=meta,
        drift=parts["drift"],
        fingerprint=parts.get("fingerprint"),
    )
