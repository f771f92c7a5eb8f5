"""Generated files mixing good and broken rows, through `score` and `batch` as a user runs them.

For every format (CSV, JSON Lines, a JSON list, Parquet) and both kinds of file: a file with a bad
row is refused by both commands with every bad row's place (file:line:field), exit code 2, no
traceback and no output file; a file without one is scored by `batch` exactly as by `score`.
The store's commands run the same files in tests/store/test_hostile_files.py.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from typer.testing import CliRunner, Result

from leadscore.cli.main import app
from tests.batch.compare import differences
from tests.io.hostile_files import FORMATS, Sheet, sheets, write
from tests.support.profiles import examples

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "examples" / "b2b-saas" / "model.yaml"
AT = "2026-06-01T00:00:00Z"
runner = CliRunner()
# derandomized and bounded; no shrinking: each example runs the commands, and a failure names its file
FAST = settings(
    max_examples=4,
    derandomize=True,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def invoke(*args: str) -> Result:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def check(sheet: Sheet, fmt: str, base: Path) -> None:
    """The sheet as generated, then (when it had bad rows) its good rows alone."""
    _check(sheet, fmt, base)
    good = sheet.good(store=False)
    if sheet.refused(store=False) and good.rows:
        _check(good, fmt, base)


def _check(sheet: Sheet, fmt: str, base: Path) -> None:
    work = Path(tempfile.mkdtemp(dir=base))
    with contextlib.chdir(work):  # short relative names: the messages name them as written
        data = Path(f"{sheet.kind}.{fmt}")
        refused = write(sheet, data)
        other = "--events" if sheet.kind == "leads" else "--leads"
        given_ = ["--leads", str(data)] if sheet.kind == "leads" else ["--events", str(data)]
        empty = Path("none.csv")
        empty.write_text("lead_id,type,timestamp\n" if sheet.kind == "leads" else "id\n")
        files = [*given_, other, str(empty)]
        scored = invoke("score", str(MODEL), *files, "--at", AT, "-f", "json")
        batched = invoke("batch", str(MODEL), *files, "--at", AT, "-o", "out.jsonl")
        if refused:
            for res in (scored, batched):
                assert res.exit_code == 2, res.output
                for place in refused:
                    assert place in res.output, (place, res.output)
            assert not Path("out.jsonl").exists()
        else:
            assert scored.exit_code == 0 and batched.exit_code == 0, scored.output + batched.output
            expected = json.loads(scored.stdout)
            got = [json.loads(line) for line in Path("out.jsonl").read_text().splitlines()]
            assert not differences(expected, got)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", ["events", "leads"])
def test_score_and_batch_refuse_the_same_rows_or_agree(kind: str, fmt: str, tmp_path: Path) -> None:
    @FAST
    @given(sheet=sheets(kind, fmt, "p-"))
    def run(sheet: Sheet) -> None:
        check(sheet, fmt, tmp_path)

    run()


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", ["events", "leads"])
def test_score_and_batch_on_many_files(kind: str, fmt: str, tmp_path: Path) -> None:
    # 40 sheets a case on CI (8 cases: 320 hostile files scored and batched, 60 a case took 10-16 s), twice
    # as many on a developer's machine (the "dev" profile), ten times with HYPOTHESIS_PROFILE=deep
    @settings(FAST, max_examples=examples(40))
    @given(sheet=sheets(kind, fmt, "p-"))
    def run(sheet: Sheet) -> None:
        check(sheet, fmt, tmp_path)

    run()
