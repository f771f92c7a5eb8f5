"""Rebuild `won-90d.lsm`: generated B2B history, point-in-time snapshots every 30 days, the label "deal
won within 90 days", the b2b-saas rule model's dimensions as extra features.

    .venv/bin/python examples/b2b-saas-predictive/train_artifact.py

The same as `leadscore generate --leads 3000 --seed 7 --out DIR` followed by `leadscore train --events
DIR/events --leads DIR/leads.parquet --outcome deal_won --horizon 90d --every 30d --model
examples/b2b-saas/model.yaml --refit --out examples/b2b-saas-predictive/won-90d.lsm`.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from leadscore.generate import generate
from leadscore.model import load_model
from leadscore.predictive import save
from leadscore.predictive.history import connect_history, train_history

HERE = Path(__file__).resolve().parent
RULES = HERE.parent / "b2b-saas" / "model.yaml"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        generate("b2b", 3000, tmp, seed=7, format="parquet")
        con = connect_history(events=Path(tmp) / "events", leads=Path(tmp) / "leads.parquet")
        result, summary = train_history(
            con,
            outcome="deal_won",
            horizon_days=90,
            every_days=30,
            rules=load_model(RULES),
            rules_source=RULES.read_text(encoding="utf-8"),
            refit=True,
        )
    out = save(result.artifact, HERE / "won-90d.lsm")
    sys.stdout.write(
        f"{summary['rows']} snapshots, {summary['positives']} positives; chosen {result.chosen}, "
        f"held-out ROC AUC {result.metrics.roc_auc:.3f}; wrote {out} ({out.stat().st_size:,} bytes)\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
