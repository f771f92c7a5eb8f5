"""Prediction throughput of a predictive dimension: one lead at a time (the real-time path) and in batch.

Uses the committed example artifact (history features + rule dimensions, examples/b2b-saas-predictive)
on generated B2B leads at the generator's end time. Writes benchmarks/results/predictive_runtime.md.

    .venv/bin/python benchmarks/predictive_runtime.py [--leads 2000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "b2b-saas-predictive"
RESULTS = ROOT / "benchmarks" / "results" / "predictive_runtime.md"
AT = "2026-06-01T00:00:00Z"


def main() -> int:
    from leadscore.domain.timeutil import parse_timestamp, to_micros
    from leadscore.engine import Scorer
    from leadscore.engine.timeline import Timeline
    from leadscore.generate import sample
    from leadscore.model import load_model
    from leadscore.predictive.runtime import load_predictor, load_predictors

    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=2000)
    args = parser.parse_args()
    leads, events = sample("b2b", args.leads, seed=99)
    at = to_micros(parse_timestamp(AT))
    by_lead = defaultdict(list)
    for e in events:
        by_lead[e.lead_id].append(e)
    cases = [(lead.attributes, Timeline(by_lead[lead.id], until=at), at) for lead in leads]
    predictor = load_predictor(EXAMPLE / "won-90d.lsm")
    predictor.predict_many(cases[:10], 3)  # warm up

    one = []
    for attributes, timeline, t in cases[:300]:
        start = time.perf_counter()
        predictor.predict_many([(attributes, timeline, t)], 3)
        one.append(time.perf_counter() - start)
    start = time.perf_counter()
    predictor.predict_many(cases, 3)
    batch = time.perf_counter() - start
    start = time.perf_counter()
    predictor.predict_many(cases, 0)
    batch_plain = time.perf_counter() - start

    model = load_model(EXAMPLE / "model.yaml")
    scorer = Scorer(model, load_predictors(model, EXAMPLE))
    rules_only = Scorer(load_model(ROOT / "examples" / "b2b-saas" / "model.yaml"))
    subset = leads[:300]
    timings = {}
    for name, s in (("rules only (b2b-saas)", rules_only), ("with the propensity dimension", scorer)):
        start = time.perf_counter()
        for lead in subset:
            s.score_timeline(lead, Timeline(by_lead[lead.id], until=at), at)
        timings[name] = (time.perf_counter() - start) / len(subset)

    n_events = sum(len(by_lead[lead.id]) for lead in leads) / len(leads)
    rows = [
        ("one lead, `predict_one` path (median / p95)",
         f"{statistics.median(one) * 1e3:.1f} ms / {sorted(one)[int(len(one) * 0.95)] * 1e3:.1f} ms"),
        (f"batch of {len(cases):,} leads, with top 3 factors", f"{len(cases) / batch:,.0f} leads/s"),
        (f"batch of {len(cases):,} leads, probability only", f"{len(cases) / batch_plain:,.0f} leads/s"),
        *((f"full result per lead, {name} (lifecycle replay included)", f"{v * 1e3:.1f} ms")
          for name, v in timings.items()),
    ]  # fmt: skip
    lines = [
        "# Predictive dimension: prediction throughput",
        "",
        f"Artifact `examples/b2b-saas-predictive/won-90d.lsm` ({predictor.artifact.metadata['chosen_model']}, "
        f"{len(predictor.names)} features incl. rule dimensions); {len(leads):,} generated B2B leads "
        f"(seed 99, {n_events:.0f} events per lead on average) at {AT}; one process, 2-core machine.",
        "Command: `.venv/bin/python benchmarks/predictive_runtime.py`",
        "",
        "| measurement | value |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in rows),
        "",
        "The full result includes the lifecycle replay, which asks for the scores at every event of the lead,",
        "so a model whose transitions test `total` runs the prediction once per event.",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
