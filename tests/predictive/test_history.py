"""Training from history: generated data trains from point-in-time snapshots, and no feature sees the future."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from leadscore.cli.main import app
from leadscore.domain import Event
from leadscore.domain.timeutil import to_micros
from leadscore.generate import generate, sample
from leadscore.io import read_events, read_leads
from leadscore.model import load_model
from leadscore.predictive import artifact
from leadscore.predictive.history import build_frame, connect_history, plan, train_history
from leadscore.predictive.pointintime import DAY_US
from tests.conftest import ROOT

RULES = ROOT / "examples" / "b2b-saas" / "model.yaml"
runner = CliRunner()


# the tests of `generated` on one xdist worker: spread over both, each worker generated the history
GENERATED_GROUP = pytest.mark.xdist_group("predictive-history")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen")
    generate("b2b", 1500, out, seed=11)
    return out


def _write(events: list[Event], folder: Path) -> Path:
    """Events as a Parquet file in the generator's shape (properties as columns)."""
    rows = [
        {"id": e.id, "lead_id": e.lead_id, "type": e.type, "timestamp": e.timestamp, **e.properties} for e in events
    ]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "events.parquet"
    pd.DataFrame(rows).to_parquet(path)
    return path


def _leads(folder: Path, seed: int, n: int = 250) -> tuple[Path, list[Event]]:
    leads, events = sample("b2b", n, seed)
    path = folder / "leads.parquet"
    pd.DataFrame([{"id": lead.id, **lead.attributes} for lead in leads]).to_parquet(path)
    return path, events


@pytest.mark.slow
@GENERATED_GROUP
def test_generated_history_trains_well_above_chance_on_a_time_split(generated: Path) -> None:
    con = connect_history(events=generated / "events", leads=generated / "leads.parquet")
    result, summary = train_history(con, outcome="deal_won", horizon_days=90, every_days=30)
    assert summary["snapshots"] >= 10 and summary["positives"] >= 40
    assert result.split.kind == "time"
    assert result.metrics.roc_auc is not None and result.metrics.roc_auc > 0.7
    meta = result.artifact.metadata
    assert meta["history"]["feature_spec"]["outcome_type"] == "deal_won"
    assert "deal_won" not in meta["history"]["feature_spec"]["event_types"]
    # training rows end a full horizon before the first test snapshot: their labels are known by then
    window = meta["data_window"]
    assert int(window["training"]["to"]) + 90 * DAY_US <= int(window["heldout"]["from"])


@pytest.mark.slow
def test_events_after_each_snapshot_change_no_feature_row(tmp_path: Path) -> None:
    leads_path, events = _leads(tmp_path, 5, 120)
    rules = load_model(RULES)
    base_con = connect_history(events=_write(events, tmp_path / "a"), leads=leads_path)
    p = plan(base_con, outcome="deal_won", horizon_days=60, every_days=90)
    base = build_frame(base_con, p, rules)
    assert len(base) > 100 and {"rule_fit", "rule_engagement", "rule_total"} <= set(base.columns)
    features = [c for c in base.columns if c != "label"]
    for i, t in enumerate(p.times):
        # right after the snapshot, each lead does again everything it did before (except the outcome)
        extra = [
            Event(e.lead_id, e.type, t + timedelta(seconds=1), e.properties, f"{e.id}-after")
            for e in events
            if e.type != "deal_won" and e.timestamp <= t
        ]
        later_con = connect_history(events=_write(events + extra, tmp_path / f"b{i}"), leads=leads_path)
        later = build_frame(later_con, replace(p, times=[t]), rules)
        mine = base[base["t"] == to_micros(t)].reset_index(drop=True)
        assert len(mine) > 0
        pd.testing.assert_frame_equal(mine[features], later[features])


def test_the_label_only_looks_at_the_horizon_after_the_snapshot(tmp_path: Path) -> None:
    leads_path, events = _leads(tmp_path, 8)
    con = connect_history(events=_write(events, tmp_path / "a"), leads=leads_path)
    p = plan(con, outcome="deal_won", horizon_days=60, every_days=45)
    frame = build_frame(con, p)
    won: dict[str, list[int]] = {}
    for e in events:
        if e.type == "deal_won":
            won.setdefault(e.lead_id, []).append(e.ts)
    h = 60 * DAY_US
    for lead, t, label in zip(frame["lead_id"], frame["t"], frame["label"], strict=True):
        times = won.get(lead, [])
        assert not any(ts <= t for ts in times)  # converted leads leave the population
        assert label == int(any(t < ts <= t + h for ts in times))
    assert frame["label"].sum() > 0


@pytest.mark.slow
@GENERATED_GROUP
def test_train_command_from_files_writes_an_artifact_with_its_feature_spec(tmp_path: Path, generated: Path) -> None:
    out, report = tmp_path / "won.lsm", tmp_path / "report.json"
    args = ["train", "--events", str(generated / "events"), "--leads", str(generated / "leads.parquet")]
    args += ["--outcome", "deal_won", "--horizon", "120d", "--every", "60d", "--model", str(RULES)]
    args += ["--out", str(out), "--report", str(report)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "reached deal_won within 120d" in " ".join(result.output.split())
    meta = artifact.read_metadata(out)
    assert meta["history"]["rules"]["name"] == load_model(RULES).name
    assert any(f["name"] == "rule_total" for f in meta["features"])
    assert json.loads(report.read_text())["split"].startswith("time (column t)")


def test_train_command_refuses_bad_history_options_clearly(tmp_path: Path) -> None:
    small = tmp_path / "gen"
    generate("b2b", 50, small, seed=2)
    base = ["train", "--events", str(small / "events"), "--leads", str(small / "leads.parquet")]

    def refused(args: list[str]) -> str:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        return " ".join(result.output.split())

    assert "no event of type 'deal_signed'" in refused([*base, "--outcome", "deal_signed"])
    assert "--horizon" in refused([*base, "--horizon", "ninety days"])
    assert "no such file" in refused(["train", "--events", str(tmp_path / "nothing")])
    assert "not both" in refused([*base, "--project", str(tmp_path)])


@pytest.mark.slow
def test_the_store_gives_the_same_frame_as_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from leadscore.app.service import LeadService
    from leadscore.app.workspace import Workspace, init_workspace

    monkeypatch.delenv("LEADSCORE_DATABASE_URL", raising=False)
    small = tmp_path / "gen"
    generate("b2b", 120, small, seed=4, format="csv")
    root = tmp_path / "ws"
    init_workspace(root, RULES.read_text(encoding="utf-8"))
    service = LeadService.from_workspace(Workspace.load(root))
    service.upgrade()
    service.ingest_leads(read_leads(small / "leads.csv"))
    service.ingest_events(read_events(small / "events.csv"))
    files = connect_history(events=small / "events", leads=small / "leads.parquet")
    store = connect_history(store=service.store)
    service.close()
    p = plan(files, outcome="deal_won", horizon_days=60, every_days=60)
    from_files = build_frame(files, p)
    from_store = build_frame(store, p)
    assert len(from_files) > 50
    pd.testing.assert_frame_equal(from_files, from_store, check_dtype=False)


def test_train_from_a_project_reads_its_store_and_says_what_is_wrong(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--project` opens the workspace's store for the library (which is handed it); a folder that is no
    workspace and a store without events are refused in one line each."""
    from leadscore.app.service import LeadService
    from leadscore.app.workspace import Workspace, init_workspace

    monkeypatch.delenv("LEADSCORE_DATABASE_URL", raising=False)
    args = ["train", "--outcome", "deal_won", "--out", str(tmp_path / "model.lsm"), "--project"]
    no_workspace = runner.invoke(app, [*args, str(tmp_path / "nowhere")])
    assert no_workspace.exit_code == 2, no_workspace.output
    assert "Traceback" not in no_workspace.output and "error:" in no_workspace.output
    root = tmp_path / "ws"
    init_workspace(root, RULES.read_text(encoding="utf-8"))
    service = LeadService.from_workspace(Workspace.load(root))
    service.upgrade()
    service.close()
    empty = runner.invoke(app, [*args, str(root)])
    assert empty.exit_code == 2, empty.output
    assert "holds no events to learn from" in " ".join(empty.output.split())
