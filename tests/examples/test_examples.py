"""The bundled examples: their model tests pass, their data is reproducible, and they show the documents' cases."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from leadscore.cases.model_tests import default_cases_path, load_cases, run_cases
from leadscore.domain import Result
from leadscore.engine import score_many
from leadscore.io import read_events, read_leads
from leadscore.model import load_model
from leadscore.triggers.queue_order import sales_queue

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = ["shoe-shop", "b2b-saas"]
AT = "2026-06-01T00:00:00Z"


@pytest.mark.parametrize("name", NAMES)
def test_model_tests_pass(name: str) -> None:
    model_path = EXAMPLES / name / "model.yaml"
    cases = load_cases(default_cases_path(model_path))
    assert len(cases) >= 20
    failed = [(o.case.name, o.mismatches, o.error) for o in run_cases(load_model(model_path), cases) if not o.passed]
    assert failed == []


@pytest.mark.parametrize("name", NAMES)
def test_data_script_reproduces_the_committed_files(name: str, tmp_path: Path) -> None:
    data = EXAMPLES / name / "data"
    shutil.copy(data / "make_data.py", tmp_path)
    subprocess.run([sys.executable, str(tmp_path / "make_data.py")], check=True, timeout=60)
    for file in ("leads.csv", "events.csv"):
        assert (tmp_path / file).read_bytes() == (data / file).read_bytes(), f"{name}/data/{file} is out of date"


def scored(name: str) -> list[Result]:
    root = EXAMPLES / name
    model = load_model(root / "model.yaml")
    return score_many(model, read_leads(root / "data" / "leads.csv"), read_events(root / "data" / "events.csv"), AT)


def test_shoe_shop_data_shows_every_segment() -> None:
    results = scored("shoe-shop")
    assert len(results) == 30
    assert {r.labels["segment"] for r in results} >= {"ambassador", "engaged", "not-engaged"}


def test_b2b_queue_puts_the_director_first_and_the_manager_later() -> None:
    queue = sales_queue(scored("b2b-saas"))
    order = [r.lead_id for r in queue]
    by_id = {r.lead_id: r for r in queue}
    assert len(queue) == 40
    director, manager = by_id["b-001"], by_id["b-002"]
    assert director.playbook is not None and director.playbook.priority == 1
    assert manager.playbook is not None and manager.playbook.name == "light-nurture"
    assert order.index("b-001") < order.index("b-002")
    stages = {r.stage for r in queue}
    assert stages >= {"lead", "mql", "sql", "opportunity", "customer", "lost", "disqualified"}
    assert {r.labels["temperature"] for r in queue} == {"hot", "warm", "cold"}


def test_predictive_example_cases_pass_through_the_cli() -> None:
    """`leadscore test` loads the trained artifact next to a model with a predictive dimension."""
    from typer.testing import CliRunner

    from leadscore.cli.main import app

    result = CliRunner().invoke(app, ["test", str(EXAMPLES / "b2b-saas-predictive" / "model.yaml")])
    assert result.exit_code == 0, result.stdout
    assert "1 of 1 cases passed" in result.stdout
