"""The `store` fixture: every storage test runs against embedded SQLite and a real PostgreSQL."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from leadscore.app.service import LeadService
from leadscore.model import parse_model
from leadscore.store import LeadStore, open_store

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.integration)]


TEMPLATE = "leadscore_migrated"


def fresh_database_url(kind: str, tmp_path: Path, request: pytest.FixtureRequest, *, migrated: bool) -> str:
    """A new empty database; `migrated` ones are copied from a template migrated once per session."""
    if kind == "sqlite":
        if migrated:
            # a copy of the file migrated once per session (tests/conftest.py): migrating takes ~0.4 s
            # (a commit per step), copying ~0.03 s; the copy is the same database byte for byte
            shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp_path / "store.db")
        return f"sqlite:///{tmp_path / 'store.db'}"
    server: str = request.getfixturevalue("postgres_template" if migrated else "postgres_url")
    return _copy_database(server, TEMPLATE if migrated else None, request)


def _copy_database(server: str, template: str | None, request: pytest.FixtureRequest) -> str:
    """A new database on the server (a copy of `template`, if given), dropped after the test."""
    name = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
    admin.dispose()
    request.addfinalizer(lambda: _drop(server, name))
    return server.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def prepared_sources() -> dict[tuple[str, str], str]:
    """(backend, name) -> the SQLite file or PostgreSQL database of a store `prepared_database_url` built
    once on this worker."""
    return {}


def prepared_database_url(
    kind: str, name: str, build: Callable[[LeadStore], None], where: Path, request: pytest.FixtureRequest
) -> str:
    """A new store holding what `build` writes into a migrated store: built once per worker and backend
    under `name`, then copied for each caller (SQLite: the file; PostgreSQL: a database made from it as
    a template), as the migrated stores are. For data many tests start from, when what `build` does
    (ingesting through the service) is not what they check: the copy is the same database, row for row."""
    sources = request.getfixturevalue("prepared_sources")
    if (kind, name) not in sources:
        if kind == "sqlite":
            built = request.getfixturevalue("tmp_path_factory").mktemp(f"prepared-{name}") / "store.db"
            shutil.copyfile(request.getfixturevalue("sqlite_template"), built)
            url = f"sqlite:///{built}"
        else:
            server = request.getfixturevalue("postgres_template")
            built_name = f"prepared_{name}"
            admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {built_name}")
                conn.exec_driver_sql(f"CREATE DATABASE {built_name} TEMPLATE {TEMPLATE}")
            admin.dispose()
            url = server.rsplit("/", 1)[0] + "/" + built_name
        store = open_store(url)
        try:
            build(store)
        finally:
            store.dispose()
        if kind == "sqlite":
            assert not Path(str(built) + "-wal").exists()  # all of it in the one file copied
        sources[(kind, name)] = str(built) if kind == "sqlite" else built_name
    source = sources[(kind, name)]
    if kind == "sqlite":
        shutil.copyfile(source, where / "store.db")
        return f"sqlite:///{where / 'store.db'}"
    return _copy_database(request.getfixturevalue("postgres_template"), source, request)


def twin_urls(
    kind: str, name: str, ingest: Callable[[LeadService], None], tmp_path: Path, request: pytest.FixtureRequest
) -> tuple[str, str]:
    """Two stores of one backend holding what `ingest` writes through a service (the store tests' model,
    at `tmp_path / "model.yaml"`; the clock at its start), prepared once per worker (`prepared_database_url`)."""
    model = tmp_path / "model.yaml"
    model.write_text(MODEL, encoding="utf-8")

    def build(store: LeadStore) -> None:
        ingest(LeadService(store, model_path=model, clock=FixedClock(CLOCK_START)))

    urls = []
    for where in (tmp_path, tmp_path / "twin"):
        where.mkdir(exist_ok=True)
        urls.append(prepared_database_url(kind, name, build, where, request))
    return urls[0], urls[1]


@pytest.fixture(scope="session")
def postgres_template(postgres_url: str) -> str:
    """The server URL, once a migrated template database exists on it.

    Other test packages import this fixture too, so it may run more than once on the same server: the
    template is created only if it is not there yet."""
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %s", (TEMPLATE,)).first()
        if exists is None:
            conn.exec_driver_sql(f"CREATE DATABASE {TEMPLATE}")
    admin.dispose()
    if exists is None:
        template = open_store(postgres_url.rsplit("/", 1)[0] + "/" + TEMPLATE)
        template.upgrade()
        template.dispose()
    return postgres_url


def _drop(server: str, name: str) -> None:
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty store on each backend."""
    return fresh_database_url(request.param, tmp_path, request, migrated=True)


@pytest.fixture(params=BACKENDS)
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend, never migrated."""
    return fresh_database_url(request.param, tmp_path, request, migrated=False)


@pytest.fixture
def store(store_url: str) -> Iterator[LeadStore]:
    s = open_store(store_url)
    s.upgrade()
    yield s
    s.dispose()


class FixedClock:
    """A clock that tests move by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


CLOCK_START = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(CLOCK_START)


MODEL = """
format: 1
name: test-b2b
dimensions:
  fit: {rollup: max}
  engagement: {cap: 100}
rules:
  - {id: big, dimension: fit, when: {attribute: employees, gte: 100}, points: 30}
  - {id: visit, dimension: engagement, on: page_view, points: 5, within: 30d}
  - {id: pricing, dimension: engagement, on: page_view, where: {path: {contains: pricing}}, points: 20,
     decay: {half_life: 7d}}
  - {id: demo, dimension: engagement, on: demo_request, points: 40, once: true}
  - {id: quiet, dimension: engagement, when: {none: page_view, within: 14d}, points: -10}
labels:
  temperature:
    - {label: hot, when: {score: total, gte: 60}}
    - {label: warm, when: {score: total, gt: 0}}
    - {label: cold}
lifecycle:
  stages: [lead, mql, sql, customer]
  exits: [recycled, lost]
  transitions:
    - {to: mql, when: {score: total, gte: 60}}
    - {to: sql, on: sales_accepted}
    - {to: recycled, on: sales_rejected}
    - {to: customer, on: deal_won}
    - {to: lost, on: deal_lost}
playbooks:
  - {name: call, when: {stage: {in: [mql, sql]}}, priority: 1, action: Call now}
  - {name: nurture, when: {label: temperature, eq: warm}, priority: 2, action: Nurture}
  - {name: newsletter, action: Newsletter}
triggers:
  - {id: to-mql, on: stage_changed, to: mql, destination: crm}
  - {id: hot, on: label_changed, set: temperature, to: hot, destination: chat}
"""


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.yaml"
    path.write_text(MODEL, encoding="utf-8")
    parse_model(MODEL)
    return path


@pytest.fixture
def make_service(store: LeadStore, model_file: Path, clock: FixedClock) -> Callable[..., LeadService]:
    def make(**options: object) -> LeadService:
        return LeadService(store, model_path=model_file, clock=clock, **options)

    return make


@pytest.fixture
def service(make_service: Callable[..., LeadService]) -> LeadService:
    return make_service()
