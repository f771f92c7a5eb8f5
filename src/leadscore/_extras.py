"""Optional parts of leadscore, installed as pip extras, and the one check that names a missing one.

`pip install leadscore` brings scoring, the SQLite lead store and the command line. A command that
needs more calls `require(extra)` before its heavy imports, so a user without the extra reads which
one to install instead of a traceback from deep inside an import.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Extra:
    brings: str  # for the message: what the extra installs
    modules: tuple[str, ...]  # top-level modules that must be importable


EXTRAS: dict[str, Extra] = {
    "batch": Extra(
        "DuckDB, sqlglot, pyarrow, the ADBC SQLite driver and numpy",
        ("duckdb", "sqlglot", "pyarrow", "adbc_driver_sqlite", "numpy"),
    ),
    "predictive": Extra(
        "numpy, pandas, scikit-learn, LightGBM and the batch extra",
        ("numpy", "pandas", "sklearn", "lightgbm", "jinja2", "duckdb", "pyarrow"),
    ),
    "postgres": Extra("psycopg, the PostgreSQL driver", ("psycopg",)),
    "spark": Extra("PySpark (and a Java runtime, installed apart)", ("pyspark", "sqlglot", "pyarrow")),
    "server": Extra(
        "FastAPI, uvicorn and what the API and dashboard use",
        ("fastapi", "uvicorn", "itsdangerous", "multipart", "prometheus_client", "jinja2"),
    ),
}


class MissingExtra(Exception):
    """A command needs an optional part of leadscore that is not installed."""

    def __init__(self, extra: str, missing: list[str], what: str | None = None) -> None:
        self.extra = extra
        self.missing = missing
        need = f"{what} needs" if what else "this needs"
        super().__init__(
            f"{need} the optional {extra!r} extra ({EXTRAS[extra].brings}), which is not installed "
            f"(missing: {', '.join(missing)}). Install it with: pip install 'leadscore[{extra}]'"
        )


def missing(extra: str) -> list[str]:
    """The modules of `extra` that cannot be imported here (without importing any of them)."""
    return [m for m in EXTRAS[extra].modules if not _findable(m)]


def _findable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a module blocked in sys.modules (None) or a broken package
        return False


def available(extra: str) -> bool:
    return not missing(extra)


def require(extra: str, what: str | None = None) -> None:
    """Raise MissingExtra, naming the extra to install, unless all of `extra` can be imported.

    `what` names the command or feature for the message ("`leadscore batch`")."""
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}: the extras are {', '.join(EXTRAS)}")
    gone = missing(extra)
    if gone:
        raise MissingExtra(extra, gone, what)


def lazy_attributes(package: str, homes: dict[str, str], names: dict[str, Any]) -> Callable[[str], Any]:
    """A package's `__getattr__` (PEP 562) that imports each name of `homes` (name -> submodule) from
    its submodule when first asked for, then keeps it in the package's `names` (its globals()).

    For a package whose `__init__` re-exports heavy parts that some of its users never need: the
    batch engine reads a few leaf modules of `leadscore.engine` and `leadscore.io`, and importing
    the pure scorer and the file readers with them was a fixed cost of every run."""

    def attribute(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        names[name] = value
        return value

    return attribute
