"""A real `leadscore serve` process on 127.0.0.1 with a free port, for the API tests and benchmarks."""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@functools.cache
def _migrated_sqlite() -> Path:
    """A SQLite store file migrated once per process (a pytest worker), removed when it exits."""
    from leadscore.store import open_store

    folder = Path(tempfile.mkdtemp(prefix="leadscore-ws-template-"))
    atexit.register(shutil.rmtree, folder, True)
    path = folder / "leadscore.db"
    template = open_store(f"sqlite:///{path}")
    template.upgrade()
    template.dispose()
    assert not path.with_name(path.name + "-wal").exists()  # all of it in the one file copied
    return path


def make_workspace(root: Path, store: str | None = None) -> Path:
    """A workspace with the example model, migrated (store: SQLite in the folder unless given)."""
    from leadscore.app.service import LeadService
    from leadscore.app.workspace import Workspace, init_workspace

    init_workspace(root, files("leadscore.store").joinpath("example_model.yaml").read_text("utf-8"))
    if store is not None:
        text = (root / "leadscore.yaml").read_text().replace("store: sqlite:///leadscore.db", f"store: {store}")
        (root / "leadscore.yaml").write_text(text)
    else:
        # the folder's SQLite store is a copy of one migrated once per process, as the store tests' are
        # (tests/conftest.py: `sqlite_template`): migrating commits once per step, seconds under load for
        # each of the many workspaces the API tests make; the copy is the same database byte for byte.
        # `upgrade` below then finds it migrated and registers the workspace model, at this time, as before.
        shutil.copyfile(_migrated_sqlite(), root / "leadscore.db")
    service = LeadService.from_workspace(Workspace.load(root))
    try:
        service.upgrade()
    finally:
        service.close()
    return root


def create_key(root: Path, name: str, *scopes: str, origins: tuple[str, ...] = ()) -> str:
    from leadscore.app.service import LeadService
    from leadscore.app.workspace import Workspace

    service = LeadService.from_workspace(Workspace.load(root))
    try:
        return service.create_key(name, scopes, origins)[1]
    finally:
        service.close()


@dataclass
class Server:
    """`leadscore serve` in its own process group (killed whole, with its workers)."""

    root: Path
    workers: int = 1
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> Server:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
            # the rescoring worker as a thread: a spawned process costs each test server seconds of
            # start-up; the durability test and the load benchmark ask for the process explicitly
            "LEADSCORE_API_RESCORE_PROCESS": "false",
            **self.env,
        }
        env.pop("LEADSCORE_DATABASE_URL", None)
        cmd = [
            sys.executable,
            "-m",
            "leadscore.cli.main",
            "serve",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--log-level",
            "warning",
            "--project",
            str(self.root),
        ]
        self.log = open(self.root / "server.log", "ab")  # noqa: SIM115  (closed in stop())
        self.process = subprocess.Popen(cmd, env=env, start_new_session=True, stderr=self.log, stdout=self.log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = (self.root / "server.log").read_text(errors="replace")
                raise RuntimeError(f"server exited with {self.process.returncode}: {err[-2000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not start in time")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)
        self.log.close()
        self.process = None

    def kill(self) -> None:
        """SIGKILL the server and its workers: nothing gets to flush or commit."""
        self.stop(signal.SIGKILL)
