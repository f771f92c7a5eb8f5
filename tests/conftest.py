"""Shared fixtures and test-run settings. Servers are real: PostgreSQL is started here, never mocked.

- Hypothesis: the profile is loaded here, before any test module is imported (`tests/support/profiles.py`).
- xdist (`pytest -n 2 --dist loadgroup`): tests that must share one worker carry an `xdist_group` mark,
  added below from their markers, so that an expensive module-scoped resource is built once and two
  of them never compete (see XDIST_GROUPS).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import cache_cli_commands
from tests.support.postgres import postgres_server
from tests.support.profiles import SCALE, register

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SHARED_DATA = ROOT.parent / "shared" / "data"

HYPOTHESIS_PROFILE = register()
cache_cli_commands()

# marker -> xdist group. Spark: one JVM (the session of tests/batch/conftest.py) on one worker, not one per worker.
# Process-heavy store tests (a killed ingest, concurrent writers) run one after another on one worker,
# so they do not starve each other of the machine's two cores.
XDIST_GROUPS = {"spark": "spark", "processes": "processes"}

# fixture -> xdist group, for fixtures that start a server once per module or session: without a group
# the tests that share one are spread over both workers and each worker starts its own. `live`
# (tests/api: a workspace, five keys and a server process, ~5 s) groups its module's tests; `site`
# (tests/dashboard: the demo store replayed month by month, its server, Chromium: the
# suite's most expensive fixture) groups every dashboard page test.
FIXTURE_GROUPS = {"live": "live-{module}", "site": "dashboard"}

# pyproject's timeout (300 s) for one test, scaled where a test's work is scaled: a property test runs
# as many examples as the profile says; a Spark test's first one starts the JVM.
TIMEOUT_S = 300
SPARK_TIMEOUT_S = 900


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("timeout") is None:
            if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
                item.add_marker(pytest.mark.timeout(TIMEOUT_S * max(1.0, SCALE[HYPOTHESIS_PROFILE])))
            elif item.get_closest_marker("spark") is not None:
                item.add_marker(pytest.mark.timeout(SPARK_TIMEOUT_S))
        for marker, group in XDIST_GROUPS.items():
            if item.get_closest_marker(marker) is not None and item.get_closest_marker("xdist_group") is None:
                item.add_marker(pytest.mark.xdist_group(group))
        for fixture, group in FIXTURE_GROUPS.items():
            if fixture in getattr(item, "fixturenames", ()) and item.get_closest_marker("xdist_group") is None:
                module = Path(str(item.path)).stem
                item.add_marker(pytest.mark.xdist_group(group.format(module=module)))
        if getattr(config.option, "loadgroup", False):  # set on an xdist worker under --dist loadgroup
            _group_in_node_id(item)


def _group_in_node_id(item: pytest.Item) -> None:
    """Put the item's xdist group into its node id (`...::test_x@spark`), where the scheduler reads it.

    xdist (3.8) does this by assigning `item._nodeid`, but pytest 9 keeps the id in `item._id` (a
    NodeId) and ignores that attribute: every `xdist_group` mark was silently dropped and grouped tests
    ran on both workers. Under pytest 8, xdist's own assignment works and this does nothing."""
    if not hasattr(item, "_id") or hasattr(item, "_nodeid"):
        return
    groups = {
        str(m.args[0]) if m.args else str(m.kwargs.get("name", "default")) for m in item.iter_markers("xdist_group")
    }
    if groups:
        from _pytest.nodeid import NodeId

        item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(sorted(groups))}")


def pytest_report_header(config: pytest.Config) -> str:
    return f"hypothesis profile: {HYPOTHESIS_PROFILE}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server for the whole test session (one per xdist worker)."""
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store file migrated once for the session (one per xdist worker); `fresh_database_url`
    (tests/store/conftest.py) copies it for each migrated SQLite store, as PostgreSQL's are made from a
    migrated template database."""
    from leadscore.store import open_store

    path = tmp_path_factory.mktemp("sqlite-template") / "store.db"
    template = open_store(f"sqlite:///{path}")
    template.upgrade()
    template.dispose()
    assert not path.with_name(path.name + "-wal").exists()  # all of it in the one file the tests copy
    return path
