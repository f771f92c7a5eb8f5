"""Generated files mixing good and broken rows, ingested through the CLI into SQLite and PostgreSQL.

For every format and both kinds of file: strict `ingest` refuses a file with a bad row, naming every
bad row (file:line:field), exit code 2, and writes nothing; `--skip-invalid` writes the good rows,
puts exactly the bad ones in the rejects file, and every stored result is what `leadscore score`
gives for the good rows at the same time. Ids repeat within and across leads (per lead they are one
event). No traceback ever reaches the user.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from typer.testing import CliRunner, Result

from leadscore.app.service import LeadService
from leadscore.app.workspace import Workspace
from leadscore.cli.main import app
from leadscore.store import open_store
from leadscore.store.tables import events, leads, score_history
from tests.batch.compare import same
from tests.io.hostile_files import FORMATS, Sheet, sheets, write
from tests.io.test_hostile_files import FAST
from tests.store.conftest import MODEL

runner = CliRunner()
_prefixes = itertools.count()


@pytest.fixture
def workspace(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A workspace on the backend's fresh store, with the store tests' model (lifecycle, triggers)."""
    monkeypatch.setenv("LEADSCORE_DATABASE_URL", store_url)
    monkeypatch.delenv("LEADSCORE_PROJECT", raising=False)
    project = tmp_path / "project"
    assert runner.invoke(app, ["init", str(project)]).exit_code == 0
    (project / "model.yaml").write_text(MODEL)
    with contextlib.chdir(project):
        assert invoke("model", "apply", "model.yaml", "--quiet").exit_code == 0
        yield project


def invoke(*args: str) -> Result:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def _counts() -> tuple[int, ...]:
    store = open_store(os.environ["LEADSCORE_DATABASE_URL"])
    try:
        with store.read() as conn:
            return tuple(
                int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
                for t in (events, leads, score_history)
            )
    finally:
        store.dispose()


def _stored(ids: list[str]) -> dict[str, dict[str, object]]:
    service = LeadService.from_workspace(Workspace.find(Path.cwd()))
    try:
        return {i: r.to_dict() for i in ids if (r := service.result(i)) is not None}
    finally:
        service.close()


def check(sheet: Sheet, fmt: str, project: Path) -> None:
    work = Path(tempfile.mkdtemp(dir=project))
    with contextlib.chdir(project):  # short relative names: the messages name them as written
        name = (work / f"{sheet.kind}.{fmt}").relative_to(project)
        refused = write(sheet, name, store=True)
        before = _counts()
        strict = invoke("ingest", sheet.kind, str(name))
        if refused:
            assert strict.exit_code == 2, strict.output
            for place in refused:
                assert place in strict.output, (place, strict.output)
            assert _counts() == before  # nothing written
        else:
            assert strict.exit_code == 0, strict.output
        rejects = work / "rejects.jsonl"
        skipped = invoke("ingest", sheet.kind, str(name), "--skip-invalid", "--rejects", str(rejects))
        assert skipped.exit_code == 0, skipped.output
        lines = [json.loads(x)["_line"] for x in rejects.read_text().splitlines()] if rejects.exists() else []
        assert [str(n) for n in lines] == [p.split(":")[1].removeprefix("row ") for p in refused]
        _agrees_with_score(sheet.good(store=True), fmt, work)


def _agrees_with_score(good: Sheet, fmt: str, work: Path) -> None:
    """Every lead of the good rows is stored with the result `score` gives them at the same time."""
    if not good.rows:
        return
    path = work / f"good.{fmt}"
    write(good, path)
    key = "lead_id" if good.kind == "events" else "id"
    ids = sorted({str(r.fields[key]) for r in good.rows})
    stored = _stored(ids)
    assert sorted(stored) == ids
    ats = {str(r["at"]) for r in stored.values()}
    for at in ats:
        option = "--events" if good.kind == "events" else "--leads"
        scored = invoke("score", "model.yaml", option, str(path), "--at", at, "-f", "json")
        assert scored.exit_code == 0, scored.output
        for result in json.loads(scored.stdout):
            lead = result["lead_id"]
            if lead in stored and str(stored[lead]["at"]) == at:
                assert not same(result, stored[lead], lead), same(result, stored[lead], lead)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", ["events", "leads"])
def test_ingest_refuses_or_stores_what_score_reads(kind: str, fmt: str, workspace: Path) -> None:
    @FAST
    @given(sheet=sheets(kind, fmt, "p-"))
    def run(sheet: Sheet) -> None:
        check(_prefixed(sheet), fmt, workspace)

    run()


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", ["events", "leads"])
def test_ingest_on_many_files(kind: str, fmt: str, workspace: Path) -> None:
    @settings(FAST, max_examples=40)
    @given(sheet=sheets(kind, fmt, "p-"))
    def run(sheet: Sheet) -> None:
        check(_prefixed(sheet), fmt, workspace)

    run()


def _prefixed(sheet: Sheet) -> Sheet:
    """The sheet with lead ids of its own, so examples sharing one store never meet."""
    from dataclasses import replace

    tag = f"x{next(_prefixes)}-"
    key = "lead_id" if sheet.kind == "events" else "id"

    def retag(value: object) -> object:
        return tag + value if isinstance(value, str) and value.startswith("p-") else value

    rows = [replace(r, fields={**r.fields, key: retag(r.fields[key])}) if key in r.fields else r for r in sheet.rows]
    return replace(sheet, rows=tuple(rows))
