"""CPU of scoring alone on the real-time path, without a store: each lead's newest event arrives after
the others, and the lead is rescored as the real-time path rescores it (`Evaluator.score_one`, the
lifecycle replay resumed from the result of its other events), then, for comparison, from scratch
(as a file ingest scores a new lead). Not timed by any test.

    .venv/bin/python benchmarks/rescore_cpu.py [--leads 500] [--runs 5]

Data: `leadscore generate --leads N` (B2B, about 50 events a lead), examples/b2b-saas/model.yaml.
Prints the best of `--runs` CPU times per lead and a hash of every result (equal hashes: equal
results), so that two versions of the engine compare in one sitting.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from leadscore.domain import Event  # noqa: E402
from leadscore.domain.timeutil import to_micros  # noqa: E402
from leadscore.generate.api import generate  # noqa: E402
from leadscore.io import read_events, read_leads  # noqa: E402
from leadscore.model import load_model  # noqa: E402
from leadscore.store.pipeline import Evaluator, Resume  # noqa: E402

MODEL = ROOT / "examples" / "b2b-saas" / "model.yaml"
AT = to_micros(datetime(2026, 6, 1, tzinfo=UTC))


def best_of(runs: int, work: Callable[[], list[Any]]) -> tuple[float, list[Any]]:
    best, out = float("inf"), []
    for _ in range(runs):
        c = time.process_time()
        out = work()
        best = min(best, time.process_time() - c)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        generate("b2b", args.leads, Path(d))
        leads = list(read_leads(Path(d) / "leads.parquet"))
        events = [e for part in sorted(Path(d).glob("events/part-*.parquet")) for e in read_events(part)]
    by_lead: dict[str, list[Event]] = defaultdict(list)
    for i, e in enumerate(events):  # stored events always have an id (their key)
        by_lead[e.lead_id].append(dataclasses.replace(e, id=f"e{i}") if e.id is None else e)
    evaluator = Evaluator(load_model(MODEL))
    jobs = []
    for lead in leads:
        own = sorted(by_lead[lead.id], key=lambda e: e.ts)
        if len(own) > 1:
            prev, _, _ = evaluator.score_one(lead, own[:-1], None, own[-1].ts - 1)
            jobs.append((lead, own, Resume(prev, len(own) - 1, frozenset([own[-1].id]))))
    resumed_s, resumed = best_of(args.runs, lambda: [evaluator.score_one(ld, ev, None, AT, r) for ld, ev, r in jobs])
    full_s, full = best_of(args.runs, lambda: [evaluator.score_one(ld, ev, None, AT) for ld, ev, _ in jobs])
    assert [o[0] for o in resumed] == [o[0] for o in full], "a resumed replay differs from the full one"
    digest = hashlib.sha256(repr([(r.to_dict(), n, f) for r, n, f in full]).encode()).hexdigest()[:16]
    n = len(jobs)
    print(
        f"{n} leads, {sum(len(ev) for _, ev, _ in jobs):,} events: CPU per lead, best of {args.runs}: "
        f"resumed {resumed_s / n * 1e6:.0f} us, from scratch {full_s / n * 1e6:.0f} us; results {digest}"
    )


if __name__ == "__main__":
    main()
