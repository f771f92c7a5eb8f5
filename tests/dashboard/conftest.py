"""A real server on a generated demo store, and Chromium from Debian driven by Playwright.

The store is built once per session by the demo builder (DEMO_LEADS generated leads replayed month by
month); the server is `uvicorn` in a child process, as `leadscore serve` runs it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.analytics.conftest import hand_store, postgres_template, store_url  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
CHROMIUM = "/usr/bin/chromium"
# The pages need a queue longer than two pages of 25 and leads in every stage and temperature the tests
# open (seed 1 gives them at this size); what they check is the pages, not the size: the demo build is
# the site's cost (its replay and the trained dimension's apply grow with the leads), 300 took ~32 s
DEMO_LEADS = 120


@dataclass
class Site:
    url: str
    project: Path
    admin: str
    writer: str
    reader: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from leadscore.app.service import LeadService
    from leadscore.app.workspace import Workspace
    from leadscore.demo import build_demo

    project = tmp_path_factory.mktemp("demo")
    build_demo(project, DEMO_LEADS, seed=1)
    service = LeadService.from_workspace(Workspace.load(project))
    try:
        tokens = [
            service.create_key(name, [scope])[1]
            for name, scope in (("admin", "admin"), ("sales", "write"), ("viewer", "read"))
        ]
    finally:
        service.close()
    port = _free_port()
    env = {**os.environ, "LEADSCORE_PROJECT": str(project), "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "leadscore.dashboard.site:app_from_environment",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=project,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # imports take 40 s and more on a loaded 2-core machine
        while True:
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the dashboard server did not start")
            time.sleep(0.3)
        yield Site(url, project, *tokens)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")  # closed after the page tests: Playwright's sync API refuses to start
def browser() -> Iterator[object]:  # while another instance's loop runs, and the tracker tests start their own
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()
