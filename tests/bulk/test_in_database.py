"""In-database re-scoring on PostgreSQL: the rows it writes are the rows the pure path writes."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from leadscore.app.maintenance import _due
from leadscore.app.service import LeadService
from leadscore.bulk.in_database import Settings, rescore_in_database
from leadscore.domain import Event, Lead
from leadscore.model import parse_model
from leadscore.sql.query import QueryPlan
from leadscore.store import LeadStore, open_store
from leadscore.store.ingest import ingest_events
from leadscore.store.pipeline import Evaluator, Rescored
from leadscore.store.tables import leads, results, score_history
from tests.batch.compare import same
from tests.store.conftest import FixedClock, fresh_database_url

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 1, tzinfo=UTC)
NOW = datetime(2026, 6, 1, tzinfo=UTC)

BASE = """
format: 1
name: ingest-model
rules:
  - {id: any-view, on: page_view, points: 1}
"""

FULL = """
format: 1
name: full-b2b
dimensions:
  fit: {floor: 0, cap: 40}
  engagement: {floor: -20, cap: 100}
rules:
  - {id: big, dimension: fit, when: {attribute: employees, gte: 100}, points: 30}
  - {id: tiny, dimension: fit, when: {attribute: employees, lt: 10}, points: -15}
  - {id: visit, dimension: engagement, on: page_view, points: 5, within: 30d, limit: 40}
  - {id: pricing, dimension: engagement, on: page_view, where: {path: {contains: pricing}}, points: 20,
     decay: {half_life: 7d}}
  - {id: demo, dimension: engagement, on: demo_request, points: 40, once: true}
  - {id: recent-demo, dimension: engagement, on: demo_request, points: 10, once: true, decay: {linear: 60d}}
  - {id: mails, dimension: engagement, on: email_open, points: 2, decay: {linear: 45d}, limit: 9}
  - {id: quiet, dimension: engagement, when: {none: page_view, within: 14d}, points: -10}
  - {id: busy, dimension: engagement, when: {count: page_view, within: 7d, gte: 3}, points: 7}
  - {id: spender, dimension: fit, when: {sum: amount, of: purchase, gte: 100}, points: 12}
  - {id: stale, dimension: engagement, when: {last: email_open, older_than: 30d}, points: -3}
labels:
  temperature:
    - {label: hot, when: {score: total, gte: 60}}
    - {label: warm, when: {score: total, gt: 0}}
    - {label: cold}
  fit:
    - {label: strong, when: {score: fit, gte: 30}}
playbooks:
  - {name: call, when: {label: temperature, eq: hot}, priority: 1, action: Call now, content: [deck, "case \\u00e9"]}
  - {name: nurture, when: {label: temperature, eq: warm}, action: Nurture}
"""

MIXED = """
format: 1
name: mixed-kinds
rules:
  - {id: big-order, on: purchase, where: {amount: {gt: 50}}, points: 3}
  - {id: text-order, on: purchase, where: {amount: "12"}, points: 4}
  - {id: flagged, on: page_view, where: {flag: true}, points: 2}
  - {id: has-plan, on: page_view, where: {plan: {exists: true}}, points: 1}
  - {id: not-pro, on: page_view, where: {plan: {ne: pro}}, points: 0.5}
  - {id: no-plan, on: page_view, where: {plan: {exists: false}}, points: 0.25}
  - {id: sale, on: page_view, where: {path: {contains: "%"}}, points: 0.125}
  - {id: region, when: {attribute: region, in: [eu, 3]}, points: 6}
  - {id: vip, when: {attribute: vip, eq: true}, points: 8}
  - {id: avg-order, when: {avg: amount, of: purchase, gt: 40}, points: 5}
  - {id: max-order, when: {max: amount, of: purchase, gte: 90}, points: 1}
"""

EXACT = """
format: 1
name: exact-sums
dimensions:
  fit: {}
  engagement: {cap: 30}
rules:
  - {id: big, dimension: fit, when: {attribute: employees, gte: 100}, points: 30}
  - {id: visit, dimension: engagement, on: page_view, points: 5, within: 30d}
  - {id: demo, dimension: engagement, on: demo_request, points: 40, once: true}
labels:
  temperature:
    - {label: hot, when: {score: total, gte: 40}}
playbooks:
  - {name: call, when: {label: temperature, eq: hot}, priority: 3, action: Call now}
"""

LIFECYCLE = """
format: 1
name: with-stages
rules:
  - {id: visit, on: page_view, points: 5}
lifecycle:
  stages: [lead, mql]
  transitions:
    - {to: mql, when: {score: total, gte: 20}}
"""


def _properties(rnd: random.Random, typ: str) -> dict[str, Any]:
    if typ == "purchase":
        return {"amount": rnd.choice([5, 12.5, 60, 99.9, 150, "12", "60", True, None])}
    if typ == "page_view":
        props: dict[str, Any] = {"path": rnd.choice(["/", "/Pricing", "/docs", "/50%-off", 7])}
        choice = rnd.randrange(6)
        if choice == 0:
            props["plan"] = None
        elif choice == 1:
            props["plan"] = {"tier": "pro"}
        elif choice == 2:
            props["plan"] = rnd.choice(["pro", "free"])
        if rnd.random() < 0.5:
            props["flag"] = rnd.choice([True, False, 1, "true"])
        return props
    return {}


def generate(seed: int, n_leads: int, n_events: int) -> tuple[list[Lead], list[Event]]:
    rnd = random.Random(seed)
    people = []
    for i in range(n_leads):
        attrs: dict[str, Any] = {"employees": rnd.choice([5, 50, 150, 5000, "150"])}
        if rnd.random() < 0.7:
            attrs["region"] = rnd.choice(["eu", "us", 3, 3.0, None])
        if rnd.random() < 0.5:
            attrs["vip"] = rnd.choice([True, False, 1, "true"])
        people.append(Lead(f"L{i:04d}", attrs))
    types = ["page_view", "page_view", "page_view", "demo_request", "email_open", "purchase"]
    events = []
    for i in range(n_events):
        typ = rnd.choice(types)
        when = START + timedelta(seconds=rnd.randrange(100 * 86_400), microseconds=rnd.randrange(1_000_000))
        lead = int(n_leads * rnd.random() ** 3)  # skewed: a few busy leads, many quiet ones
        events.append(Event(f"L{lead:04d}", typ, when, _properties(rnd, typ), f"e{i}"))
    # a few events in the future of the evaluation: they set next_change_at
    events += [Event("L0001", "page_view", NOW + timedelta(days=3), {"path": "/"}, "future-1")]
    return people, events


@dataclass
class Pair:
    """Two stores with the same data: the pure path writes one, the database the other."""

    pure: LeadStore
    fast: LeadStore
    clock: FixedClock


def _fill(url: str, tmp_path: Path, clock: FixedClock, data: tuple[list[Lead], list[Event]]) -> LeadStore:
    store = open_store(url)
    store.upgrade()
    model = tmp_path / "base.yaml"
    model.write_text(BASE, encoding="utf-8")
    service = LeadService(store, model_path=model, clock=clock)
    service.ingest_leads(data[0])
    service.ingest_events(data[1])
    return store


@pytest.fixture(scope="module")
def data() -> tuple[list[Lead], list[Event]]:
    return generate(11, 80, 1200)


@pytest.fixture
def pair(request: pytest.FixtureRequest, tmp_path: Path, data: tuple[list[Lead], list[Event]]) -> Iterator[Pair]:
    clock = FixedClock(NOW)
    stores = [
        _fill(fresh_database_url("postgres", tmp_path, request, migrated=True), tmp_path, clock, data) for _ in range(2)
    ]
    yield Pair(stores[0], stores[1], clock)
    for s in stores:
        s.dispose()


def micros(t: datetime) -> int:
    return int((t - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))


def pure_rescore(store: LeadStore, evaluator: Evaluator, at: int, cause: str, ids: list[str]) -> Rescored:
    def work(conn: Any) -> Rescored:
        store.lock_leads(conn, ids)
        return evaluator.rescore(store, conn, ids, at, cause)

    return store.transact(work)


def all_ids(store: LeadStore) -> list[str]:
    with store.read() as conn:
        return list(conn.execute(sa.select(leads.c.id).order_by(leads.c.id)).scalars())


def result_rows(store: LeadStore) -> dict[str, dict[str, Any]]:
    with store.read() as conn:
        return {r["lead_id"]: dict(r) for r in conn.execute(sa.select(results)).mappings()}


def result_texts(store: LeadStore) -> dict[str, tuple[Any, ...]]:
    """The JSON columns as stored text: the in-database writer must produce the same bytes."""
    cols = "dimensions::text, labels::text, stage_history::text, playbook::text, breakdown::text"
    with store.read() as conn:
        return {r[0]: tuple(r[1:]) for r in conn.exec_driver_sql(f"SELECT lead_id, {cols} FROM results")}


def history(store: LeadStore) -> list[dict[str, Any]]:
    with store.read() as conn:
        rows = conn.execute(sa.select(score_history).order_by(score_history.c.id)).mappings()
        return [{k: v for k, v in r.items() if k != "id"} for r in rows]


def assert_same(expected: Any, got: Any) -> None:
    diff = same(expected, got)
    assert not diff, "\n".join(diff[:10])


def meaningful(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """History without the rows a last-bit difference alone creates.

    The pure scorer adds a dimension's points with `math.fsum`, the database in order: a capped
    dimension can come out as 100.0 on one side and 99.99999999999999 on the other, which is a
    change (a history row with delta 0.0) for one and not the other."""
    seen: set[str] = set()
    out = []
    for row in rows:
        if row["lead_id"] not in seen or abs(row["delta"]) > 1e-9:
            out.append(row)
        seen.add(row["lead_id"])
    return out


def assert_history_adds_up(store: LeadStore) -> None:
    total: dict[str, float] = defaultdict(float)
    for row in history(store):
        total[row["lead_id"]] += row["delta"]
    for lead_id, row in result_rows(store).items():
        assert math.isclose(total[lead_id], row["score"], abs_tol=1e-9), lead_id


PARTS = Settings(parts=2, parts_min_leads=0)  # the leads in 2 parts, scored on 2 connections at once


def stage_tables(store: LeadStore) -> list[str]:
    with store.read() as conn:
        return list(
            conn.exec_driver_sql("SELECT tablename FROM pg_tables WHERE tablename LIKE '\\_ls\\_stage%%'").scalars()
        )


@pytest.mark.parametrize("settings", [None, PARTS], ids=["one-statement", "parts"])
@pytest.mark.parametrize("source", [FULL, MIXED, EXACT], ids=["full", "mixed", "exact"])
def test_apply_in_database_writes_what_the_pure_path_writes(pair: Pair, source: str, settings: Settings | None) -> None:
    evaluator = Evaluator(parse_model(source))
    at = micros(NOW)
    cause = f"model:{evaluator.version}"
    expected = pure_rescore(pair.pure, evaluator, at, cause, all_ids(pair.pure))
    done = rescore_in_database(pair.fast, evaluator, at, cause, settings=settings)
    assert done is not None
    assert (done.leads, done.changed) == (expected.leads, expected.changed)
    want, got = result_rows(pair.pure), result_rows(pair.fast)
    assert_same(want, got)
    assert any(r["next_change_at"] is not None for r in got.values())
    assert_same(history(pair.pure), history(pair.fast))
    assert_history_adds_up(pair.fast)
    if source is EXACT:  # no float sums: the same bytes as the pure path's writer
        assert result_texts(pair.pure) == result_texts(pair.fast)
    assert stage_tables(pair.fast) == []


def test_the_models_cover_what_they_claim(pair: Pair) -> None:
    """The data gives every rule of the full model something to do, so the comparison means something."""
    evaluator = Evaluator(parse_model(FULL))
    done = rescore_in_database(pair.fast, evaluator, micros(NOW), "model:x")
    assert done is not None
    seen = {b["rule"] for r in result_rows(pair.fast).values() for b in r["breakdown"]}
    assert seen >= {"big", "tiny", "visit", "pricing", "demo", "recent-demo", "mails", "quiet", "busy"}
    assert seen & {"cap:engagement", "floor:engagement", "floor:fit", "cap:fit"}
    labels = {r["labels"]["temperature"] for r in result_rows(pair.fast).values()}
    assert labels == {"hot", "warm", "cold"}


def test_a_second_apply_changes_nothing(pair: Pair) -> None:
    evaluator = Evaluator(parse_model(FULL))
    at = micros(NOW)
    first = rescore_in_database(pair.fast, evaluator, at, "model:x")
    before = result_rows(pair.fast), history(pair.fast)
    again = rescore_in_database(pair.fast, evaluator, at, "model:x")
    assert first is not None and again is not None
    assert first.changed > 0 and again.changed == 0 and again.leads == first.leads
    assert (result_rows(pair.fast), history(pair.fast)) == before


def test_apply_after_the_pure_path_changes_nothing_when_sums_are_exact(pair: Pair) -> None:
    evaluator = Evaluator(parse_model(EXACT))
    at = micros(NOW)
    pure_rescore(pair.fast, evaluator, at, "model:x", all_ids(pair.fast))
    before = result_rows(pair.fast)
    done = rescore_in_database(pair.fast, evaluator, at, "model:x")
    assert done is not None and done.changed == 0
    assert result_rows(pair.fast) == before


def test_refresh_only_touches_due_leads(pair: Pair) -> None:
    evaluator = Evaluator(parse_model(FULL))
    applied = micros(NOW)
    for store in (pair.pure, pair.fast):
        pure_rescore(store, evaluator, applied, "model:x", all_ids(store))
    later = micros(NOW + timedelta(days=2))
    with pair.pure.read() as conn:
        due = _due(conn, later, evaluator.version, "", 1_000_000)
    assert 0 < len(due) < len(all_ids(pair.pure))
    before = result_rows(pair.fast)
    expected = pure_rescore(pair.pure, evaluator, later, "refresh", due)
    done = rescore_in_database(pair.fast, evaluator, later, "refresh", due_only=True)
    assert done is not None
    assert done.leads == expected.leads
    after = result_rows(pair.fast)
    assert {k for k in after if after[k]["evaluated_at"] == later} == set(due)
    assert all(after[k] == before[k] for k in after if k not in due)
    assert_same(result_rows(pair.pure), after)
    want, got = history(pair.pure), history(pair.fast)
    assert_same(meaningful(want), meaningful(got))
    assert expected.changed - done.changed == len(want) - len(got)
    assert_history_adds_up(pair.fast)


def test_models_the_query_cannot_store_exactly_go_elsewhere(pair: Pair, tmp_path: Path) -> None:
    at = micros(NOW)
    assert rescore_in_database(pair.fast, Evaluator(parse_model(LIFECYCLE)), at, "x") is None
    sqlite = open_store(f"sqlite:///{tmp_path / 'lite.db'}")
    sqlite.upgrade()
    assert rescore_in_database(sqlite, Evaluator(parse_model(EXACT)), at, "x") is None
    sqlite.dispose()
    with_trigger = EXACT + "triggers:\n  - {id: hot, on: label_changed, set: temperature, to: hot}\n"
    assert rescore_in_database(pair.fast, Evaluator(parse_model(with_trigger)), at, "x") is None
    quiet = Evaluator(parse_model(with_trigger), fire_triggers=False)
    assert rescore_in_database(pair.fast, quiet, at, "x") is not None
    assert set(result_rows(pair.fast)) == set(all_ids(pair.fast))


def test_unchanged_leads_are_not_rewritten_but_read_the_same(pair: Pair) -> None:
    """A model change that moves few leads: the others get only the new model, version and time."""
    from tests.bulk.test_write import CONTENT, _log_rewrites, _rewritten

    a = Evaluator(parse_model(EXACT))
    b = Evaluator(parse_model(EXACT.replace("points: 40, once: true", "points: 45, once: true")))
    assert a.version != b.version
    at = micros(NOW)
    pure_rescore(pair.pure, a, at, f"model:{a.version}", all_ids(pair.pure))
    assert rescore_in_database(pair.fast, a, at, f"model:{a.version}") is not None
    stored = result_rows(pair.fast)
    _log_rewrites(pair.fast)  # every update of a results row naming a content column, by a trigger

    expected = pure_rescore(pair.pure, b, at, f"model:{b.version}", all_ids(pair.pure))
    done = rescore_in_database(pair.fast, b, at, f"model:{b.version}")
    assert done is not None and (done.leads, done.changed) == (expected.leads, expected.changed)
    assert result_texts(pair.pure) == result_texts(pair.fast)  # the same bytes as the pure path's writer
    assert_same(result_rows(pair.pure), result_rows(pair.fast))
    assert_same(history(pair.pure), history(pair.fast))
    now = result_rows(pair.fast)
    assert {r["model_version"] for r in now.values()} == {b.version}
    moved = sorted(k for k, row in now.items() if any(row[c] != stored[k][c] for c in CONTENT))
    assert 0 < len(moved) < len(now)
    assert _rewritten(pair.fast) == moved

    again = rescore_in_database(pair.fast, b, at, f"model:{b.version}")  # nothing to write at all
    assert again is not None and again.changed == 0 and again.leads == len(now)
    assert _rewritten(pair.fast) == moved and result_rows(pair.fast) == now


@pytest.mark.parametrize("source", [EXACT, FULL], ids=["exact", "full"])
def test_apply_in_parts_writes_what_the_one_statement_writes(pair: Pair, source: str) -> None:
    """Byte by byte (float sums included: they are exact), the history appended in lead order as the
    one statement appends it."""
    evaluator = Evaluator(parse_model(source))
    at = micros(NOW)
    whole = rescore_in_database(pair.pure, evaluator, at, "model:x")
    parts = rescore_in_database(pair.fast, evaluator, at, "model:x", settings=PARTS)
    assert whole is not None and parts is not None and (whole.leads, whole.changed) == (parts.leads, parts.changed)
    assert result_rows(pair.pure) == result_rows(pair.fast)
    assert result_texts(pair.pure) == result_texts(pair.fast)
    assert history(pair.pure) == history(pair.fast)


def test_apply_in_parts_after_a_model_change_equals_the_pure_path(pair: Pair) -> None:
    a = Evaluator(parse_model(EXACT))
    b = Evaluator(parse_model(EXACT.replace("points: 40, once: true", "points: 45, once: true")))
    at = micros(NOW)
    for ev in (a, b):
        expected = pure_rescore(pair.pure, ev, at, f"model:{ev.version}", all_ids(pair.pure))
        done = rescore_in_database(pair.fast, ev, at, f"model:{ev.version}", settings=PARTS)
        assert done is not None and (done.leads, done.changed) == (expected.leads, expected.changed)
        assert result_texts(pair.pure) == result_texts(pair.fast)
        assert_same(result_rows(pair.pure), result_rows(pair.fast))
        assert_same(history(pair.pure), history(pair.fast))


def test_a_part_that_fails_leaves_nothing_written_and_no_stage(pair: Pair) -> None:
    """A lead's sums overflow PostgreSQL's doubles in one part: the whole apply gives way."""
    evaluator = Evaluator(parse_model(MIXED))
    at = micros(NOW)
    huge = [Event("L0003", "purchase", NOW - timedelta(days=d), {"amount": 1e308}, f"huge-{d}") for d in (1, 2)]
    ingest_events(pair.fast, evaluator, huge, lambda: at)  # below the service's check, as an old store may hold
    before = result_rows(pair.fast), history(pair.fast)
    assert rescore_in_database(pair.fast, evaluator, at, "x", settings=PARTS) is None
    assert (result_rows(pair.fast), history(pair.fast)) == before
    assert stage_tables(pair.fast) == []


def test_an_apply_in_parts_drops_the_stages_a_killed_apply_left(pair: Pair) -> None:
    """A process killed after its parts committed their stages leaves them: the next apply in parts,
    holding every lead's lock, drops them (and only stages)."""
    with pair.fast.write() as conn:
        conn.exec_driver_sql("CREATE UNLOGGED TABLE _ls_stage_0123456789ab_0 (lead_id text)")
        conn.exec_driver_sql("CREATE TABLE _ls_stagefright (x int)")
    evaluator = Evaluator(parse_model(EXACT))
    assert rescore_in_database(pair.fast, evaluator, micros(NOW), "model:x", settings=PARTS) is not None
    assert stage_tables(pair.fast) == ["_ls_stagefright"]


@dataclass(frozen=True)
class Planned(Settings):
    """The apply's settings and planner settings of its own: a given plan for the aggregation."""

    planner: tuple[str, ...] = ()

    def statements(self, plan: QueryPlan) -> list[str]:
        return [*super().statements(plan), *self.planner]


# the events aggregated by lead in the table's order (hashed) or as a sort by lead leaves them
HASHED = Planned(parts=1, planner=("SET LOCAL enable_sort = off", "SET LOCAL enable_indexscan = off"))
SORTED = Planned(parts=1, planner=("SET LOCAL enable_hashagg = off", "SET LOCAL enable_indexscan = off"))


def rule_points(store: LeadStore) -> dict[str, dict[str, float]]:
    """Each lead's points by rule, as stored in its breakdown (the floors' and caps' entries left out)."""
    return {
        k: {b["rule"]: b["points"] for b in row["breakdown"] if ":" not in b["rule"]}
        for k, row in result_rows(store).items()
    }


@pytest.mark.parametrize("plans", [(HASHED, SORTED), (SORTED, HASHED)], ids=["hashed-sorted", "sorted-hashed"])
def test_the_sums_do_not_depend_on_the_plan(pair: Pair, plans: tuple[Settings, Settings]) -> None:
    """A second apply under another plan adds each lead's decayed points and amounts in another order:
    the sums are exact (the same bytes in any order), so it writes nothing, and each rule's points are
    the pure scorer's (`math.fsum`) to the last bit."""
    evaluator = Evaluator(parse_model(FULL))
    at = micros(NOW)
    first = rescore_in_database(pair.fast, evaluator, at, "model:x", settings=plans[0])
    before = result_texts(pair.fast), history(pair.fast)
    again = rescore_in_database(pair.fast, evaluator, at, "model:x", settings=plans[1])
    assert first is not None and again is not None and first.changed > 0
    assert again.changed == 0
    assert (result_texts(pair.fast), history(pair.fast)) == before
    pure_rescore(pair.pure, evaluator, at, "model:x", all_ids(pair.pure))
    assert rule_points(pair.fast) == rule_points(pair.pure)


def scores(store: LeadStore) -> dict[str, tuple[float, dict[str, float]]]:
    """Each lead's total and dimensions, as stored."""
    return {k: (row["score"], row["dimensions"]) for k, row in result_rows(store).items()}


def test_the_dimensions_and_total_are_the_pure_scorers_to_the_last_bit(pair: Pair) -> None:
    """The pure scorer adds a dimension's points and the dimensions with `math.fsum` (exactly rounded):
    the database's dimensions and totals are the same doubles, bit for bit, not within a tolerance."""
    evaluator = Evaluator(parse_model(FULL))
    at = micros(NOW)
    pure_rescore(pair.pure, evaluator, at, "model:x", all_ids(pair.pure))
    assert rescore_in_database(pair.fast, evaluator, at, "model:x") is not None
    want, got = scores(pair.pure), scores(pair.fast)
    assert [k for k in want if want[k] != got[k]] == []
    assert result_texts(pair.pure) == result_texts(pair.fast)
    assert history(pair.pure) == history(pair.fast)


FADED = """
format: 1
name: faded
dimensions:
  once: {}
  every: {}
rules:
  - {id: last-demo, dimension: once, on: demo_request, points: -10, once: true, decay: {linear: 1d}}
  - {id: mails, dimension: every, on: email_open, points: -2, decay: {linear: 1d}}
"""


def test_a_sum_of_negative_zeros_is_zero_as_in_the_pure_scorer(pair: Pair) -> None:
    """Negative points at a decay factor of 0 are -0.0 each: the pure scorer drops a zero contribution
    and a dimension or total of nothing is +0.0; so are the database's (a JSON `-0.0` is other bytes)."""
    evaluator = Evaluator(parse_model(FADED))
    at = micros(NOW)
    pure_rescore(pair.pure, evaluator, at, "model:x", all_ids(pair.pure))
    assert rescore_in_database(pair.fast, evaluator, at, "model:x") is not None
    got = scores(pair.fast)
    zeros = [k for k, (score, _) in got.items() if score == 0.0]
    assert len(zeros) > len(got) // 2  # most leads' events are all older than a day
    assert all(math.copysign(1.0, v) == 1.0 for k in zeros for v in (got[k][0], *got[k][1].values()))
    assert result_texts(pair.pure) == result_texts(pair.fast)
    assert got == scores(pair.pure)
