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

from tests.support.postgres import postgres_server
from tests.support.profiles import register

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SHARED_DATA = ROOT.parent / "shared" / "data"

HYPOTHESIS_PROFILE = register()

# marker -> xdist group. Spark: one JVM (the module-scoped session) on one worker, not one per worker.
# Process-heavy store tests (a killed ingest, concurrent writers) run one after another on one worker,
# so they do not starve each other of the machine's two cores.
XDIST_GROUPS = {"spark": "spark", "processes": "processes"}


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the test ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for marker, group in XDIST_GROUPS.items():
            if item.get_closest_marker(marker) is not None and item.get_closest_marker("xdist_group") is None:
                item.add_marker(pytest.mark.xdist_group(group))


def pytest_report_header(config: pytest.Config) -> str:
    return f"hypothesis profile: {HYPOTHESIS_PROFILE}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server for the whole test session (one per xdist worker)."""
    with postgres_server() as url:
        yield url
