"""`train`: from a feature frame with an outcome column to a calibrated, explained, versioned artifact,
with held-out metrics that were measured the honest way (by time when the data has an order)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from leadscore import __version__
from leadscore.predictive import splits, tournament, treatment
from leadscore.predictive.artifact import Artifact
from leadscore.predictive.baserates import BaseRates, base_rates
from leadscore.predictive.drift import summarise_column
from leadscore.predictive.errors import DataError
from leadscore.predictive.explain import global_importance
from leadscore.predictive.features import DEFAULT_PLACEHOLDERS, infer_schema
from leadscore.predictive.guards import fingerprint, overlap_metadata, row_hashes
from leadscore.predictive.importance import permutation_importance
from leadscore.predictive.leakage import leakage_warnings
from leadscore.predictive.leakage_groups import group_warnings
from leadscore.predictive.metrics import Metrics, auc_or_none, compute_metrics, segment_metrics
from leadscore.predictive.shift import ShiftReport
from leadscore.predictive.splitparts import parts as split_parts
from leadscore.predictive.splitparts import time_order, time_split, time_values, window
from leadscore.predictive.table import parse_label, require_columns
from leadscore.predictive.uncertainty import FoldSpread, bootstrap_intervals

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class CandidateRow:
    name: str
    validation_auc: float | None  # on the tournament's validation part (what the choice was based on)
    heldout_auc: float | None  # on the held-out test rows (never used for choosing)


@dataclass
class TrainingResult:
    artifact: Artifact
    split: splits.SplitPlan
    chosen: str
    candidates: list[CandidateRow]
    metrics: Metrics
    segments: dict[str, Metrics] = field(default_factory=dict)
    heldout_y: np.ndarray = field(default_factory=lambda: np.array([], dtype=int))
    heldout_p: np.ndarray = field(default_factory=lambda: np.array([], dtype=float))
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    shift: ShiftReport | None = None  # training part against the scoring population, when there was one
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)  # 95% bootstrap, held-out rows
    folds: FoldSpread | None = None  # held-out ROC AUC per fold (stratified)
    parts: list[dict[str, Any]] = field(default_factory=list)  # rows and period of each part of the split
    treatment: dict[str, Any] = field(default_factory=dict)  # high-cardinality categories: bucket or encoding
    recency: dict[str, Any] = field(default_factory=dict)  # recency weighting of training rows (time splits)
    base_rates: BaseRates | None = None  # rate per period of the training part against predictions (time splits)

    def report(self) -> dict[str, Any]:
        """The JSON shape of `--report`: held-out metrics for scripts and CI."""
        return {
            **self.metrics.summary(),
            "mean_predicted": float(np.mean(self.heldout_p)) if len(self.heldout_p) else None,
            "confidence_intervals": {k: list(v) for k, v in self.intervals.items()},
            "folds": self.folds.summary() if self.folds else None,
            "parts": self.parts,
            "chosen_model": self.chosen,
            "split": self.split.description,
            "calibration": self.artifact.metadata.get("calibration", {}).get("method"),
            # how to follow a moving rate with `leadscore recalibrate` (time splits: the backtest's choice)
            "recalibration": self.artifact.metadata.get("calibration", {}).get("recalibration") or None,
            # the trained curve moved to the refitted model (time splits), or why not
            "calibration_alignment": self.artifact.metadata.get("calibration", {}).get("alignment") or None,
            "candidates": {
                c.name: {"validation_auc": c.validation_auc, "heldout_auc": c.heldout_auc} for c in self.candidates
            },
            "version": self.artifact.version,
            "segments": {k: v.summary() for k, v in self.segments.items()},
            "population_shift": self.shift.summary() if self.shift else None,
            "feature_treatment": self.treatment,
            "recency_weighting": self.recency,
            "base_rates": self.base_rates.summary() if self.base_rates else None,
            "warnings": self.warnings,
        }


def train(
    frame: pd.DataFrame,
    label: str,
    *,
    exclude: Sequence[str] = (),
    time: str | None = None,
    split: splits.SplitKind = "auto",
    segment: str | None = None,
    seed: int = 42,
    refit: bool = False,
    candidates: dict[str, Any] | None = None,
    compare_all: bool = True,
    purge: float = 0.0,
    progress: Callable[[str], None] | None = None,
    target: pd.DataFrame | Literal["heldout"] | None = "heldout",
    placeholders: Sequence[str] = DEFAULT_PLACEHOLDERS,
) -> TrainingResult:
    """Train and evaluate. `frame` is any feature frame: a flat file or, later, point-in-time features.

    Time split: the artifact is the model that was evaluated (trained on the earlier 80%) unless `refit`,
    which retrains it with the same recipe on every row. Stratified: metrics are 5-fold cross-validated and
    the artifact is trained on every row. `purge`: the label horizon in the time column's units, for
    snapshot frames whose labels look ahead (see `splitparts.time_split`).

    `target`: the population the model will score, features only (today's leads), to detect a population
    shift and choose a model that holds up under it (see `shift`). "heldout": the held-out rows' features
    play that part (the test period for a time split, each fold's test rows otherwise), which is what a
    production system has when it trains. None: no population, the choice rests on validation alone.

    `placeholders`: text answers that mean "no answer" ("Select", "N/A", "-", empty) and count as missing.
    """
    say = progress or (lambda _m: None)
    require_columns(frame, [label, *exclude, *([time] if time else []), *([segment] if segment else [])], "data")
    if split not in ("auto", "time", "stratified"):
        raise DataError(f"unknown split {split!r}; use auto, time or stratified")
    if time and time in exclude:
        raise DataError(f"time column {time!r} is also excluded; a time split needs it")
    plan = splits.resolve(split, time, seed)
    y_all = parse_label(frame[label], label).to_numpy()
    if time and plan.kind == "time":
        order = time_order(frame, time)
        frame, y_all = frame.iloc[order].reset_index(drop=True), y_all[order]
    raw = frame.drop(columns=[label, *exclude])
    notes = [f"excluded by request: {', '.join(exclude)}"] if exclude else []
    warnings: list[str] = []
    n = len(frame)
    if n < 50 or min(y_all.sum(), n - y_all.sum()) < 10:
        raise DataError(
            f"data: {n} rows with {int(y_all.sum())} positives; need at least 50 rows and 10 of each outcome"
        )
    test_idx = np.array([], dtype=int)
    # the tournament's validation window is cut like the test period: same snapshot grouping and purge
    times, numeric_time = time_values(frame, time) if plan.kind == "time" else (None, False)
    inner_purge = purge if numeric_time else 0.0
    if plan.kind == "time":
        train_idx, test_idx = time_split(frame, time, purge)
        evaluated_idx = train_idx  # the training part of the evaluation (a refit later learns from every row)
        if len(train_idx) < 50 or min(y_all[train_idx].sum(), len(train_idx) - y_all[train_idx].sum()) < 5:
            raise DataError(
                f"data: too little to learn from before the test period ({len(train_idx)} rows, "
                f"{int(y_all[train_idx].sum())} positives); more history is needed"
            )
        schema = infer_schema(raw.iloc[train_idx], time, tuple(placeholders))
    else:
        train_idx = np.arange(n)
        schema = infer_schema(raw, time, tuple(placeholders))
    notes += [f"dropped column {c}: {why}" for c, why in schema.dropped.items()]
    if not schema.features:
        raise DataError("data: no usable feature column left after dropping ids, constants and excluded columns")
    say(f"building {len(schema.features)} features for {n:,} rows")
    X = schema.transform(raw)
    say("choosing how high-cardinality categories are treated")
    chosen_treatment, schema, X = treatment.choose(
        schema, raw, X, y_all, train_idx, plan.kind, seed, None if times is None else times[train_idx], inner_purge
    )
    if chosen_treatment.note:
        notes.append(chosen_treatment.note)
    if chosen_treatment.kind == "target":
        candidates = chosen_treatment.wrap(candidates or tournament.default_candidates(seed), seed)
    population: pd.DataFrame | None = None
    use_heldout = isinstance(target, str)
    if isinstance(target, str):
        if target != "heldout":
            raise DataError(f"unknown target {target!r}; give a frame of leads to score, 'heldout' or None")
    elif target is not None:
        require_columns(target, sorted({f.source for f in schema.features}), "target population")
        population = schema.transform(target.drop(columns=[c for c in (label, *exclude) if c in target]))
    shifts: list[ShiftReport] = []
    # a date's trend separates past from future rows by construction: no evidence of a shift in the leads
    trends = [f.name for f in schema.features if f.derive == "date_trend"]
    scoring = population  # every feature: what the model will score
    if population is not None:
        population = population.drop(columns=[c for c in trends if c in population.columns])
    say("checking for leakage")
    single = leakage_warnings(X.iloc[train_idx], y_all[train_idx])
    warnings += [f"possible leakage in {name}: {why}" for name, why in single.items()]
    for why in group_warnings(X.iloc[train_idx], y_all[train_idx], ordered=plan.kind == "time", seed=seed,
                              known=set(single)):  # fmt: skip
        warnings.append(f"possible leakage: {why}")

    heldout_auc: dict[str, list[float]] = {}
    val_auc: dict[str, list[float]] = {}
    chosen_per_fold: list[str] = []
    fold_auc: list[float] = []

    def record(outcome: tournament.Outcome, X_te: pd.DataFrame, y_te: np.ndarray) -> np.ndarray:
        chosen_per_fold.append(outcome.chosen)
        if outcome.choice:
            notes.append(outcome.choice if plan.kind == "time" else f"fold {len(chosen_per_fold)}: {outcome.choice}")
        if outcome.shift is not None:
            shifts.append(outcome.shift)
        for name, model in outcome.refitted.items():
            auc = auc_or_none(y_te, model.decision_function(X_te))
            if auc is not None:
                heldout_auc.setdefault(name, []).append(auc)
        for name, auc in outcome.validation_auc.items():
            if auc is not None:
                val_auc.setdefault(name, []).append(auc)
        return outcome.calibrator.predict(outcome.model.decision_function(X_te))

    if plan.kind == "time":
        say("tournament on the earlier part, test on the later part")
        if use_heldout:
            population = X.iloc[test_idx].drop(columns=trends)
        outcome = tournament.run(
            X.iloc[train_idx], y_all[train_idx], "time", seed, candidates, compare_all=compare_all, progress=say,
            target=population, times=None if times is None else times[train_idx], purge=inner_purge,
        )  # fmt: skip
        probs = record(outcome, X.iloc[test_idx], y_all[test_idx])
        heldout_rows = test_idx
        if refit:
            say("refitting the recipe on every row")
            # the recipe evaluated (candidate, recency weighting), not a new choice on another window: the
            # figures reported are those of this recipe
            outcome = tournament.run(
                X, y_all, "time", seed, candidates, compare_all=False, progress=say, target=population,
                times=times, purge=inner_purge, recipe=outcome,
            )  # fmt: skip
            train_idx = np.arange(n)
            notes.append(f"refit: the artifact was retrained on every row after evaluation ({outcome.choice})")
    else:
        probs = np.empty(n)
        for k, (tr, te) in enumerate(splits.stratified_folds(y_all, seed), start=1):
            say(f"fold {k}/{splits.FOLDS}")
            fold = tournament.run(
                X.iloc[tr], y_all[tr], "stratified", seed, candidates, compare_all=compare_all, progress=say,
                target=X.iloc[te].drop(columns=trends) if use_heldout else population,
            )  # fmt: skip
            probs[te] = record(fold, X.iloc[te], y_all[te])
            if (auc := auc_or_none(y_all[te], probs[te])) is not None:
                fold_auc.append(auc)
        heldout_rows = np.arange(n)
        say("final tournament on every row")
        # With "heldout" there is no population beyond the data itself here: the folds showed whether it moved.
        outcome = tournament.run(
            X, y_all, "stratified", seed, candidates, compare_all=False, progress=say, target=population
        )
        notes.append("chosen per fold: " + ", ".join(chosen_per_fold))

    if outcome.shift is not None:
        shifts.append(outcome.shift)
    recency = outcome.recency if plan.kind == "time" else {}
    if outcome.recalibration.get("log_loss"):
        notes.append(f"recalibration: {outcome.recalibration['method']} recommended ({outcome.recalibration['why']})")
    if outcome.alignment:
        notes.append(f"calibration aligned to the refitted model: {outcome.alignment['why']}")
    shift = _worst(shifts)
    if shift is not None:
        (warnings if shift.detected else notes).append(shift.describe())
    y_held = y_all[heldout_rows]
    metrics = compute_metrics(y_held, probs)
    say("bootstrap confidence intervals")
    intervals = bootstrap_intervals(y_held, probs, seed=seed)
    folds = FoldSpread(fold_auc) if fold_auc else None
    rate_gap = float(np.mean(probs)) - float(y_held.mean())
    if abs(rate_gap) >= 0.05:
        warnings.append(
            f"held-out base rate {y_held.mean():.1%} against a mean predicted probability of {np.mean(probs):.1%}: "
            "the conversion rate moved after the training period, so probabilities are off by about "
            f"{abs(rate_gap):.0%}; recalibrate on the most recent labelled leads (leadscore recalibrate)"
        )
    rates: BaseRates | None = None
    if plan.kind == "time":
        # what the model says about the population it will score, against every labelled period it knows
        if use_heldout:
            predicted, actual = probs, y_held
        else:
            actual = None
            predicted = None
            if scoring is not None:
                predicted = outcome.calibrator.predict(outcome.model.decision_function(scoring))
        window_part = split_parts(frame, time, y_all, evaluated_idx, test_idx, False, purge)[1]
        latest = window_part["positives"] / max(window_part["rows"], 1)
        rates = base_rates(y_all[evaluated_idx], latest, predicted, actual)
        notes.append(rates.describe())
        if (extrapolated := rates.warning()) is not None:
            warnings.append(extrapolated)
    seg = segment_metrics(y_held, probs, frame[segment].to_numpy()[heldout_rows]) if segment else {}
    rows = [
        CandidateRow(name, _mean(val_auc.get(name)), _mean(heldout_auc.get(name)))
        for name in dict.fromkeys([*val_auc, *heldout_auc])
    ]
    X_train = X.iloc[train_idx]
    sample = X_train.iloc[:: max(1, len(X_train) // 5000)]
    train_probs = outcome.calibrator.predict(outcome.model.decision_function(X_train))
    drift = {name: summarise_column(X_train[name]) for name in schema.names}
    import pandas as pd

    drift["__score__"] = summarise_column(pd.Series(train_probs, dtype="float64"))
    say("permutation importance")
    if plan.kind == "time" and not refit:
        perm_rows, perm_where = (X.iloc[test_idx], y_all[test_idx]), "held-out test rows"
    else:
        perm_rows, perm_where = (X_train, y_all[train_idx]), "training rows (the artifact is trained on all of them)"
    train_hashes = row_hashes(X_train, y_all[train_idx])
    held_hashes = row_hashes(X.iloc[test_idx], y_all[test_idx]) if plan.kind == "time" and not refit else None
    parts = split_parts(frame, time, y_all, train_idx, test_idx if plan.kind == "time" else None, refit, purge)
    metadata = {
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "library_version": __version__,
        "seed": seed,
        "split": {"kind": plan.kind, "order": plan.order, "description": plan.description},
        "data_window": window(frame, time, train_idx, heldout_rows if plan.kind == "time" else None),
        "rows": {
            "total": n,
            "training": len(train_idx),
            "heldout": len(heldout_rows),
            "positives": int(y_all.sum()),
        },
        "label": label,
        "excluded": list(exclude),
        "time_column": time,
        "features": [
            {
                "name": f.name,
                "kind": f.kind,
                "source": f.source,
                "derived": f.derive,
                "encoding": getattr(f, "encoding", "onehot"),
            }
            for f in schema.features
        ],
        "feature_treatment": chosen_treatment.summary(),
        "recency_weighting": recency,
        "base_rates": rates.summary() if rates else None,
        "dropped": schema.dropped,
        "chosen_model": outcome.chosen,
        "parameters": outcome.params.get(outcome.chosen, {}),
        "candidates": [c.__dict__ for c in rows],
        "population_shift": shift.summary() if shift else None,
        "calibration": {
            "method": outcome.calibrator.method,
            "validation_log_loss": outcome.calibration_losses,
            "recalibration": outcome.recalibration,
            "alignment": outcome.alignment,
        },
        "metrics": metrics.summary(),
        "confidence_intervals": {k: list(v) for k, v in intervals.items()},
        "folds": folds.summary() if folds else None,
        "parts": parts,
        "placeholders": list(placeholders),
        "training_rows": overlap_metadata(train_hashes, held_hashes),
        "training_mean_score": float(np.mean(train_probs)),
        "importance": global_importance(outcome.model.contributions(sample), schema.names),
        "permutation_importance": permutation_importance(outcome.model, *perm_rows, seed=seed),
        "permutation_rows": perm_where,
        "warnings": warnings,
        "notes": notes,
    }
    artifact = Artifact(schema, outcome.model, outcome.calibrator, label, metadata, drift, fingerprint=fingerprint(
        X_train, y_all[train_idx]
    ))  # fmt: skip
    return TrainingResult(
        artifact, plan, outcome.chosen, rows, metrics, seg, y_held, probs, notes, warnings, shift, intervals, folds,
        parts, chosen_treatment.summary(), recency, rates,
    )  # fmt: skip


def _worst(reports: list[ShiftReport]) -> ShiftReport | None:
    """The most separable comparison (a refit or a fold may see less of the shift than another)."""
    return max(reports, key=lambda r: r.adversarial_auc) if reports else None


def _mean(values: list[float] | None) -> float | None:
    return float(np.mean(values)) if values else None
