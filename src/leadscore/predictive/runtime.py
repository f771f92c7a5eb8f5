"""Trained artifacts as predictive dimensions of a scoring model (the `Predictor` the scorer calls).

A history artifact rebuilds its features from the lead's timeline at T with the FeatureSpec (and the
rule model) stored at training, the same definitions the training snapshots used; a flat-table
artifact reads the lead's attributes by column name. Either way the probability comes with its top
positive and negative factors in words.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from leadscore.engine.predictors import Factor, Prediction
from leadscore.engine.timeline import Timeline
from leadscore.predictive.artifact import Artifact, load
from leadscore.predictive.errors import ArtifactError
from leadscore.predictive.explain import MIN_EFFECT
from leadscore.predictive.pointintime import FeatureSpec, features_at
from leadscore.predictive.words import phrase

if TYPE_CHECKING:
    from leadscore.engine.scorer import Scorer
    from leadscore.model.spec import ScoringModel

Case = tuple[Mapping[str, Any], Timeline, int]  # (attributes, timeline up to T, T in epoch micros)
SEEN = 200_000  # probabilities remembered by content (a few tens of bytes each)
BATCH = 64  # event times predicted together on a miss
_MEMORY: dict[str, dict[tuple[int, int, int], float]] = {}  # artifact version -> remembered probabilities
_MEMORY_LOCK = threading.Lock()


class ArtifactPredictor:
    """One loaded artifact, ready to score leads one at a time (real time) or many at once (batch)."""

    def __init__(self, artifact: Artifact) -> None:
        self.artifact = artifact
        self.version = artifact.version
        history = artifact.metadata.get("history")
        self.spec: FeatureSpec | None = FeatureSpec.from_dict(history["feature_spec"]) if history else None
        self.rules: Scorer | None = None
        rules = (history or {}).get("rules")
        if rules and rules.get("source"):
            from leadscore.model import parse_model
            from leadscore.predictive.ruledims import rules_scorer

            self.rules = rules_scorer(parse_model(rules["source"], source=f"rule model {rules.get('name')}"))
        self.sources = list(dict.fromkeys(f.source for f in artifact.schema.features))
        self.names = artifact.schema.names
        self._last: tuple[Timeline, Mapping[str, Any], tuple[int, int], Prediction] | None = None
        features = artifact.schema.features
        self._direct = all(f.derive == "raw" for f in features)
        self._codes = [None if f.kind == "numeric" else {c: i for i, c in enumerate(f.categories)} for f in features]
        # shared by every predictor of the same artifact (its version is a content hash): a model apply
        # or a reload builds new predictors, and the probabilities they would compute are the same
        self._seen = _MEMORY.setdefault(self.version, {}) if self.version else {}
        self._chain: _Chain | None = None

    # -- one lead -------------------------------------------------------------------------------------
    def predict_one(self, attributes: Mapping[str, Any], timeline: Timeline, at_us: int, top: int) -> Prediction:
        # The scorer asks twice for the same lead and time (breakdown, then the result's predictions).
        # The cache holds the objects themselves, so a new lead's timeline can never pass for the old one.
        last = self._last
        if last is not None and last[0] is timeline and last[1] is attributes and last[2] == (at_us, top):
            return last[3]
        if top <= 0:
            return self._probability(attributes, timeline, at_us)
        found = self.predict_many([(attributes, timeline, at_us)], top)[0]
        self._last = (timeline, attributes, (at_us, top), found)
        return found

    def _probability(self, attributes: Mapping[str, Any], timeline: Timeline, at_us: int) -> Prediction:
        """The probability alone, remembered by the content it is computed from (T, the attributes, the
        events up to T). A lifecycle replay asks for it at one past event after another, each time the
        lead is rescored, on a new timeline object each time: on a miss, the probabilities at the next
        event times of the timeline are computed in one batch (a model evaluation per batch instead of
        per row), and a question asked again is answered from memory."""
        chain = self._chain_of(attributes, timeline)
        if chain is None:
            return self.predict_many([(attributes, timeline, at_us)], 0)[0]
        found = self._seen.get(chain.key(at_us))
        if found is not None:
            return Prediction(found)
        times = [at_us, *(t for t in chain.times_after(at_us) if chain.key(t) not in self._seen)][:BATCH]
        predictions = self.predict_many([(attributes, timeline, t) for t in times], 0)
        with _MEMORY_LOCK:
            if len(self._seen) + len(times) > SEEN:
                self._seen.clear()  # bounded memory; what is still asked for comes back at once
            for t, p in zip(times, predictions, strict=True):
                self._seen[chain.key(t)] = p.probability
        return predictions[0]

    def _chain_of(self, attributes: Mapping[str, Any], timeline: Timeline) -> _Chain | None:
        last = self._chain
        if last is not None and last.timeline is timeline and last.attributes is attributes:
            return last
        try:
            chain = _Chain(attributes, timeline)
        except TypeError:  # a value that cannot be hashed: no memory for this lead
            return None
        self._chain = chain
        return chain

    # -- many leads -----------------------------------------------------------------------------------
    def rows(self, cases: Sequence[Case]) -> list[dict[str, Any]]:
        """Raw feature rows (before the artifact's schema), as at training."""
        out = []
        for attributes, timeline, at_us in cases:
            if self.spec is None:
                out.append({s: attributes.get(s) for s in self.sources})
                continue
            row = features_at(self.spec, attributes, timeline, at_us)
            if self.rules is not None:
                from leadscore.predictive.ruledims import values_at

                row.update(values_at(self.rules, attributes, timeline, at_us))
            out.append(row)
        return out

    def frame(self, cases: Sequence[Case]) -> Any:
        """The model's feature frame. Raw features (all of a history artifact's) are encoded here with
        the training categories into a light column store the candidates read like a pandas frame:
        building pandas objects would cost more than the prediction itself for one lead."""
        import pandas as pd

        rows = self.rows(cases)
        if not self._direct:
            return self.artifact.schema.transform(pd.DataFrame(rows, columns=self.sources))
        columns: dict[str, _Column] = {}
        for feat, codes in zip(self.artifact.schema.features, self._codes, strict=True):
            values = [row.get(feat.source) for row in rows]
            if codes is None:
                columns[feat.name] = _Column(np.array([_number(v) for v in values], dtype="float64"))
            else:
                index = np.array([codes.get(_text(v), -1) for v in values], dtype=np.int64)  # type: ignore[arg-type]
                columns[feat.name] = _Column(index, feat.categories)
        return _Frame(columns, len(rows))

    def predict_many(self, cases: Sequence[Case], top: int = 3) -> list[Prediction]:
        if not cases:
            return []
        X = self.frame(cases)
        model = self.artifact.model
        # every candidate is additive: decision = expected value + sum of contributions (one pass, not two)
        contrib = np.asarray(model.contributions(X))
        probs = self.artifact.calibrator.predict(model.expected_value_ + contrib.sum(axis=1))
        if top <= 0:
            return [Prediction(float(p)) for p in probs]
        values = X.values_object() if isinstance(X, _Frame) else X.to_numpy(dtype=object)
        amount = self.spec.amount_property if self.spec else "amount"
        out = []
        for i, p in enumerate(probs):
            order = np.argsort(-contrib[i], kind="stable")

            def factor(j: int, i: int = i) -> Factor:
                value = values[i, j]
                name = self.names[j]
                text = phrase(name, value, amount) if self.spec else phrase(f"attr_{name}", value)
                return Factor(text, round(float(contrib[i, j]), 4))

            pos = tuple(factor(j) for j in order[:top] if contrib[i, j] > MIN_EFFECT)
            neg = tuple(factor(j) for j in order[::-1][:top] if contrib[i, j] < -MIN_EFFECT)
            out.append(Prediction(float(p), pos, neg))
        return out


class _Codes:
    def __init__(self, codes: np.ndarray) -> None:
        self._codes = codes

    def to_numpy(self) -> np.ndarray:
        return self._codes


class _Column:
    """One feature column with the part of the pandas Series / Categorical interface the candidates use."""

    def __init__(self, values: np.ndarray, categories: tuple[str, ...] | None = None) -> None:
        self.values = values
        self.categories = categories
        self.dtype = np.dtype("float64") if categories is None else np.dtype(object)

    @property
    def cat(self) -> _Column:
        return self

    @property
    def codes(self) -> _Codes:
        return _Codes(self.values)

    def to_numpy(self, dtype: Any = None) -> np.ndarray:
        return self.values if dtype is None else self.values.astype(dtype)

    def shown(self) -> np.ndarray:
        if self.categories is None:
            return self.values.astype(object)
        labels = np.array([*self.categories, None], dtype=object)
        return labels[self.values]  # code -1 (unknown or missing) picks the trailing None


class _Frame:
    """Feature columns by name, in the model's order; see `ArtifactPredictor.frame`."""

    def __init__(self, columns: dict[str, _Column], rows: int) -> None:
        self._columns = columns
        self.columns = list(columns)
        self.shape = (rows, len(columns))

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, name: str) -> _Column:
        return self._columns[name]

    def items(self) -> Any:
        return self._columns.items()

    def values_object(self) -> np.ndarray:
        return np.column_stack([c.shown() for c in self._columns.values()])


def _number(value: Any) -> float:
    """As `FeatureSchema.transform` reads a numeric cell: numbers (and numeric text) or NaN."""
    if value is None or isinstance(value, bool):
        return float(value) if isinstance(value, bool) else math.nan
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip().replace(",", "."))
    except ValueError:
        return math.nan


def _text(value: Any) -> str | None:
    """As `features.as_text` reads a categorical cell: 1 and 1.0 are the same category "1"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e18:
        return str(int(value))
    return str(value).strip()


def _frozen(value: Any) -> Any:
    """A hashable copy of a JSON-like value (mappings sorted by key); TypeError when there is none."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    hash(value)
    return (type(value).__name__, value)  # 1 and True and 1.0 stay apart


class _Chain:
    """A timeline's content as hashes of its prefixes: prefix i covers the attributes and the first i
    events (type, time, id, properties), chained so that all prefixes cost one pass. Two independent
    64-bit chains make the key 128 bits. TypeError when a value cannot be hashed."""

    def __init__(self, attributes: Mapping[str, Any], timeline: Timeline) -> None:
        self.attributes, self.timeline = attributes, timeline
        base = _frozen(attributes)
        a, b = hash((base, 0)), hash((0, base, 1))
        self.ts: list[int] = []
        self.a, self.b = [a], [b]
        for e in timeline.events:
            item = (e.type, e.ts, e.id, _frozen(e.properties))
            a, b = hash((a, item)), hash((item, b, 1))
            self.ts.append(e.ts)
            self.a.append(a)
            self.b.append(b)

    def key(self, at_us: int) -> tuple[int, int, int]:
        upto = bisect.bisect_right(self.ts, at_us)
        return (at_us, self.a[upto], self.b[upto])

    def times_after(self, at_us: int) -> list[int]:
        """The distinct event times after `at_us`, in order."""
        start = bisect.bisect_right(self.ts, at_us)
        return list(dict.fromkeys(self.ts[start:]))


def load_predictor(path: str | Path) -> ArtifactPredictor:
    return ArtifactPredictor(load(path))


def load_predictors(model: ScoringModel, base_dir: str | Path) -> dict[str, ArtifactPredictor]:
    """A predictor for each predictive dimension of `model`; artifact paths are relative to `base_dir`
    (the model file's folder). Errors name the dimension and the file."""
    found: dict[str, ArtifactPredictor] = {}
    for dim, spec in (model.dimensions or {}).items():
        if spec.predictive is None:
            continue
        path = Path(spec.predictive.artifact)
        if not path.is_absolute():
            path = Path(base_dir) / path
        try:
            found[dim] = load_predictor(path)
        except ArtifactError as exc:
            raise ArtifactError(f"model {model.name!r}, dimension {dim!r}: {exc}") from None
    return found
