"""API keys through the service: create (token shown once), list, revoke, verify."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from leadscore.app.errors import InvalidInput, NotFound
from leadscore.store import api_keys
from leadscore.store.api_keys import KeyInfo
from leadscore.store.base import LeadStore

log = logging.getLogger("leadscore.app.service")


class ApiKeys:
    """Mixed into `LeadService`, which provides the store, the clock and the schema check."""

    store: LeadStore

    def now_us(self, at: datetime | None = None) -> int:
        raise NotImplementedError

    def check_schema(self) -> None:
        raise NotImplementedError

    # -- API keys -----------------------------------------------------------------------------------
    def create_key(
        self, name: str, scopes: Sequence[str], origins: Sequence[str] = (), at: datetime | None = None
    ) -> tuple[KeyInfo, str]:
        """A new key and its token (shown once: only its hash is stored)."""
        self.check_schema()
        try:
            info, token = api_keys.create_key(self.store, name, scopes, self.now_us(at), origins)
        except api_keys.ApiKeyError as exc:
            raise InvalidInput(str(exc), field="scopes" if "scope" in str(exc) else "origins") from None
        log.info("created API key %s (%s) with scopes %s", info.id, name, ",".join(sorted(info.scopes)))
        return info, token

    def api_keys(self, include_revoked: bool = True) -> list[KeyInfo]:
        self.check_schema()
        with self.store.read() as conn:
            return api_keys.list_keys(conn, include_revoked)

    def revoke_key(self, key_id: str, at: datetime | None = None) -> KeyInfo:
        self.check_schema()
        found = api_keys.revoke_key(self.store, key_id, self.now_us(at))
        if found is None:
            raise NotFound(f"no API key {key_id!r}", field="key_id")
        log.info("revoked API key %s", key_id)
        return found

    def verify_key(self, token: str) -> KeyInfo | None:
        with self.store.read() as conn:
            return api_keys.verify_token(conn, token)
