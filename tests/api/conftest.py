"""Fixtures: a migrated workspace, API keys of every scope, and a real server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.api.server import Server, create_key, make_workspace
from tests.store.conftest import postgres_template  # noqa: F401 (a fixture: PostgreSQL stores copied from a migrated template)


@dataclass
class Live:
    url: str
    root: Path
    keys: dict[str, str]

    def client(self, key: str | None = "admin", **kwargs: object) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[key]}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0, **kwargs)  # type: ignore[arg-type]


def _keys(root: Path) -> dict[str, str]:
    keys = {scope: create_key(root, f"{scope}-key", scope) for scope in ("admin", "read", "write")}
    keys["intake"] = create_key(root, "site", "intake", origins=("http://127.0.0.1:9",))
    keys["revoked"] = create_key(root, "old", "admin")
    from leadscore.app.service import LeadService
    from leadscore.app.workspace import Workspace

    service = LeadService.from_workspace(Workspace.load(root))
    try:
        revoked_id = keys["revoked"].split("_")[1]
        service.revoke_key(revoked_id)
    finally:
        service.close()
    return keys


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: pytest.MonkeyPatch) -> Iterator[Live]:
    root = make_workspace(tmp_path_factory.mktemp("ws"))
    keys = _keys(root)
    server = Server(root).start()
    try:
        yield Live(server.url, root, keys)
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def backend_root(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A migrated workspace (in `tmp_path / "ws"`) on SQLite, or on a fresh PostgreSQL database."""
    monkeypatch.delenv("LEADSCORE_DATABASE_URL", raising=False)
    store = None
    if request.param == "postgres":
        from tests.store.conftest import fresh_database_url

        store = fresh_database_url("postgres", tmp_path, request, migrated=True)
    return make_workspace(tmp_path / "ws", store)


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("LEADSCORE_DATABASE_URL", raising=False)
        mp.delenv("LEADSCORE_PROJECT", raising=False)
        yield mp
