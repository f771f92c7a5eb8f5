"""API keys: created with scopes, stored hashed, listed without their secret, revoked.

A token reads `lsk_<id>_<secret>`. The id finds the row; the secret is compared with the stored
sha256 in constant time. A secret is 32 random bytes, so a plain hash is enough (no password
stretching needed: nobody can guess it), and checking a key costs one primary-key read.

Scopes: `read` (look), `write` (change leads, send events), `admin` (everything, incl. models,
keys and erasure), `intake` (send events only: the public key a web page embeds, limited to the
site's origins).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadscore.store.base import LeadStore
from leadscore.store.tables import api_keys

SCOPES = ("read", "write", "admin", "intake")
# What each scope grants: admin can do everything, write can also read and send events.
GRANTS: dict[str, frozenset[str]] = {
    "admin": frozenset(SCOPES),
    "write": frozenset({"read", "write", "intake"}),
    "read": frozenset({"read"}),
    "intake": frozenset({"intake"}),
}
PREFIX = "lsk_"
_TOKEN = re.compile(r"^lsk_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


class ApiKeyError(ValueError):
    """A key request that cannot be carried out (unknown scope, bad origin)."""


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What a caller is allowed to do; never holds the secret."""

    id: str
    name: str
    scopes: frozenset[str]
    origins: tuple[str, ...] = ()
    created_at: int = 0
    revoked_at: int | None = None
    grants: frozenset[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        granted: set[str] = set()
        for scope in self.scopes:
            granted |= GRANTS.get(scope, frozenset())
        object.__setattr__(self, "grants", frozenset(granted))

    def allows(self, scope: str) -> bool:
        return scope in self.grants

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_scopes(scopes: Iterable[str]) -> list[str]:
    chosen = sorted(set(scopes))
    if not chosen:
        raise ApiKeyError(f"a key needs at least one scope ({', '.join(SCOPES)})")
    unknown = [s for s in chosen if s not in SCOPES]
    if unknown:
        raise ApiKeyError(f"unknown scope {unknown[0]!r} (expected one of {', '.join(SCOPES)})")
    return chosen


def check_origins(origins: Iterable[str]) -> list[str]:
    out: list[str] = []
    for origin in origins:
        cleaned = origin.rstrip("/")
        if not _ORIGIN.match(cleaned):
            raise ApiKeyError(f"origin {origin!r} is not scheme://host[:port] (e.g. https://www.example.com)")
        out.append(cleaned.lower())
    return sorted(set(out))


def _info(row: sa.Row[Any]) -> KeyInfo:
    return KeyInfo(row.id, row.name, frozenset(row.scopes), tuple(row.origins or ()), row.created_at, row.revoked_at)


def create_key(
    store: LeadStore, name: str, scopes: Sequence[str], now: int, origins: Sequence[str] = ()
) -> tuple[KeyInfo, str]:
    """A new key and its token; the token is returned once and never stored."""
    if not name.strip() or len(name) > 255:
        raise ApiKeyError("a key needs a name of 1 to 255 characters")
    chosen = check_scopes(scopes)
    allowed = check_origins(origins)
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    row = {
        "id": key_id,
        "name": name,
        "secret_hash": _hash(secret),
        "scopes": chosen,
        "origins": allowed,
        "created_at": now,
        "revoked_at": None,
    }
    with store.write() as conn:
        conn.execute(api_keys.insert(), [row])
    return KeyInfo(key_id, name, frozenset(chosen), tuple(allowed), now), f"{PREFIX}{key_id}_{secret}"


def list_keys(conn: Connection, include_revoked: bool = True) -> list[KeyInfo]:
    query = sa.select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
    if not include_revoked:
        query = query.where(api_keys.c.revoked_at.is_(None))
    return [_info(r) for r in conn.execute(query)]


def revoke_key(store: LeadStore, key_id: str, now: int) -> KeyInfo | None:
    """Revoke the key (kept, marked revoked, for the audit); None when there is no such key."""
    with store.write() as conn:
        conn.execute(
            api_keys.update().where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)).values(revoked_at=now)
        )
        row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).first()
    return _info(row) if row is not None else None


def verify_token(conn: Connection, token: str) -> KeyInfo | None:
    """The active key behind `token`, or None (malformed, unknown, wrong secret or revoked)."""
    match = _TOKEN.match(token or "")
    if match is None:
        return None
    key_id, secret = match.groups()
    row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).first()
    if row is None or not hmac.compare_digest(row.secret_hash, _hash(secret)) or row.revoked_at is not None:
        return None
    return _info(row)
