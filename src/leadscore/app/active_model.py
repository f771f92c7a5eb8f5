"""Which evaluator scores now: the store's active model, built once and swapped when it changes.

Mixed into `LeadService`, which provides the store, the model file, the clock and the scoring
processes. Safe to share between threads: the evaluator is built and swapped under a lock.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from pathlib import Path

from leadscore.app.errors import NoActiveModel, NotMigrated
from leadscore.model import ScoringModel, load_model
from leadscore.store import drain_reads
from leadscore.store.base import LeadStore
from leadscore.store.migrate import current_revision, head_revision
from leadscore.store.models_repo import StoredModel, activate, active_model, model_history
from leadscore.store.pipeline import Evaluator

log = logging.getLogger("leadscore.app.service")


class ActiveModel:
    """The evaluator of the store's active model (see the module's docstring)."""

    store: LeadStore
    model_path: Path | None
    workers: int
    _evaluator: Evaluator | None
    _lock: threading.RLock
    # Evaluators replaced by a newer active model: requests in flight may still hold them, so they
    # are closed with the service, not at the swap.
    _retired: list[Evaluator]

    def now_us(self, at: datetime | None = None) -> int:
        raise NotImplementedError

    def close_evaluators(self) -> None:
        with self._lock:
            for evaluator in [*self._retired, *([self._evaluator] if self._evaluator else [])]:
                evaluator.close()
            self._retired.clear()
            self._evaluator = None

    # -- schema and model ---------------------------------------------------------------------------
    def upgrade(self) -> StoredModel | None:
        """Migrate the store to the latest schema; register the workspace model if none is active."""
        self.store.upgrade()
        return self.active_model()

    def check_schema(self) -> None:
        if current_revision(self.store.engine) != head_revision():
            raise NotMigrated("the store is not at the latest schema: run `leadscore db upgrade`")

    _check_schema = check_schema

    def active_model(self) -> StoredModel | None:
        with self.store.read() as conn:
            found = active_model(conn)
        if found is None and self.model_path is not None:
            model = load_model(self.model_path)
            text = self.model_path.read_text(encoding="utf-8")
            with self.store.write() as conn:
                activate(self.store, conn, model, text, self.now_us())
            log.info("registered model %s from %s", model.name, self.model_path)
            with self.store.read() as conn:
                found = active_model(conn)
        return found

    @property
    def evaluator(self) -> Evaluator:
        current = self._evaluator
        if current is not None:
            return current
        with self._lock:
            if self._evaluator is None:
                self.check_schema()
                stored = self.active_model()
                if stored is None:
                    raise NoActiveModel("no active model: give a model file or run `leadscore model apply FILE`")
                self._evaluator = self._evaluator_for(stored.load(), self.model_path)
            return self._evaluator

    def current_evaluator(self) -> Evaluator:
        """The evaluator of the store's active model, rebuilt when another process (an API worker, the
        CLI) applied a new one since; every write path asks for it, at the cost of one small read."""
        evaluator = self.evaluator
        with self.store.read() as conn:
            version = drain_reads.active_version(conn)
        # the store names a model by its fingerprint; the evaluator's version also covers its artifacts
        if version is None or version == evaluator.scorer.model_version:
            return evaluator
        with self._lock:
            if self._evaluator is evaluator:
                stored = self.active_model()
                if stored is not None:
                    self._retired.append(evaluator)
                    self._evaluator = self._evaluator_for(stored.load(), self.model_path)
                    log.info("model %s@%s applied elsewhere; scoring with it now", stored.name, stored.version)
            return self._evaluator or evaluator

    def _evaluator_for(self, model: ScoringModel, path: str | Path | None, fire_triggers: bool = True) -> Evaluator:
        """Predictive dimensions need their trained artifacts, which lie next to the model file."""
        if not model.predictive_dimensions():
            return Evaluator(model, fire_triggers=fire_triggers, workers=self.workers)
        from leadscore._extras import require

        require("predictive", "a model with predictive dimensions")
        from leadscore.predictive.runtime import load_predictors

        base = Path(path).parent if path is not None else Path.cwd()
        return Evaluator(model, fire_triggers=fire_triggers, predictors=load_predictors(model, base))

    @property
    def model(self) -> ScoringModel:
        return self.evaluator.model

    def models(self) -> list[StoredModel]:
        with self.store.read() as conn:
            return model_history(conn)
