"""The import contracts of pyproject.toml (docs/architecture.md) hold, and they catch a forbidden import.

`make test` runs `lint-imports` on the tree; these tests run it on a copy of the package with one
forbidden import added, to show that each kind of contract fails when it should.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "leadscore"
EDGES = {"cli", "api", "dashboard"}  # the thin layers that may import a web framework


def _lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    return subprocess.run(
        [str(exe), "--no-cache"], cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A copy of the package and of the contracts, to break on purpose."""
    shutil.copytree(SRC, tmp_path / "src" / "leadscore", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_contracts_hold_on_an_unchanged_copy(project: Path) -> None:
    done = _lint_imports(project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "source", "contract"),
    [
        ("engine/_web.py", "import fastapi\n", "The library imports no web framework"),
        ("store/_web.py", "from starlette.requests import Request\n", "The library imports no web framework"),
        ("domain/_upward.py", "from leadscore.store import open_store\n", "Layers: a package imports only"),
        ("model/_upward.py", "import leadscore.app.service\n", "Layers: a package imports only"),
        ("store/_bulk.py", "import leadscore.bulk.write\n", "No import cycles between the packages"),
        ("sql/query.py", "from leadscore.store import tables\n", "The batch engine (files in, results out)"),
        ("predictive/_engine.py", "import sqlalchemy\n", "Predictive scoring creates no database engine"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(project: Path, module: str, source: str, contract: str) -> None:
    target = project / "src" / "leadscore" / module  # a new module, or one of the package given one more import
    target.write_text((target.read_text() if target.exists() else "") + source)
    done = _lint_imports(project)
    assert done.returncode != 0, done.stdout
    broken = done.stdout.split("Broken contracts", 1)[-1]
    assert contract in " ".join(broken.split()), done.stdout


def test_every_library_package_is_held_to_the_no_web_contract() -> None:
    """A new package of the library must be added to the contract's sources (the contract lists them)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c["id"] == "library-no-web")
    sources = {name.removeprefix("leadscore.") for name in contract["source_modules"]}
    present = {p.stem for p in SRC.iterdir() if p.suffix == ".py" and p.stem != "__init__"}
    present |= {p.name for p in SRC.iterdir() if (p / "__init__.py").exists()}
    assert present - EDGES - sources == set(), "add these to the library-no-web contract in pyproject.toml"
    assert not sources & EDGES
