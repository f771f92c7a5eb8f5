"""Reading flat tables the way a new user hands them over: unknown delimiter, quotes, odd label spellings."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING

from leadscore.predictive.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

_DELIMITERS = ",;\t|"
_TRUE = {"1", "1.0", "yes", "y", "true", "t"}
_FALSE = {"0", "0.0", "no", "n", "false", "f"}


def sniff_delimiter(sample: str) -> str:
    """Guess the delimiter among `,` `;` tab `|`; csv.Sniffer first, then the most consistent count per line."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        pass
    lines = [line for line in sample.splitlines()[:50] if line.strip()]
    best, best_score = ",", -1.0
    for delim in _DELIMITERS:
        counts = [line.count(delim) for line in lines]
        if not counts or counts[0] == 0:
            continue
        # Prefer a delimiter that appears the same number of times on every line.
        score = sum(c == counts[0] for c in counts) / len(counts) + counts[0] / 1000
        if score > best_score:
            best, best_score = delim, score
    return best


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV/TSV (any of the usual delimiters) or a Parquet file into a frame."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a CSV or Parquet file")
    if path.suffix.lower() in {".parquet", ".pq"}:
        try:
            return pd.read_parquet(path)
        except Exception as exc:
            raise DataError(f"{path}: cannot read as Parquet ({exc})") from exc
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"{path}: the file is empty")
    try:
        text = raw.decode("utf-8-sig")
        encoding = "utf-8-sig"
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
        encoding = "latin-1"
    delimiter = sniff_delimiter(text[:65536])
    try:
        frame = pd.read_csv(io.BytesIO(raw), sep=delimiter, encoding=encoding, low_memory=False)
    except pd.errors.ParserError as exc:
        raise DataError(f"{path}: cannot parse with delimiter {delimiter!r}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: cannot decode text ({exc})") from exc
    if frame.shape[1] < 2:
        raise DataError(f"{path}: found {frame.shape[1]} column; need at least a label and one feature")
    if frame.empty:
        raise DataError(f"{path}: a header ({frame.shape[1]} columns) but no data rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def require_columns(frame: pd.DataFrame, columns: list[str], where: str) -> None:
    """Every column must exist; a near miss (another case or spacing, a close spelling) is suggested."""
    from leadscore.predictive.guards import suggest

    missing = [c for c in columns if c not in frame.columns]
    if missing:
        names = [str(c) for c in frame.columns]
        described = []
        for c in missing:
            hint = suggest(c, names)
            described.append(f"{c!r} (did you mean {hint!r}?)" if hint else repr(c))
        known = ", ".join(names[:30]) + (" ..." if len(names) > 30 else "")
        raise DataError(f"{where}: unknown column(s) {', '.join(described)}; the columns are: {known}")


def parse_label(series: pd.Series, name: str) -> pd.Series:
    """Turn yes/no, TRUE/FALSE, 1/0, 1.0/0.0 into 0/1; anything else is an error naming the values seen."""
    import numpy as np
    import pandas as pd

    values = series.dropna()
    if not len(series):
        raise DataError(f"label column {name!r}: no rows")
    if len(values) < len(series):
        raise DataError(
            f"label column {name!r}: {len(series) - len(values)} row(s) have no value; "
            "drop them or fill them in before training"
        )
    text = values.astype(str).str.strip().str.lower()
    seen = sorted(set(text.unique()))
    if set(seen) <= _TRUE | _FALSE:
        out = text.isin(_TRUE).astype(np.int8)
    else:
        shown = ", ".join(repr(v) for v in seen[:10]) + (" ..." if len(seen) > 10 else "")
        raise DataError(
            f"label column {name!r} is not binary: values seen {shown}; expected two values such as "
            "yes/no, true/false or 1/0"
        )
    n_pos = int(out.sum())
    if n_pos == 0 or n_pos == len(out):
        raise DataError(f"label column {name!r} has only one outcome ({seen[0]!r}); need both 0 and 1")
    return pd.Series(out.to_numpy(), index=series.index, name=name)
