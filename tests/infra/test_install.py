"""`pip install leadscore` without extras: scoring, the store and the CLI work; a command that needs an
extra says which one to install, with no traceback.

A fresh virtual environment gets this project installed from its directory (its dependencies come
from the package index), then the installed `leadscore` program runs as a user would run it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
AT = "2026-06-01"

# one worker builds the environment once (module fixture) for all of them
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900), pytest.mark.xdist_group("install")]


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `bin` directory of a virtual environment holding leadscore and nothing optional."""
    env = tmp_path_factory.mktemp("bare-venv")
    # no pip of its own: this environment's pip installs into it (`--python`), as it would its own;
    # ensurepip cost ~5 CPU s (30 s of wall at load 28) for a pip no test here runs
    venv.create(env, with_pip=False)
    install = [sys.executable, "-m", "pip", "--python", str(env / "bin" / "python"), "install", "--quiet", str(ROOT)]
    done = _run(install, env)
    assert done.returncode == 0, done.stderr[-3000:]
    return env / "bin"


def test_no_extra_is_installed(bare: Path) -> None:
    code = (
        "import importlib.util, json\n"
        "names = ['duckdb', 'sqlglot', 'pyarrow', 'adbc_driver_sqlite', 'numpy', 'pandas', 'sklearn', 'lightgbm',"
        " 'psycopg', 'fastapi', 'uvicorn', 'pyspark']\n"
        "print(json.dumps([n for n in names if importlib.util.find_spec(n)]))\n"
    )
    done = _run([str(bare / "python"), "-c", code], bare)
    assert json.loads(done.stdout) == []


@pytest.mark.parametrize("example", ["shoe-shop", "b2b-saas"])
def test_score_runs_on_the_examples_and_equals_the_full_install(bare: Path, example: str, tmp_path: Path) -> None:
    d = EXAMPLES / example
    args = ["score", str(d / "model.yaml"), "--leads", str(d / "data" / "leads.csv")]
    args += ["--events", str(d / "data" / "events.csv"), "--at", AT, "--format", "json"]
    done = _run([str(bare / "leadscore"), *args], tmp_path)
    assert done.returncode == 0, done.stderr
    full = _run([sys.executable, "-m", "leadscore.cli.main", *args], tmp_path)  # this environment: every extra
    assert full.returncode == 0, full.stderr
    scored = json.loads(done.stdout)
    assert len(scored) > 10
    assert scored == json.loads(full.stdout)


def test_the_store_works_on_the_pure_path(bare: Path, tmp_path: Path) -> None:
    d = EXAMPLES / "b2b-saas"
    exe = str(bare / "leadscore")
    assert _run([exe, "init", "ws"], tmp_path).returncode == 0
    ws = tmp_path / "ws"
    for kind, path in (("leads", d / "data" / "leads.csv"), ("events", d / "data" / "events.csv")):
        done = _run([exe, "ingest", kind, str(path)], ws)
        assert done.returncode == 0, done.stderr
    done = _run([exe, "model", "apply", str(d / "model.yaml")], ws)
    assert done.returncode == 0, done.stderr
    assert "pure scorer" in done.stdout


@pytest.mark.parametrize(
    ("args", "extra"),
    [
        (["batch", "{model}", "-l", "{leads}", "-e", "{events}", "-o", "out.jsonl"], "batch"),
        (["batch", "{model}", "-l", "{leads}", "-e", "{events}", "-o", "out", "--engine", "spark"], "spark"),
        (["sql", "{model}"], "batch"),
        (["generate", "--leads", "10", "--out", "gen"], "batch"),
        (["train", "table.csv", "--label", "won"], "predictive"),
        (["score", "{model}", "--leads", "leads.parquet", "--events", "{events}"], "batch"),
    ],
)
def test_a_command_needing_an_extra_names_it(bare: Path, tmp_path: Path, args: list[str], extra: str) -> None:
    d = EXAMPLES / "shoe-shop"
    (tmp_path / "leads.parquet").write_bytes(b"PAR1")
    (tmp_path / "table.csv").write_text("won,x\n1,2\n")
    paths = {"model": d / "model.yaml", "leads": d / "data" / "leads.csv", "events": d / "data" / "events.csv"}
    done = _run([str(bare / "leadscore"), *(a.format(**paths) for a in args)], tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"pip install 'leadscore[{extra}]'" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
