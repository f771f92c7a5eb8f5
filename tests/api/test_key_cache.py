"""Verified keys are cached (leadscore.api.auth.KeyCache): a revocation through this process takes effect
at once, through another process within the cache's time, and a key is never cached as valid after it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from leadscore.api.auth import KeyCache
from leadscore.app.service import LeadService
from leadscore.app.workspace import Workspace
from tests.api.server import make_workspace


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("LEADSCORE_DATABASE_URL", raising=False)
    return make_workspace(tmp_path / "ws")


@pytest.fixture
def server_side(root: Path) -> Iterator[LeadService]:
    service = LeadService.from_workspace(Workspace.load(root))
    yield service
    service.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_revoked_elsewhere_is_refused_once_the_cache_time_has_passed(
    root: Path, server_side: LeadService
) -> None:
    clock = Clock()
    cache = KeyCache(2.0, clock=clock)
    info, token = server_side.create_key("crm", ["write"])
    assert cache.verify(server_side, token) == info
    other = LeadService.from_workspace(Workspace.load(root))  # another process's view of the store
    try:
        other.revoke_key(info.id)
    finally:
        other.close()
    clock.now += 1.9
    assert cache.verify(server_side, token) == info  # still trusted within the cache time
    clock.now += 0.2
    assert cache.verify(server_side, token) is None  # looked up again: revoked
    clock.now += 10
    assert cache.verify(server_side, token) is None  # and never cached as valid again


def test_a_key_revoked_through_this_process_is_refused_at_once(server_side: LeadService) -> None:
    cache = KeyCache(3600.0, clock=Clock())
    info, token = server_side.create_key("crm", ["write"])
    assert cache.verify(server_side, token) == info
    server_side.revoke_key(info.id)
    cache.forget(info.id)  # what DELETE /v1/keys/{id} does after revoking
    assert cache.verify(server_side, token) is None


def test_without_a_cache_time_every_request_reads_the_key(server_side: LeadService) -> None:
    cache = KeyCache(0.0, clock=Clock())
    info, token = server_side.create_key("crm", ["write"])
    assert cache.verify(server_side, token) == info
    server_side.revoke_key(info.id)
    assert cache.verify(server_side, token) is None


def test_an_unknown_or_malformed_token_is_refused(server_side: LeadService) -> None:
    cache = KeyCache(2.0, clock=Clock())
    info, token = server_side.create_key("crm", ["write"])
    assert cache.verify(server_side, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert cache.verify(server_side, "not-a-key") is None
    assert cache.verify(server_side, token) == info
