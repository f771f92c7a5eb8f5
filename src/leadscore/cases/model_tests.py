"""Model tests: scoring as code. YAML cases (a lead, its events, a time, what is expected) run against a model.

A cases file holds `cases:`, a list of cases, and optionally `at:` (the default evaluation time of its
cases). A case:

    - name: ambassador buys twice and shares
      at: 2026-06-01T00:00:00Z
      lead: {id: c-1, city: Utrecht}        # or `attributes: {...}` (the lead id is then "lead")
      events:
        - {type: purchase, ago: 10d, category: shoes, amount: 120}
        - {type: social_share, timestamp: 2026-05-30T12:00:00Z}
      expect: {score: 46, labels: {segment: ambassador}, breakdown: {shoe-purchase: 20, no-click-6-months: 0}}

Only what `expect` names is checked; numbers agree within 1e-9. A breakdown entry of 0 says that the rule
must not contribute. Problems in a cases file are located (file:line) like those of a model file.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from leadscore.domain import Event, Lead, Result, parse_timestamp
from leadscore.domain.numbers import bad_numbers
from leadscore.engine import Scorer, ScoringDataError, scorer_for
from leadscore.model.durations import parse_duration
from leadscore.model.errors import ModelError, ModelIssue
from leadscore.model.limits import CASE_LIMITS
from leadscore.model.loader import Loc, Pos, parse_yaml
from leadscore.model.spec import ScoringModel
from leadscore.model.yamlguard import read_yaml_text

TOLERANCE = 1e-9
DEFAULT_LEAD_ID = "lead"
_CASE_KEYS = {"name", "description", "at", "lead", "attributes", "events", "expect"}
_EXPECT_KEYS = {"score", "dimensions", "labels", "stage", "playbook", "priority", "breakdown"}
_UNSET: Any = object()


class CaseFileError(Exception):
    """Cases files that cannot be used; carries every located problem, like ModelError."""

    def __init__(self, problems: list[tuple[str, ModelIssue]]) -> None:
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        n = len(self.problems)
        head = f"{n} error{'s' if n != 1 else ''} in the model tests"
        return "\n".join([head, *("  " + issue.format(source) for source, issue in self.problems)])


@dataclass(frozen=True)
class Case:
    name: str
    at: datetime
    lead: Lead
    events: tuple[Event, ...]
    expect: Mapping[str, Any]
    source: str
    line: int | None = None

    @property
    def location(self) -> str:
        return f"{self.source}:{self.line}" if self.line else self.source


@dataclass(frozen=True)
class Mismatch:
    """One expectation that did not hold; `what` is a path such as `labels.segment` or `breakdown.demo`."""

    what: str
    expected: Any
    actual: Any


@dataclass(frozen=True)
class CaseOutcome:
    case: Case
    result: Result | None
    mismatches: tuple[Mismatch, ...] = ()
    error: str | None = None  # bad data met while scoring (e.g. a `stage` naming no stage)

    @property
    def passed(self) -> bool:
        return self.error is None and not self.mismatches


# -- finding and reading cases --------------------------------------------------------------------------
def default_cases_path(model_path: str | Path) -> Path:
    """Where the cases of a model live unless told otherwise: `tests/` next to the model file."""
    return Path(model_path).resolve().parent / "tests"


def case_files(path: str | Path) -> list[Path]:
    p = Path(path)
    if p.is_dir():
        return sorted(f for f in p.iterdir() if f.suffix in (".yaml", ".yml") and f.is_file())
    return [p]


def load_cases(path: str | Path) -> list[Case]:
    """Every case of a file or of the *.yaml files of a directory; CaseFileError lists every problem."""
    files = case_files(path)
    if not files:
        raise CaseFileError([(str(path), ModelIssue("", "no *.yaml cases files found"))])
    cases: list[Case] = []
    problems: list[tuple[str, ModelIssue]] = []
    for f in files:
        reader = _Reader(str(f))
        cases.extend(reader.read())
        problems.extend((str(f), issue) for issue in reader.issues)
    if problems:
        raise CaseFileError(problems)
    return cases


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.issues: list[ModelIssue] = []
        self.positions: dict[Loc, Pos] = {}

    def fail(self, loc: Loc, message: str) -> None:
        probe = loc
        while probe and probe not in self.positions:
            probe = probe[:-1]
        line, col = self.positions.get(probe, (1, 1))
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        self.issues.append(ModelIssue(path, message, line, col))

    def read(self) -> list[Case]:
        try:
            text = read_yaml_text(Path(self.source), self.source, CASE_LIMITS)
            data, self.positions = parse_yaml(text, self.source, CASE_LIMITS)
        except ModelError as exc:
            self.issues.extend(exc.issues)
            return []
        except (OSError, UnicodeDecodeError) as exc:
            self.issues.append(ModelIssue("", f"cannot read the file: {exc}"))
            return []
        if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
            self.fail((), "a cases file must be a mapping with `cases:`, a list of cases")
            return []
        for key in set(data) - {"cases", "at", "description"}:
            self.fail((key,), f"unknown key {key!r}; expected cases, at, description")
        default_at = self.time(data["at"], ("at",)) if "at" in data else None
        out = []
        for i, raw in enumerate(data["cases"]):
            case = self.case(raw, ("cases", i), default_at)
            if case is not None:
                out.append(case)
        names = [c.name for c in out]
        for i, name in enumerate(names):
            if name in names[:i]:
                self.fail(("cases", i, "name"), f"duplicate case name {name!r}")
        return out

    def time(self, value: Any, loc: Loc) -> datetime | None:
        try:
            return parse_timestamp(value)
        except ValueError as exc:
            self.fail(loc, f"expected an ISO 8601 time: {exc}")
            return None

    def case(self, raw: Any, loc: Loc, default_at: datetime | None) -> Case | None:
        if not isinstance(raw, dict):
            self.fail(loc, "a case must be a mapping (name, at, lead, events, expect)")
            return None
        before = len(self.issues)
        for key in sorted(set(raw) - _CASE_KEYS):
            self.fail((*loc, key), f"unknown key {key!r}; expected one of {', '.join(sorted(_CASE_KEYS))}")
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            self.fail((*loc, "name") if "name" in raw else loc, "every case needs a `name:` (text)")
        at = self.time(raw["at"], (*loc, "at")) if "at" in raw else default_at
        if at is None and "at" not in raw:
            self.fail(loc, "missing `at:` (the evaluation time), here or at the top of the file")
        lead = self.lead(raw, loc)
        events = self.events(raw.get("events", []), (*loc, "events"), lead.id, at) if lead else []
        expect = raw.get("expect")
        if not isinstance(expect, dict) or not expect:
            self.fail((*loc, "expect") if "expect" in raw else loc, "every case needs `expect:` with what to check")
        else:
            for key in sorted(set(expect) - _EXPECT_KEYS):
                self.fail(
                    (*loc, "expect", key), f"unknown key {key!r}; expected one of {', '.join(sorted(_EXPECT_KEYS))}"
                )
            self.check_expect(expect, (*loc, "expect"))
        if len(self.issues) > before or at is None or lead is None or not isinstance(expect, dict):
            return None
        line = self.positions.get(loc, (None, None))[0]
        return Case(str(name), at, lead, tuple(events), expect, self.source, line)

    def lead(self, raw: dict[str, Any], loc: Loc) -> Lead | None:
        if "lead" in raw and "attributes" in raw:
            self.fail((*loc, "attributes"), "give `lead:` or `attributes:`, not both")
            return None
        if "lead" in raw:
            spec = raw["lead"]
            if not isinstance(spec, dict):
                self.fail((*loc, "lead"), "`lead:` must be a mapping: {id: ..., <attribute>: <value>, ...}")
                return None
            lead_id = spec.get("id", DEFAULT_LEAD_ID)
            if isinstance(lead_id, bool) or not isinstance(lead_id, str | int) or str(lead_id) == "":
                self.fail((*loc, "lead", "id"), f"a lead id must be text or a whole number, got {lead_id!r}")
                return None
            attributes = {k: v for k, v in spec.items() if k != "id"}
            if not self.numbers_ok(attributes, (*loc, "lead")):
                return None
            return Lead.of(str(lead_id), **attributes)
        attributes = raw.get("attributes", {})
        if not isinstance(attributes, dict):
            self.fail((*loc, "attributes"), "`attributes:` must be a mapping of attribute names to values")
            return None
        if not self.numbers_ok(attributes, (*loc, "attributes")):
            return None
        return Lead.of(DEFAULT_LEAD_ID, **attributes)

    def numbers_ok(self, values: dict[str, Any], loc: Loc) -> bool:
        """Data in a case follows the data files' rule: finite numbers within +-2**53 (`domain.numbers`)."""
        ok = True
        for name, value in values.items():
            for path, problem in bad_numbers(value, str(name)):
                self.fail((*loc, name), problem if path == str(name) else f"{path}: {problem}")
                ok = False
        return ok

    def events(self, raw: Any, loc: Loc, lead_id: str, at: datetime | None) -> list[Event]:
        if not isinstance(raw, list):
            self.fail(loc, "`events:` must be a list of events ({type: ..., timestamp: ... or ago: ...})")
            return []
        out = []
        for j, spec in enumerate(raw):
            here = (*loc, j)
            if not isinstance(spec, dict):
                self.fail(here, "an event must be a mapping with `type:` and `timestamp:` or `ago:`")
                continue
            typ = spec.get("type")
            if not isinstance(typ, str) or not typ:
                self.fail((*here, "type") if "type" in spec else here, "an event needs `type:` (text)")
                continue
            if ("timestamp" in spec) == ("ago" in spec):
                self.fail(here, "an event needs exactly one of `timestamp:` or `ago:` (e.g. ago: 3d)")
                continue
            when = self.when(spec, here, at)
            if when is None:
                continue
            event_id = spec.get("id")
            props = {k: v for k, v in spec.items() if k not in ("type", "timestamp", "ago", "id", "lead_id")}
            if not self.numbers_ok(props, here):
                continue
            out.append(Event(lead_id, typ, when, props, None if event_id is None else str(event_id)))
        return out

    def when(self, spec: dict[str, Any], loc: Loc, at: datetime | None) -> datetime | None:
        if "timestamp" in spec:
            return self.time(spec["timestamp"], (*loc, "timestamp"))
        try:
            ago = parse_duration(spec["ago"])
        except ValueError as exc:
            self.fail((*loc, "ago"), str(exc))
            return None
        return None if at is None else at - timedelta(seconds=int(ago))

    def check_expect(self, expect: dict[str, Any], loc: Loc) -> None:
        if "score" in expect and not _is_number(expect["score"]):
            self.fail((*loc, "score"), f"expected a number, got {expect['score']!r}")
        for key, value_ok, what in (
            ("dimensions", _is_number, "a number"),
            ("breakdown", _is_number, "a number (0: the rule must not contribute)"),
            ("labels", lambda v: v is None or isinstance(v, str), "a label (text) or null"),
        ):
            if key not in expect:
                continue
            section = expect[key]
            if not isinstance(section, dict):
                self.fail((*loc, key), f"`{key}:` must be a mapping")
                continue
            for name, value in section.items():
                if not value_ok(value):
                    self.fail((*loc, key, name), f"expected {what}, got {value!r}")
        for key in ("stage", "playbook"):
            if key in expect and expect[key] is not None and not isinstance(expect[key], str):
                self.fail((*loc, key), f"expected text or null, got {expect[key]!r}")
        if "priority" in expect and expect["priority"] is not None and not isinstance(expect["priority"], int):
            self.fail((*loc, "priority"), f"expected a whole number or null, got {expect['priority']!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# -- running cases ----------------------------------------------------------------------------------------
def run_case(model: ScoringModel, case: Case, scorer: Scorer | None = None) -> CaseOutcome:
    """`scorer` defaults to the model's own; give one built with predictors for predictive dimensions."""
    try:
        result = (scorer or scorer_for(model)).score(case.lead, case.events, case.at)
    except ScoringDataError as exc:
        return CaseOutcome(case, None, error=str(exc))
    return CaseOutcome(case, result, tuple(compare(case.expect, result, _breakdown_names(model))))


def run_cases(model: ScoringModel, cases: Iterable[Case], scorer: Scorer | None = None) -> list[CaseOutcome]:
    scorer = scorer or scorer_for(model)
    return [run_case(model, case, scorer) for case in cases]


def compare(expect: Mapping[str, Any], result: Result, known_rules: frozenset[str] | None = None) -> list[Mismatch]:
    """What differs between the expectations and the result (only what is expected is checked)."""
    out: list[Mismatch] = []
    if "score" in expect and not _close(expect["score"], result.score):
        out.append(Mismatch("score", expect["score"], result.score))
    for name, value in expect.get("dimensions", {}).items():
        actual = result.dimensions.get(name, _UNSET)
        if actual is _UNSET or not _close(value, actual):
            out.append(Mismatch(f"dimensions.{name}", value, None if actual is _UNSET else actual))
    for name, value in expect.get("labels", {}).items():
        actual = result.labels.get(name, _UNSET)
        if actual is _UNSET or actual != value:
            out.append(Mismatch(f"labels.{name}", value, "(no such label set)" if actual is _UNSET else actual))
    if "stage" in expect and expect["stage"] != result.stage:
        out.append(Mismatch("stage", expect["stage"], result.stage))
    if "playbook" in expect:
        pb = result.playbook
        wanted = expect["playbook"]
        if (pb is None) != (wanted is None) or (pb is not None and wanted not in (pb.action, pb.name)):
            out.append(Mismatch("playbook", wanted, None if pb is None else (pb.name or pb.action)))
    if "priority" in expect:
        actual_priority = result.playbook.priority if result.playbook else None
        if actual_priority != expect["priority"]:
            out.append(Mismatch("priority", expect["priority"], actual_priority))
    points = {e.rule: e.points for e in result.breakdown}
    for rule, value in expect.get("breakdown", {}).items():
        if known_rules is not None and str(rule) not in known_rules:
            out.append(Mismatch(f"breakdown.{rule}", value, "(no such rule in the model)"))
            continue
        actual_points = points.get(str(rule), 0.0)
        if not _close(value, actual_points):
            out.append(Mismatch(f"breakdown.{rule}", value, actual_points))
    return out


def _breakdown_names(model: ScoringModel) -> frozenset[str]:
    """Rule ids and the cap / floor adjustments a breakdown can hold: a typo must not pass as 'absent'."""
    dims = model.dimension_names()
    return frozenset([*(r.id for r in model.rules), *(f"cap:{d}" for d in dims), *(f"floor:{d}" for d in dims)])


def _close(expected: float, actual: float) -> bool:
    return math.isclose(expected, actual, rel_tol=TOLERANCE, abs_tol=TOLERANCE)
