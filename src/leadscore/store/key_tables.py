"""The API-key table, declared on the store's metadata (see leadscore.store.api_keys)."""

from __future__ import annotations

import sqlalchemy as sa

from leadscore.store.tables import Micros, metadata

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    # sha256 of the secret part: the secret itself is shown once, at creation, and never stored
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("origins", sa.JSON, nullable=False),  # browser origins a public intake key may send from
    sa.Column("created_at", Micros, nullable=False),
    sa.Column("revoked_at", Micros, nullable=True),
)
