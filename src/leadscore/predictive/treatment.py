"""How high-cardinality categories are fed to the candidates, chosen on validation.

A categorical column whose rare values share the "(other)" bucket loses what those values say. The
alternative keeps every value and target-encodes it out of fold (see `target_encoding`). Which is better
depends on the data: a few hundred values with real differences between them favour the encoding, a
long tail of noise favours the bucket. So both are fitted with the same candidate on the tournament's
own fit/validation split (later rows for time splits) and the encoding is kept only when it is better
beyond the noise (one standard error of a paired bootstrap); the bucket is the simpler default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from leadscore.predictive.features import FeatureSchema, high_cardinality, widen
from leadscore.predictive.gbm import LightGBMScorer
from leadscore.predictive.metrics import auc_or_none
from leadscore.predictive.splits import inner_split
from leadscore.predictive.target_encoding import TargetEncodedScorer
from leadscore.predictive.tournament import fit_candidate
from leadscore.predictive.uncertainty import paired_difference

if TYPE_CHECKING:
    import pandas as pd

PROBE_ROUNDS = 300
MIN_VALUES = 30  # distinct values from which a column that lost some to the bucket counts as high-cardinality


@dataclass
class Treatment:
    kind: str  # "none" (no high-cardinality column), "other" (bucket) or "target" (out-of-fold encoding)
    columns: list[str] = field(default_factory=list)
    validation_auc: dict[str, float | None] = field(default_factory=dict)  # "other" / "target"
    note: str = ""

    def summary(self) -> dict[str, Any]:
        return {"kind": self.kind, "columns": self.columns, "validation_auc": self.validation_auc, "why": self.note}

    def wrap(self, candidates: dict[str, Any], seed: int) -> dict[str, Any]:
        """The candidates as they learn under this treatment."""
        if self.kind != "target":
            return candidates
        return {n: TargetEncodedScorer(c, tuple(self.columns), seed=seed) for n, c in candidates.items()}


def choose(
    schema: FeatureSchema,
    raw: pd.DataFrame,
    X: pd.DataFrame,
    y: np.ndarray,
    rows: np.ndarray,
    kind: str,
    seed: int,
    times: np.ndarray | None = None,
    purge: float = 0.0,
) -> tuple[Treatment, FeatureSchema, pd.DataFrame]:
    """The treatment, and the schema and feature frame (every row of `raw`) that go with it. Only `rows`
    (the training part) are looked at; `X` is `schema.transform(raw)`. `times`, `purge`: the training
    part's times and label horizon, for the tournament's validation cut (see `splits.inner_split`)."""
    names = high_cardinality(schema)
    if names:
        wide = widen(schema, raw.iloc[rows], names)
        # a handful of values with one rare among them is no high cardinality: the bucket loses little
        names = [n for n in names if len(wide.features[wide.names.index(n)].categories) >= MIN_VALUES]
    if not names:
        return Treatment("none"), schema, X
    wide = widen(schema, raw.iloc[rows], names)
    X_wide = wide.transform(raw)
    y_part = y[rows]
    fit, val = inner_split(kind, y_part, seed, times, purge)
    probe = LightGBMScorer(n_estimators=PROBE_ROUNDS, seed=seed)
    scores: dict[str, np.ndarray] = {}
    for option, frame, template in (
        ("other", X, probe),
        ("target", X_wide, TargetEncodedScorer(probe, tuple(names), seed=seed)),
    ):
        part = frame.iloc[rows]
        model = fit_candidate(template, part.iloc[fit], y_part[fit], part.iloc[val], y_part[val], kind)
        scores[option] = model.decision_function(part.iloc[val])
    aucs = {option: auc_or_none(y_part[val], s) for option, s in scores.items()}
    values = ", ".join(f"{n} ({len(wide.features[wide.names.index(n)].categories)} values)" for n in names)
    if aucs["other"] is None or aucs["target"] is None:
        note = f"high-cardinality columns {values}: one outcome only in the validation part; (other) bucket kept"
        return Treatment("other", names, aucs, note), schema, X
    diff = paired_difference(y_part[val], scores["target"], scores["other"], n_boot=100, seed=seed)
    figures = (
        f"validation AUC {aucs['target']:.3f} with out-of-fold target encoding against {aucs['other']:.3f} "
        f"with the (other) bucket (difference {diff.mean:+.3f}, one standard error {diff.se:.3f})"
    )
    if diff.mean > diff.se:
        note = f"high-cardinality columns {values}: target-encoded out of fold: {figures}"
        return Treatment("target", names, aucs, note), wide, X_wide
    note = (
        f"high-cardinality columns {values}: (other) bucket kept, the encoding is no better beyond the noise: {figures}"
    )
    return Treatment("other", names, aucs, note), schema, X
