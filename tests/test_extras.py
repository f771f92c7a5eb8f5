"""`leadscore._extras`: a missing optional part is named, with the pip command that installs it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from leadscore import _extras
from leadscore._extras import EXTRAS, Extra, MissingExtra, available, require
from leadscore.cli import main as cli_main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "shoe-shop" / "model.yaml"


@pytest.fixture()
def batch_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch extra as if one of its modules were not installed."""
    monkeypatch.setitem(EXTRAS, "batch", Extra("DuckDB and more", ("duckdb", "leadscore_no_such_module")))


def test_every_extra_is_installed_in_the_test_environment() -> None:
    for name in EXTRAS:
        assert available(name), (name, _extras.missing(name))


def test_a_missing_extra_is_named_with_what_needs_it_and_how_to_install_it(batch_missing: None) -> None:
    assert not available("batch")
    with pytest.raises(MissingExtra) as err:
        require("batch", "`leadscore batch`")
    message = str(err.value)
    assert message.startswith("`leadscore batch` needs the optional 'batch' extra (DuckDB and more)")
    assert "missing: leadscore_no_such_module" in message and "duckdb" not in message.split("missing:")[1]
    assert message.endswith("pip install 'leadscore[batch]'")
    assert err.value.extra == "batch" and err.value.missing == ["leadscore_no_such_module"]


def test_an_unknown_extra_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown extra 'bacth'"):
        require("bacth")


def test_the_command_says_which_extra_to_install_without_a_traceback(
    batch_missing: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["leadscore", "sql", str(EXAMPLE)])
    with pytest.raises(SystemExit) as done:
        cli_main.main()
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: `leadscore sql` needs the optional 'batch' extra")
    assert "pip install 'leadscore[batch]'" in err and "Traceback" not in err
