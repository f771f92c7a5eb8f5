"""Guards against the mistakes a hurried user makes with an artifact, each caught before a figure is shown:

- evaluating on the rows the model was trained on (the artifact keeps a fingerprint of them: one 32-bit
  hash per training row, features and outcome together, so nothing of the data can be read back from it);
- scoring a file that lacks input columns, or names them in another case or spacing (every such lead would
  silently score as if the value were unknown);
- values of a category never seen in training (counted, so the user knows how many leads they touch).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from leadscore.predictive.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from leadscore.predictive.artifact import Artifact

# Share of rows above the chance overlap (duplicates that occur in any data) from which the rows are
# called training rows. A few exact duplicates are normal; a tenth of the file is not.
OVERLAP_MARGIN = 0.05
OVERLAP_MIN_ROWS = 10


def row_hashes(X: pd.DataFrame, y: np.ndarray | None) -> np.ndarray:
    """One 32-bit hash per row of the feature frame (and outcome), stable across reads of the same file."""
    import pandas as pd

    frame = X.copy()
    if y is not None:
        frame["__outcome__"] = np.asarray(y, dtype="int64")
    full = pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype="uint64")
    return (full >> np.uint64(32)).astype("uint32")


def fingerprint(X: pd.DataFrame, y: np.ndarray) -> np.ndarray:
    """The sorted distinct row hashes of the training rows: what the artifact keeps."""
    return np.unique(row_hashes(X, y))


def share_in(hashes: np.ndarray, known: np.ndarray) -> float:
    if not len(hashes) or not len(known):
        return 0.0
    return float(np.isin(hashes, known).mean())


def chance_overlap(hashes: np.ndarray) -> float:
    """Share of rows whose features and outcome occur more than once: how often a new lead matches an old
    one by chance in data like this (the floor against which an overlap is judged)."""
    if not len(hashes):
        return 0.0
    _, inverse, counts = np.unique(hashes, return_inverse=True, return_counts=True)
    return float((counts[inverse] > 1).mean())


@dataclass
class Overlap:
    rows: int
    training_rows: int
    chance: float

    @property
    def share(self) -> float:
        return self.training_rows / self.rows if self.rows else 0.0

    @property
    def flagged(self) -> bool:
        return self.training_rows >= OVERLAP_MIN_ROWS and self.share > self.chance + OVERLAP_MARGIN

    def describe(self) -> str:
        return (
            f"{self.training_rows:,} of {self.rows:,} rows ({self.share:.0%}) are rows the model was trained on "
            f"(chance level {self.chance:.0%}); metrics on them are NOT held-out and flatter the model"
        )


def training_overlap(artifact: Artifact, X: pd.DataFrame, y: np.ndarray) -> Overlap | None:
    """How many rows of a labelled frame the artifact was trained on; None for artifacts without a fingerprint."""
    known = getattr(artifact, "fingerprint", None)
    if known is None or not len(known):
        return None
    hashes = row_hashes(X, y)
    chance = float(artifact.metadata.get("training_rows", {}).get("chance_overlap", 0.0))
    return Overlap(len(hashes), int(np.isin(hashes, known).sum()), chance)


def _norm(name: str) -> str:
    return re.sub(r"[\s_.\-]+", "", str(name)).casefold()


def near_match(name: str, columns: list[str]) -> str | None:
    """A column that is `name` but for case, spaces, underscores, dots or dashes."""
    wanted = _norm(name)
    for col in columns:
        if _norm(col) == wanted:
            return col
    return None


def suggest(name: str, columns: list[str]) -> str | None:
    """The column the user probably meant: same letters in another case or spacing, else a close spelling."""
    import difflib

    hit = near_match(name, columns)
    if hit is not None:
        return hit
    close = difflib.get_close_matches(_norm(name), [_norm(c) for c in columns], n=1, cutoff=0.8)
    if close:
        return next(c for c in columns if _norm(c) == close[0])
    return None


def input_columns(artifact: Artifact) -> list[str]:
    schema = artifact.schema
    sources = {f.source for f in schema.features}
    if schema.time_column and any(f.derive == "date_days_before" for f in schema.features):
        sources.add(schema.time_column)
    return sorted(sources)


@dataclass
class InputCheck:
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _weight_share(artifact: Artifact, sources: set[str]) -> float:
    importance: dict[str, float] = artifact.metadata.get("importance", {})
    total = sum(importance.values()) or 1.0
    by_name = {f.name: f.source for f in artifact.schema.features}
    return sum(v for k, v in importance.items() if by_name.get(k) in sources) / total


def check_inputs(artifact: Artifact, frame: pd.DataFrame, allow_missing: bool = False) -> InputCheck:
    """Compare a frame's columns and values with what the artifact was trained on.

    Missing input columns are an error naming them (with the column that differs only in case or spacing,
    when there is one), unless `allow_missing`: then a warning says what share of the model's weight they
    carry. Values never seen in training are counted in a note."""
    columns = [str(c) for c in frame.columns]
    expected = input_columns(artifact)
    missing = [c for c in expected if c not in frame.columns]
    out = InputCheck(missing=missing)
    if missing:
        described = []
        for name in missing:
            hit = near_match(name, columns)
            described.append(f"{name!r} (found {hit!r}: rename it)" if hit else repr(name))
        share = _weight_share(artifact, set(missing))
        effect = f"they carry {share:.0%} of the model's weight"
        if len(missing) == len(expected):
            raise DataError(f"none of the model's {len(expected)} input columns are present: {', '.join(described)}")
        if not allow_missing:
            raise DataError(
                f"{len(missing)} input column(s) the model uses are missing: {', '.join(described)}; {effect}. "
                "Fix the columns, or pass --allow-missing to score them as unknown"
            )
        out.warnings.append(
            f"scoring without {', '.join(described)}: every lead counts as having no value there; {effect}, "
            "so expect less accurate scores (and a lower AUC) than the training report"
        )
    out.notes += unseen_categories(artifact, frame)
    return out


def unseen_categories(artifact: Artifact, frame: pd.DataFrame, show: int = 3) -> list[str]:
    from leadscore.predictive.features import as_text, placeholder_mask

    notes = []
    placeholders = artifact.schema.placeholder_values
    for feat in artifact.schema.features:
        if feat.kind != "categorical" or feat.derive != "raw" or feat.source not in frame.columns:
            continue
        text = as_text(frame[feat.source])
        text = text[text.notna() & ~placeholder_mask(text, placeholders)]
        unseen = text[~text.isin(feat.categories)]
        if unseen.empty:
            continue
        kinds = unseen.value_counts()
        examples = ", ".join(repr(v) for v in list(kinds.index[:show]))
        where = "the 'other' bucket" if getattr(feat, "other", False) else "unknown"
        notes.append(
            f"{feat.source}: {len(unseen):,} row(s) with {len(kinds):,} value(s) not among the training "
            f"categories (e.g. {examples}); scored as {where}"
        )
    return notes


def overlap_metadata(train_hashes: np.ndarray, heldout_hashes: np.ndarray | None) -> dict[str, Any]:
    """What the artifact records about its training rows: how many, and the chance overlap to expect."""
    known = np.unique(train_hashes)
    chance = share_in(heldout_hashes, known) if heldout_hashes is not None and len(heldout_hashes) else None
    if chance is None:
        chance = chance_overlap(train_hashes)
    return {"rows": len(train_hashes), "distinct": len(known), "chance_overlap": chance}
