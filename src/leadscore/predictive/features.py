"""Turning a raw flat table into model features, with the same rules at training and scoring time.

A new user's table has ids, e-mails, free text, dates and constants mixed with useful columns. The schema
learned here decides once, at training, what each column becomes, and says why for every column it drops.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pandas as pd

Kind = Literal["numeric", "categorical"]

MAX_CATEGORIES = 100
MAX_ENCODED = 20_000  # values kept one by one for target encoding (the rest share OTHER)
MIN_CATEGORY_COUNT = 5
OTHER = "(other)"  # the bucket for values too rare to learn from one by one, and for values never seen
_ID_NAME = re.compile(r"(^|[_\s.-])(id|uuid|guid|key)$|^id[_\s.-]", re.IGNORECASE)
# Answers a form or CRM writes when nobody answered: they mean "missing", not a category of their own.
DEFAULT_PLACEHOLDERS: tuple[str, ...] = (
    "", "n/a", "na", "nan", "null", "none", "-", "--", "?", "select", "-- select --", "please select", "not provided",
)  # fmt: skip
_NULL_TOKENS = set(DEFAULT_PLACEHOLDERS)
_EMAIL = re.compile(r"^[^@\s]+@([^@\s]+\.[^@\s]+)$")


@dataclass(frozen=True)
class Feature:
    """One model input: its name, kind, the raw column it comes from and how it is derived."""

    name: str
    kind: Kind
    source: str
    # raw | email_domain | date_monthname | date_weekday | date_trend | date_hour | date_days_before
    # (date_month and date_dow: numbers, in artifacts written before the names)
    derive: str = "raw"
    categories: tuple[str, ...] = ()
    other: bool = False  # values outside `categories` go to the OTHER bucket instead of "missing"
    encoding: str = "onehot"  # "target": every value kept (up to MAX_ENCODED), the model encodes them


@dataclass
class FeatureSchema:
    """What each raw column became. Learned on training rows, applied unchanged to new rows."""

    features: list[Feature]
    dropped: dict[str, str] = field(default_factory=dict)
    time_column: str | None = None
    # set by infer_schema; empty for schemas pickled before placeholders existed, which keep their behaviour
    placeholders: tuple[str, ...] = ()

    @property
    def placeholder_values(self) -> frozenset[str]:
        return frozenset(p.strip().casefold() for p in self.placeholders)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def kinds(self) -> dict[str, str]:
        return {f.name: f.kind for f in self.features}

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Build the feature frame: floats for numbers, pandas categoricals with the training categories.

        A raw column missing from `frame` becomes all-missing rather than an error, so that scoring files
        that lack an optional column still score (the drift report shows it).
        """
        import numpy as np
        import pandas as pd

        out: dict[str, object] = {}
        cache: dict[str, pd.Series] = {}
        for feat in self.features:
            if feat.source in frame.columns:
                raw = frame[feat.source]
            else:
                raw = pd.Series(np.nan, index=frame.index, dtype="float64")
            values = _derive(raw, feat, frame, self.time_column, cache)
            if feat.kind == "numeric":
                if values.dtype.kind not in "iufb":
                    values = values.astype("object").astype(str).str.replace(",", ".", regex=False)
                out[feat.name] = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()
            else:
                text = as_text(values)
                text = text.where(~placeholder_mask(text, self.placeholder_values))
                known = text.isin(feat.categories)
                if getattr(feat, "other", False):
                    text = text.where(known | text.isna(), OTHER)
                    known = text.notna()
                out[feat.name] = pd.Categorical(text.where(known, other=np.nan), categories=list(feat.categories))
        return pd.DataFrame(out, index=frame.index)


def high_cardinality(schema: FeatureSchema) -> list[str]:
    """Categorical features that lost values to the OTHER bucket (too rare or too many to learn one by one)."""
    return [f.name for f in schema.features if f.kind == "categorical" and getattr(f, "other", False)]


def widen(schema: FeatureSchema, frame: pd.DataFrame, names: list[str]) -> FeatureSchema:
    """The schema with `names` keeping every value seen in `frame` (the training rows, raw) instead of the
    OTHER bucket, for a model that target-encodes them (see target_encoding)."""
    import dataclasses

    cache: dict[str, pd.Series] = {}
    features = []
    for feat in schema.features:
        if feat.name in names:
            raw = frame[feat.source] if feat.source in frame.columns else frame.iloc[:, :0].assign(v=None)["v"]
            text = as_text(_derive(raw, feat, frame, schema.time_column, cache)).dropna()
            text = text[~placeholder_mask(text, schema.placeholder_values)]
            counts = text.value_counts()
            kept = tuple(sorted(str(v) for v in counts.index[:MAX_ENCODED]))
            more = len(counts) > MAX_ENCODED
            feat = dataclasses.replace(feat, categories=(*kept, OTHER) if more else kept, other=more,
                                       encoding="target")  # fmt: skip
        features.append(feat)
    return dataclasses.replace(schema, features=features)


def placeholder_mask(text: pd.Series, placeholders: frozenset[str]) -> pd.Series:
    """True where a text value is a placeholder ("Select", "N/A", "-", empty): missing in all but name."""
    return text.notna() & text.astype("object").astype(str).str.strip().str.casefold().isin(placeholders)


def as_text(values: pd.Series) -> pd.Series:
    """Values as stripped strings (None when missing); 1 and 1.0 are the same category whatever the dtype."""
    import numpy as np
    import pandas as pd

    missing = values.isna().to_numpy()
    if values.dtype.kind == "f":
        arr = values.to_numpy(dtype="float64")
        integral = np.isfinite(arr) & (np.mod(arr, 1) == 0)
        text = np.where(integral, np.nan_to_num(arr).astype("int64").astype(str), arr.astype(str)).astype(object)
    else:
        text = values.astype("object").astype(str).str.strip().to_numpy(dtype=object)
    text[missing] = None
    return pd.Series(text, index=values.index, dtype="object")


def _as_dates(raw: pd.Series, cache: dict[str, pd.Series], key: str) -> pd.Series:
    import pandas as pd

    if key not in cache:
        cache[key] = pd.to_datetime(raw, errors="coerce", utc=True, format="mixed")
    return cache[key]


def _derive(
    raw: pd.Series, feat: Feature, frame: pd.DataFrame, time_column: str | None, cache: dict[str, pd.Series]
) -> pd.Series:
    import numpy as np
    import pandas as pd

    if feat.derive == "raw":
        return raw
    if feat.derive == "email_domain":
        return as_text(raw).str.lower().str.extract(_EMAIL, expand=False)
    dates = _as_dates(raw, cache, feat.source)
    if feat.derive == "date_monthname":
        return pd.Series(
            np.asarray(MONTHS, dtype=object)[dates.dt.month.fillna(1).astype(int) - 1], index=raw.index
        ).where(dates.notna())
    if feat.derive == "date_weekday":
        return pd.Series(
            np.asarray(WEEKDAYS, dtype=object)[dates.dt.day_of_week.fillna(0).astype(int)], index=raw.index
        ).where(dates.notna())
    if feat.derive == "date_trend":
        # year and month as one number (2024-03 -> 2024.167): the trend over time, read back as a month
        return (dates.dt.year + (dates.dt.month - 1) / 12.0).astype("float64")
    if feat.derive == "date_month":
        return dates.dt.month.astype("float64")
    if feat.derive == "date_dow":
        return dates.dt.day_of_week.astype("float64")
    if feat.derive == "date_hour":
        return dates.dt.hour.astype("float64")
    if feat.derive == "date_days_before" and time_column is not None and time_column in frame.columns:
        ref = _as_dates(frame[time_column], cache, time_column)
        return (ref - dates).dt.total_seconds() / 86400.0
    return pd.Series(np.nan, index=raw.index)


def _looks_numeric(values: pd.Series) -> bool:
    import pandas as pd

    if values.dtype.kind in "iufb":
        return True
    sample = values.dropna().astype(str).str.strip()
    sample = sample[~sample.str.lower().isin(_NULL_TOKENS)].head(2000)
    if sample.empty:
        return False
    parsed = pd.to_numeric(sample.str.replace(",", ".", regex=False), errors="coerce")
    return bool(parsed.notna().mean() >= 0.98)


def _looks_date(values: pd.Series) -> bool:
    import pandas as pd

    sample = values.dropna().astype(str).head(500)
    if sample.empty or not sample.str.contains(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}", regex=True).mean() > 0.9:
        return False
    parsed = pd.to_datetime(sample, errors="coerce", utc=True, format="mixed")
    return bool(parsed.notna().mean() >= 0.9)


MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")  # fmt: skip
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _categories(text: pd.Series) -> tuple[tuple[str, ...], bool]:
    """The categories to learn one by one, and whether rarer values exist (they share the OTHER bucket,
    so a present value is never explained as missing)."""
    counts = text.value_counts()
    keep = counts[counts >= MIN_CATEGORY_COUNT].head(MAX_CATEGORIES)
    if keep.empty:
        keep = counts.head(MAX_CATEGORIES)
    cats = tuple(sorted(str(v) for v in keep.index))
    if len(keep) < len(counts):
        return (*cats, OTHER), True
    return cats, False


def _categorical(name: str, text: pd.Series, source: str | None = None, derive: str = "raw") -> Feature:
    cats, other = _categories(text)
    return Feature(name, "categorical", source or name, derive, cats, other)


def _blank_placeholders(frame: pd.DataFrame, placeholders: frozenset[str]) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype.kind in "OSU" or str(out[col].dtype) in ("string", "str"):
            out[col] = out[col].where(~placeholder_mask(out[col], placeholders))
    return out


def infer_schema(
    frame: pd.DataFrame, time_column: str | None = None, placeholders: tuple[str, ...] = DEFAULT_PLACEHOLDERS
) -> FeatureSchema:
    """Decide what each column of `frame` (features only: no label, no excluded columns) becomes.
    `placeholders`: text values that mean "no answer" (compared without case and surrounding spaces)."""
    import pandas as pd

    n = len(frame)
    features: list[Feature] = []
    dropped: dict[str, str] = {}
    tokens = frozenset(p.strip().casefold() for p in placeholders)
    frame = _blank_placeholders(frame, tokens)
    for col in frame.columns:
        name = str(col)
        values = frame[col]
        non_null = values.dropna()
        n_unique = int(non_null.nunique())
        if name == time_column:
            continue
        if n_unique <= 1:
            dropped[name] = "constant" if n_unique == 1 else "empty"
            continue
        unique_ratio = n_unique / max(len(non_null), 1)
        if values.dtype.kind == "b" or n_unique == 2:
            cats = tuple(sorted(as_text(non_null).unique()))
            features.append(Feature(name, "categorical", name, categories=cats))
            continue
        if _looks_numeric(values):
            numbers = pd.to_numeric(values.astype(str).str.replace(",", ".", regex=False), errors="coerce")
            integral = bool((numbers.dropna() % 1 == 0).all())
            if integral and (unique_ratio >= 0.999 or (_ID_NAME.search(name) and unique_ratio > 0.5)):
                dropped[name] = f"id-like ({n_unique} distinct values in {len(non_null)} rows)"
                continue
            if integral and _ID_NAME.search(name):
                # a code that repeats (a landing page id, a campaign key) names a thing, it is no quantity
                features.append(_categorical(name, as_text(non_null)))
                continue
            features.append(Feature(name, "numeric", name))
            continue
        text = as_text(non_null)
        if text.str.match(_EMAIL).mean() > 0.5:
            domains = text.str.lower().str.extract(_EMAIL, expand=False).dropna()
            if domains.nunique() > 1:
                features.append(_categorical(f"{name}_domain", domains, name, "email_domain"))
                dropped[name] = f"e-mail address (kept its domain as {name}_domain)"
            else:
                dropped[name] = "e-mail address"
            continue
        if _looks_date(values):
            features += _date_features(name, non_null, time_column)
            kept = ", ".join(f.name for f in features if f.source == name)
            dropped[name] = f"date (kept as {kept})"
            continue
        if unique_ratio >= 0.95 and n > 20:
            mean_len = float(text.str.len().mean())
            kind = "free text" if mean_len > 30 or text.str.contains(" ").mean() > 0.5 else "id-like"
            dropped[name] = f"{kind} ({n_unique} distinct values in {len(non_null)} rows)"
            continue
        if unique_ratio > 0.5 and text.str.len().mean() > 30:
            dropped[name] = "free text"
            continue
        features.append(_categorical(name, text))
    return FeatureSchema(features=features, dropped=dropped, time_column=time_column, placeholders=placeholders)


def _date_features(name: str, non_null: pd.Series, time_column: str | None) -> list[Feature]:
    """A date becomes its trend (year and month as one number), its month and weekday by name (cyclical
    parts: December sits next to January for every model), its hour when times are recorded, and its age
    in days at the row's time when there is a time column."""
    import pandas as pd

    out = [
        Feature(f"{name}_trend", "numeric", name, "date_trend"),
        Feature(f"{name}_month", "categorical", name, "date_monthname", MONTHS),
        Feature(f"{name}_weekday", "categorical", name, "date_weekday", WEEKDAYS),
    ]
    dates = pd.to_datetime(non_null.astype(str).head(2000), errors="coerce", utc=True, format="mixed")
    if (dates.dt.hour != 0).mean() > 0.1:
        out.append(Feature(f"{name}_hour", "numeric", name, "date_hour"))
    if time_column is not None:
        out.append(Feature(f"{name}_days_before", "numeric", name, "date_days_before"))
    return out
