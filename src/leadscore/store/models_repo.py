"""Model versions held by the store: the active one scores; older ones stay as history."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadscore.model import ScoringModel, model_version, parse_model
from leadscore.store.base import LeadStore
from leadscore.store.tables import models


@dataclass(frozen=True, slots=True)
class StoredModel:
    version: str
    name: str
    source: str
    applied_at: int
    active: bool

    def load(self) -> ScoringModel:
        return parse_model(self.source, source=f"model {self.name}@{self.version}")


def active_model(conn: Connection) -> StoredModel | None:
    row = conn.execute(sa.select(models).where(models.c.active.is_(True))).first()
    return StoredModel(row.version, row.name, row.source, row.applied_at, row.active) if row else None


def model_history(conn: Connection) -> list[StoredModel]:
    rows = conn.execute(sa.select(models).order_by(models.c.applied_at, models.c.version))
    return [StoredModel(r.version, r.name, r.source, r.applied_at, r.active) for r in rows]


def activation(store: LeadStore, model: ScoringModel, source: str, now: int) -> list[sa.Executable]:
    """The statements that make `model` the active version (kept as text, exactly as written); the
    others stay as history. Statements rather than a function of a connection, so that a bulk writer
    with a connection of its own (`bulk.write`) runs them in its transaction too."""
    version = model_version(model)
    row = {"version": version, "name": model.name, "source": source, "applied_at": now, "active": True}
    upsert = store.insert(models).values(row)
    upsert = upsert.on_conflict_do_update(index_elements=["version"], set_={"active": True, "applied_at": now})
    return [models.update().where(models.c.version != version).values(active=False), upsert]


def activate(store: LeadStore, conn: Connection, model: ScoringModel, source: str, now: int) -> str:
    """Make `model` the active version (kept as text, exactly as written); the others stay as history."""
    for stmt in activation(store, model, source, now):
        conn.execute(stmt)
    return model_version(model)
