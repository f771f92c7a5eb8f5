"""`leadscore generate` through the real Typer app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadscore.cli.main import app

runner = CliRunner()


def test_generate_writes_files_and_prints_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "data"
    result = runner.invoke(app, ["generate", "--leads", "200", "--out", str(out), "--kind", "b2c", "--seed", "9"])
    assert result.exit_code == 0, result.output
    for name in ("leads.parquet", "events/part-00000.parquet", "leads.csv", "events.csv", "manifest.json"):
        assert (out / name).is_file(), name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "b2c" and manifest["seed"] == 9
    assert "200 leads" in result.stdout
    assert f"{manifest['counts']['events']:,} events" in result.stdout
    assert "page_view" in result.stdout


def test_format_parquet_skips_csv(tmp_path: Path) -> None:
    result = runner.invoke(app, ["generate", "-n", "50", "-o", str(tmp_path), "--format", "parquet",
                                 "--start", "2026-01-01", "--end", "2026-03-01"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "leads.csv").exists()
    assert json.loads((tmp_path / "manifest.json").read_text())["time_range"]["end"] == "2026-03-01T00:00:00Z"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--leads", "-5"], "--leads"),
        (["--leads", "10", "--kind", "b2z"], "--kind"),
        (["--leads", "10", "--format", "xlsx"], "--format"),
        (["--leads", "10", "--end", "not-a-date"], "--end"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["generate", "--out", str(tmp_path / "x"), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_unwritable_out_dir_exits_2(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = runner.invoke(app, ["generate", "--leads", "10", "--out", str(blocker / "data")])
    assert result.exit_code == 2
    assert "--out" in result.output and str(blocker) in result.output
