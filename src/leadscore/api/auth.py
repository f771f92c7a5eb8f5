"""API-key authentication: `Authorization: Bearer <token>` (or HTTP Basic with the token as the user
name, as Segment-compatible sources send their write key), scopes, and the intake keys' origins.

`verify_key` is the one check every edge uses (the API's dependencies, the dashboard's login).
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable

from leadscore.app.service import LeadService
from leadscore.store.api_keys import GRANTS, SCOPES, KeyInfo, verify_token
from leadscore.store.base import LeadStore

__all__ = ["GRANTS", "SCOPES", "KeyCache", "KeyInfo", "token_from_header", "verify_key"]


def verify_key(source: LeadService | LeadStore, token: str) -> KeyInfo | None:
    """The active key behind `token`, or None (malformed, unknown, wrong secret, revoked)."""
    store = source.store if isinstance(source, LeadService) else source
    with store.read() as conn:
        return verify_token(conn, token)


def token_from_header(value: str | None) -> str | None:
    """The token in an Authorization header: `Bearer <token>` or `Basic base64(<token>:)`."""
    if not value:
        return None
    scheme, _, rest = value.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return rest.strip() or None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(rest.strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        user, _, password = decoded.partition(":")
        return user or password or None
    return None


class KeyCache:
    """Verified keys remembered for `ttl_s` seconds (0: no cache), so a busy intake does not read the
    key table on every request. A revocation in this process takes effect at once; in another
    process, within `ttl_s`."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._items: dict[str, tuple[float, KeyInfo]] = {}
        self._lock = threading.Lock()

    def verify(self, service: LeadService, token: str) -> KeyInfo | None:
        if self.ttl_s <= 0:
            return verify_key(service, token)
        now = self.clock()
        with self._lock:
            hit = self._items.get(token)
        if hit is not None and hit[0] > now:
            return hit[1]
        found = verify_key(service, token)
        with self._lock:
            if found is None:
                self._items.pop(token, None)
            else:
                if len(self._items) > 10_000:
                    self._items.clear()
                self._items[token] = (now + self.ttl_s, found)
        return found

    def forget(self, key_id: str) -> None:
        with self._lock:
            for token in [t for t, (_, info) in self._items.items() if info.id == key_id]:
                del self._items[token]
