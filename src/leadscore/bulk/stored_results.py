"""What the history pass reads of a part's stored results (`lifecycle_history.finish`): the previous
result each lead's stage moves and trigger tests compare with, read as plain rows with the JSON
columns as text and decoded only where a comparison needs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from leadscore.domain.result import Result, StageChange
from leadscore.domain.timeutil import from_micros
from leadscore.store.events_repo import json_value

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


class Stored(NamedTuple):
    """What the history pass reads of a lead's stored result: its columns as read, the labels and
    the stage history still JSON text. `result` decodes them when the trigger tests compare with it:
    a result of another model (the first apply of a lifecycle over a rules-only model, a renamed
    model) is not compared with (`finish`), and decoding its labels and history for nothing was an
    eighth of the pass."""

    evaluated_at: int
    row: dict[str, Any]  # its evaluation time and stage, as `results_repo._stage_moves` reads them
    lead_id: str
    model: str
    model_version: str
    score: float
    labels: str  # JSON text
    stage: str | None
    stage_history: str | None  # JSON text

    @property
    def result(self) -> Result:
        """`result_of` of the stored row, without dimensions, playbook and breakdown."""
        history = json_value(self.stage_history) if self.stage_history is not None else None
        changes = tuple(
            StageChange(c["stage"], from_micros(c["at"]), c["from"], c["cause"], c["event_id"]) for c in history or ()
        )
        labels = dict(json_value(self.labels))
        at, version = from_micros(self.evaluated_at), self.model_version
        # positional: (lead, time, model, version, score, dimensions, labels, stage, breakdown, playbook, history)
        return Result(self.lead_id, at, self.model, version, self.score, {}, labels, self.stage, (), None, changes)


# a stored result's columns the history pass reads, JSON as its text (decoded here, not by the engine)
_STORED = (
    "SELECT lead_id, model, model_version, evaluated_at, score, CAST(labels AS TEXT), stage, "
    "CAST(stage_history AS TEXT) FROM results WHERE lead_id IN "
)


def stored_results(conn: Connection, lead_ids: Sequence[str]) -> dict[str, Stored]:
    """The stored results of `lead_ids` as the history pass needs them: `result_of` of the row
    `results_repo.load_result_rows` gives (`Stored.result`), without the dimensions, the playbook and
    the breakdown, which neither the stage moves nor the trigger tests against the previous result
    read (a trigger's `when:` and the payload read the new result). Read as plain tuples with the
    JSON columns as text: through the engine's JSON type, each of the five JSON columns was decoded
    and the row made a mapping, 3-4 CPU s per 100,000 leads for what is thrown away. On the driver's
    cursor, all rows at once: through SQLAlchemy's result, one `fetchone` and its row each."""
    from leadscore.store.leads_repo import chunks

    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    raw: Any = conn.connection.driver_connection
    out: dict[str, Stored] = {}
    for ids in chunks(sorted(set(lead_ids))):
        cur = raw.cursor()
        try:
            cur.execute(f"{_STORED}({', '.join([mark] * len(ids))})", list(ids))
            rows = cur.fetchall()
        finally:
            cur.close()
        for lead, name, version, evaluated_at, score, labels, stage, history in rows:
            evaluated_at = int(evaluated_at)
            row = {"evaluated_at": evaluated_at, "stage": stage}
            out[lead] = Stored(evaluated_at, row, lead, name, version, score, labels, stage, history)
    return out
