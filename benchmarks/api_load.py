"""HTTP API load: a real `leadscore serve` on 127.0.0.1, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/api_load.py --quick        # a few seconds per figure
    .venv/bin/python benchmarks/api_load.py --seconds 10
    .venv/bin/python benchmarks/api_load.py --runs 3   # three whole runs per backend, targets on the medians
    .venv/bin/python benchmarks/api_load.py --only-bulk --bulk-requests 6   # the bulk endpoint alone
    .venv/bin/python benchmarks/api_load.py --only-single 1 --backends postgres   # single events, 1 client
    .venv/bin/python benchmarks/api_load.py --only-ack --runs 3 --backends postgres   # ack to score alone

Figures, per backend:
- single-event requests (`POST /v1/events`, one event each) with 1, 8 and 32 concurrent clients:
  events/s and p50 / p99 latency;
- the bulk endpoint (`POST /v1/events/bulk`, 10,000 events a request, 2 clients, bodies encoded before
  the clock starts): events/s, the server's and the client's CPU per event, and the server's split by
  where it ran (its event loop, its other threads, the rescoring process: `server_split`);
- after the bulk requests, the time until the rescoring queue is empty (every bulk event scored), and
  the server's CPU per event from the first request until then;
- acknowledged event to updated score: while the 8-client load runs, a probe every 50 ms sends an
  event to a lead of its own, then waits for the lead's result to include it (`--probe-mode wait`:
  one `GET /v1/leads/{id}?wait=`, answered when the rescoring commits it) or reads the lead every
  25 ms until it does (`poll`: each read costs the server about 2 ms of CPU, which the bulk figures
  then pay), or both on the same event (`both`: the two measures side by side); p50 / p99 of that
  time from the acknowledgement (the issue's measure) and from sending (about 20 probes a second of
  the run); the same probes while the bulk requests run, and how long after the last bulk
  acknowledgement every bulk event is scored (the rescoring queue empty).

Events are acknowledged once stored (durable), their leads queued for the rescoring worker
(docs/api.md, "Durability and current results"); the figures are checked against the targets below.

The clients are asyncio tasks on one HTTP/1.1 keep-alive connection each (a minimal client on
asyncio streams), in this process, on uvloop (the server's event loop too) when it is installed: on a
2-core machine they compete with the server for the CPU, so the figures are a floor; the server's own
CPU time per event is reported beside them, and the clients' own (against a server answering a fixed
body, 100 µs of CPU a request on the standard event loop, 61 on uvloop). Events are
new (unique ids), spread over 2,000 leads, and scored by the workspace's example model. PostgreSQL
is a fresh local server (tests/support/postgres.py: fsync off); its CPU per single event is reported
beside the server's, and the rescoring processes' share of the server's.
The markdown goes to benchmarks/results/api.md (api-quick.md for --quick, api-bulk.md for --only-bulk,
which runs nothing but the bulk requests and the wait for their scores, api-single.md for --only-single,
nothing but the single-event requests with the numbers of clients it names), or to the file `--out` names.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.api.server import Server, create_key, make_workspace  # noqa: E402

LOAD = ", ".join(f"{x:.1f}" for x in os.getloadavg())
TARGETS = {"single_events_s": 1000.0, "single_p99_ms": 50.0, "bulk_events_s": 50_000.0, "ack_p99_ms": 1000.0}
TYPES = ("page_view", "email_click", "content_download", "page_view")
LEADS = 2000
RESCORE = "ls-rescore"  # the rescoring processes' name (leadscore.api.rescore_process.COMM)


@contextmanager
def database(kind: str) -> Iterator[str | None]:
    if kind == "sqlite":
        yield None
        return
    from tests.support.postgres import postgres_server

    with postgres_server() as url:
        yield url


def _event(n: int) -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex,
        "lead_id": f"B{n % LEADS:05d}",
        "type": TYPES[n % len(TYPES)],
        "timestamp": "2026-05-30T10:00:00Z",
        "properties": {"path": "/pricing" if n % 5 == 0 else "/blog"},
    }


class RawClient:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: a load generator that costs the shared
    CPU far less per request than a full client library, so more of it goes to the server measured."""

    def __init__(self, url: str, token: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port, self.token = host, int(port), token

    async def __aenter__(self) -> RawClient:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.writer.close()

    async def post(self, path: str, body: bytes) -> int:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {self.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        # the status line and headers in one read (uvicorn sends them lower-case)
        response = (await self.reader.readuntil(b"\r\n\r\n")).lower()
        found = response.find(b"\r\ncontent-length:")
        if found >= 0:
            await self.reader.readexactly(int(response[found + 17 : response.index(b"\r\n", found + 2)]))
        return int(response.split(None, 2)[1])


def server_cpu(pid: int, only: str | None = None) -> float:
    """CPU seconds used so far by the server process and all its descendants (workers, rescoring
    processes), from /proc; `only`: those of them with that name (`/proc/PID/comm`). A process's
    children that ended count in it (cutime, cstime): PostgreSQL's backends end with their
    connections, and without them the sum fell and a database figure came out negative."""
    tick = os.sysconf("SC_CLK_TCK")
    procs: dict[int, tuple[int, float, str]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            comm, fields = stat.read_text().rsplit(")", 1)
        except (OSError, ValueError):
            continue
        fields = fields.split()
        procs[int(stat.parent.name)] = (
            int(fields[1]),
            sum(int(f) for f in fields[11:15]) / tick,  # utime, stime, cutime, cstime
            comm.split("(", 1)[1],
        )
    total = 0.0
    for own, (parent, cpu, name) in procs.items():
        if only is not None and name != only:
            continue
        while own != pid and parent in procs:
            own, parent = parent, procs[parent][0]
        if own == pid:
            total += cpu
    return total


def _cpu_of(stat: Path) -> float:
    """utime + stime of a /proc stat file (a process's or a thread's), in seconds."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_split(pid: int) -> tuple[float, float]:
    """CPU seconds so far of the server's processes (its workers, not the rescoring processes), split
    between their main threads (the event loop: requests read, bulk bodies parsed and checked, the
    probes' requests answered) and their other threads (the store step of bulk requests, in the
    request threads; the group commit's thread). The other threads' share is the process's total less
    its main thread's, so that threads that ended meanwhile still count."""
    loop = other = 0.0
    for proc in [pid, *_children(pid)]:
        try:
            if Path(f"/proc/{proc}/comm").read_text().strip() == RESCORE:
                continue
            main = _cpu_of(Path(f"/proc/{proc}/task/{proc}/stat"))
            total = _cpu_of(Path(f"/proc/{proc}/stat"))
        except (OSError, ValueError):  # ended meanwhile
            continue
        loop += main
        other += total - main
    return loop, other


def _children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(c) for c in found]


def postmaster(url: str | None) -> int:
    """The pid of the local PostgreSQL server listening on `url`'s port (0 for SQLite): its CPU and its
    backends' count as the database's."""
    if url is None:
        return 0
    port = url.rsplit(":", 1)[1].split("/")[0]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"/postgres") and b"-p" in args and port.encode() in args:
            return int(cmdline.parent.name)
    return 0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def single_events(
    url: str, token: str, clients: int, seconds: float, pid: int = 0, db_pid: int = 0
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def client() -> None:
        nonlocal errors
        async with RawClient(url, token) as http:
            while time.perf_counter() < deadline:
                body = json.dumps(_event(next(counter))).encode()
                t0 = time.perf_counter()
                status = await http.post("/v1/events", body)
                if status == 200:
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors += 1

    start, cpu = time.perf_counter(), server_cpu(pid) if pid else 0.0
    db_cpu = server_cpu(db_pid) if db_pid else 0.0
    rescore_cpu = server_cpu(pid, RESCORE) if pid else 0.0
    mine = time.process_time()  # the clients' own CPU: they share the 2 cores with the server
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - start
    used = server_cpu(pid) - cpu if pid else float("nan")
    db_used = server_cpu(db_pid) - db_cpu if db_pid else float("nan")
    rescore_used = server_cpu(pid, RESCORE) - rescore_cpu if pid else float("nan")
    return {
        "clients": clients,
        "cpu_ms": used / max(1, len(latencies)) * 1000,
        "rescore_cpu_ms": rescore_used / max(1, len(latencies)) * 1000,
        "db_cpu_ms": db_used / max(1, len(latencies)) * 1000,
        "client_cpu_ms": (time.process_time() - mine) / max(1, len(latencies)) * 1000,
        "events_s": len(latencies) / elapsed,
        "p50_ms": pct(latencies, 0.5) * 1000,
        "p99_ms": pct(latencies, 0.99) * 1000,
        "errors": errors,
    }


async def bulk(
    url: str,
    token: str,
    requests: int,
    clients: int = 2,
    size: int = 10_000,
    pid: int = 0,
    db: int = 0,
    probe: bool = True,
    root: Path | None = None,
    mode: str = "wait",
) -> dict[str, Any]:
    # encoded before the clock starts, as a sender that batches has its batch ready: the client's CPU
    # (reported beside) is then the HTTP exchange, not 10,000 events' JSON on the cores the server uses
    bodies = [json.dumps({"events": [_event(i) for i in range(size)]}).encode() for _ in range(requests)]
    done = 0
    sending = True
    found = Probes(mode)

    async def probes() -> None:
        """Ack to score under the bulk load: a probe every 50 ms while the bulk requests run."""
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60, limits=PROBE_LIMITS) as http:
            started = []
            while sending:
                started.append(asyncio.create_task(_probe(http, found)))
                await asyncio.sleep(0.05)
            await asyncio.gather(*started)

    async def client(mine: list[bytes]) -> None:
        nonlocal done
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=300) as http:
            for body in mine:
                response = await http.post("/v1/events/bulk", content=body)
                response.raise_for_status()
                done += response.json()["inserted"]

    split = server_split(pid) if pid else (0.0, 0.0)
    start, cpu = time.perf_counter(), server_cpu(pid) if pid else 0.0
    rescore_cpu = server_cpu(pid, RESCORE) if pid else 0.0
    db_cpu = server_cpu(db) if db else 0.0
    mine = time.process_time()
    probing = asyncio.create_task(probes()) if probe else None
    await asyncio.gather(*(client(bodies[i::clients]) for i in range(clients)))
    elapsed = time.perf_counter() - start
    used = server_cpu(pid) - cpu if pid else float("nan")
    loop, threads = (now - then for now, then in zip(server_split(pid), split, strict=True)) if pid else (0.0, 0.0)
    rescore_used = server_cpu(pid, RESCORE) - rescore_cpu if pid else float("nan")
    client_cpu = time.process_time() - mine  # before the probes' last polls
    # the bulk events' own wait: from the last acknowledgement until the queue is empty, watched
    # beside the probes' last polls (after them it would count their time too)
    last_ack = time.perf_counter()
    backlog = asyncio.create_task(asyncio.to_thread(settle, root, 600.0, last_ack)) if root is not None else None
    sending = False
    if probing is not None:
        await probing
    backlog_s = await backlog if backlog is not None else float("nan")
    probed = found.figures()
    return {
        **probed,  # from sending: `ack_p50_ms` / `ack_p99_ms` here
        "ack_p50_ms": probed["p50_ms"],
        "ack_p99_ms": probed["p99_ms"],
        "db_cpu_start": db_cpu,
        "db_cpu_us": (server_cpu(db) - db_cpu) / max(1, done) * 1e6 if db else 0.0,
        "events": done,
        "seconds": elapsed,
        "events_s": done / elapsed,
        "cpu_us": used / max(1, done) * 1e6,
        "rescore_cpu_us": rescore_used / max(1, done) * 1e6,
        "loop_cpu_us": loop / max(1, done) * 1e6,
        "threads_cpu_us": threads / max(1, done) * 1e6,
        "cpu_start": cpu,
        "rescore_cpu_start": rescore_cpu,
        "client_cpu_us": client_cpu / max(1, done) * 1e6,
        "backlog_s": backlog_s,
    }


PROBE_MODES = ("poll", "wait", "both")
# the probes' connections: enough for every probe in flight, two each in "both" (a pool of 64 made a
# probe's read or wait queue in the client for a free connection, seconds at load 14, in either measure)
PROBE_LIMITS = httpx.Limits(max_connections=1024, max_keepalive_connections=1024)
POLL_S = 0.025  # a polling probe's pause between reads


@dataclass
class Probes:
    """The probes' figures. `mode`: how a probe learns that its event is scored: "poll" reads its lead
    every 25 ms (`GET /v1/leads/{id}`) until the result includes the event; "wait" asks once and the
    server answers when it is scored (`GET /v1/leads/{id}?wait=`); "both" runs the two on the same
    event, side by side, to check one measure against the other (`pairs`)."""

    mode: str = "wait"
    times: list[float] = field(default_factory=list)  # from sending until scored (in "both": the wait's)
    acks: list[float] = field(default_factory=list)  # from sending until acknowledged
    from_ack: list[float] = field(default_factory=list)  # from the acknowledgement until scored
    pairs: list[tuple[float, float]] = field(default_factory=list)  # "both": (polled, waited) from the ack

    def figures(self) -> dict[str, Any]:
        polled = [p for p, _ in self.pairs]
        waited = [w for _, w in self.pairs]
        gaps = [p - w for p, w in self.pairs]  # how much earlier the wait saw it (negative: later)
        return {
            "probes": len(self.times),
            "p50_ms": pct(self.times, 0.5) * 1000,
            "p99_ms": pct(self.times, 0.99) * 1000,
            "probe_ack_p50_ms": pct(self.acks, 0.5) * 1000,
            "probe_ack_p99_ms": pct(self.acks, 0.99) * 1000,
            "from_ack_p50_ms": pct(self.from_ack, 0.5) * 1000,
            "from_ack_p99_ms": pct(self.from_ack, 0.99) * 1000,
            "pairs": len(self.pairs),
            "poll_p50_ms": pct(polled, 0.5) * 1000,
            "poll_p99_ms": pct(polled, 0.99) * 1000,
            "wait_p50_ms": pct(waited, 0.5) * 1000,
            "wait_p99_ms": pct(waited, 0.99) * 1000,
            "gap_p50_ms": pct(gaps, 0.5) * 1000,
            "gap_min_ms": min(gaps, default=float("nan")) * 1000,
            "gap_max_ms": max(gaps, default=float("nan")) * 1000,
            "wait_later": sum(1 for g in gaps if g < 0),
        }


def _includes_probe(lead: dict[str, Any]) -> bool:
    return any(b["rule"] == "demo-request" for b in (lead.get("result") or {}).get("breakdown", []))


async def _get(http: httpx.AsyncClient, path: str, **params: str) -> dict[str, Any]:
    """A read of the lead, sent again once if its kept-alive connection was closed under it: on a
    loaded machine the server's keep-alive timeout (5 s) sometimes closed a pooled connection as a
    probe reused it (`RemoteProtocolError`, `ReadError`), which ended the whole run. A read is
    idempotent; the time of the second send counts in the probe's figure."""
    try:
        answer = await http.get(path, params=params)
    except (httpx.RemoteProtocolError, httpx.ReadError):
        answer = await http.get(path, params=params)
    result: dict[str, Any] = answer.json()
    return result


async def _polled(http: httpx.AsyncClient, path: str) -> float:
    """When a read of the lead first shows the probe's event scored, reading every `POLL_S`."""
    while not _includes_probe(await _get(http, path)):
        await asyncio.sleep(POLL_S)
    return time.perf_counter()


async def _waited(http: httpx.AsyncClient, path: str) -> float:
    """When the server's answer to a wait shows the probe's event scored (asked again if a wait ran out)."""
    while not _includes_probe(await _get(http, path, wait="10")):
        pass
    return time.perf_counter()


async def _probe(http: httpx.AsyncClient, probes: Probes) -> None:
    """One probe: an event to a lead of its own, then (per `probes.mode`) its lead read until the
    result includes the event, or one wait for it. Ack to score is the client's time from the event's
    2xx until an answer that shows it scored, in both modes. A polling probe adds up to 25 ms and a
    read's round trip (a GET of a lead: 5-8 ms at p50 near idle, 12 ms under the 8-client load on
    SQLite, traced), and each read costs the server about 2 ms of CPU; a waiting probe one request."""
    lead = f"probe-{uuid.uuid4().hex[:8]}"
    path = f"/v1/leads/{lead}"
    t0 = time.perf_counter()
    event = {"lead_id": lead, "type": "demo_request", "timestamp": "2026-05-30T10:00:00Z"}
    try:
        sent = await http.post("/v1/events", json=event)
    except (httpx.RemoteProtocolError, httpx.ReadError):  # as in `_get`; an event without an id is
        sent = await http.post("/v1/events", json=event)  # keyed by its content: stored once if sent twice
    sent.raise_for_status()
    acked = time.perf_counter()
    if probes.mode == "poll":
        done = await _polled(http, path)
    elif probes.mode == "wait":
        done = await _waited(http, path)
    else:
        polled, done = await asyncio.gather(_polled(http, path), _waited(http, path))
        probes.pairs.append((polled - acked, done - acked))
    probes.acks.append(acked - t0)
    probes.times.append(done - t0)
    probes.from_ack.append(done - acked)


async def yielded_s(http: httpx.AsyncClient) -> float:
    """The time the server's group commit paused for its rescoring so far (the back-pressure by age,
    leadscore.app.score_lag; nan for a server without it)."""
    name = "leadscore_intake_yielded_seconds "
    text = (await http.get("/metrics")).text
    return next((float(line.split()[-1]) for line in text.splitlines() if line.startswith(name)), float("nan"))


async def ack_to_score(
    url: str, token: str, seconds: float, mode: str, every_s: float = 0.05, pid: int = 0, db_pid: int = 0
) -> dict[str, Any]:
    """Probe events under the 8-client load: time from the acknowledgement until the lead's result
    includes them (`Probes`: polled or waited for).

    A probe starts every `every_s` (each on a lead of its own, so about 20 a second: a p99 of a few
    probes is their slowest)."""
    probes = Probes(mode)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30, limits=PROBE_LIMITS) as http:
        paused = await yielded_s(http)
        load = asyncio.create_task(single_events(url, token, 8, seconds, pid, db_pid))
        started = []
        deadline = time.perf_counter() + seconds - 0.5
        while time.perf_counter() < deadline:
            started.append(asyncio.create_task(_probe(http, probes)))
            await asyncio.sleep(every_s)
        await asyncio.gather(*started)
        loaded = await load
        paused = await yielded_s(http) - paused
    # how hard the 8 clients pushed meanwhile: once the rescoring no longer keeps up with the leads
    # they touch, its queue, and the time to score, grow with this rate (docs/api.md, Performance)
    return {"load_events_s": loaded["events_s"], "load": loaded, "yielded_s": paused, **probes.figures()}


def settle(root: Path, timeout: float = 600.0, since: float | None = None) -> float:
    """Seconds until the rescoring queue is empty (every acknowledged event scored), from now or from
    `since` (a `time.perf_counter()` reading taken before opening the store)."""
    from leadscore.app.service import LeadService
    from leadscore.app.workspace import Workspace

    service = LeadService.from_workspace(Workspace.load(root))
    start = time.perf_counter() if since is None else since
    try:
        while service.backlog().leads and time.perf_counter() - start < timeout:
            time.sleep(0.05)
        return time.perf_counter() - start
    finally:
        service.close()


def run(coroutine: Any) -> Any:
    """`asyncio.run` on uvloop when it is installed (cheaper clients: more of the 2 cores for the server)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def run_backend(
    kind: str,
    seconds: float,
    bulk_requests: int,
    workers: int,
    only_bulk: bool = False,
    probes: bool = True,
    only_single: tuple[int, ...] = (),
    mode: str = "wait",
    only_ack: bool = False,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, database(kind) as url:
        root = make_workspace(Path(tmp) / "ws", url)
        token = create_key(root, "bench", "write")
        server = Server(root, workers=workers, env={"LEADSCORE_API_RESCORE_PROCESS": "true"}).start()
        try:
            run(single_events(server.url, token, 8, 1.0))  # warm up: leads created, caches filled
            pid = server.process.pid if server.process else 0
            db_pid = postmaster(url) if url else 0
            if only_ack:
                ack = run(ack_to_score(server.url, token, seconds, mode, pid=pid, db_pid=db_pid))
                return {"backend": kind, "singles": [], "ack": ack}
            singles = (
                []
                if only_bulk
                else [run(single_events(server.url, token, c, seconds, pid, db_pid)) for c in only_single or (1, 8, 32)]
            )
            if only_single:
                return {"backend": kind, "singles": singles}
            settle(root)
            db = db_pid
            bulk_figures = run(
                bulk(server.url, token, bulk_requests, pid=pid, db=db, probe=probes, root=root, mode=mode)
            )
            # the queue was watched from the last acknowledgement (`bulk`); what the probes' last
            # polls left queued, if anything, counts too
            bulk_figures["scored_s"] = bulk_figures["seconds"] + bulk_figures["backlog_s"] + settle(root)
            # the server's CPU from the first request until every bulk event is scored (the rescoring
            # process's drain included, whether it ran during the requests or after)
            until_scored = server_cpu(pid) - bulk_figures["cpu_start"]
            bulk_figures["scored_cpu_us"] = until_scored / max(1, bulk_figures["events"]) * 1e6
            rescore_until = server_cpu(pid, RESCORE) - bulk_figures["rescore_cpu_start"]
            bulk_figures["scored_rescore_cpu_us"] = rescore_until / max(1, bulk_figures["events"]) * 1e6
            db_until = server_cpu(db) - bulk_figures["db_cpu_start"] if db else 0.0
            bulk_figures["db_scored_cpu_us"] = db_until / max(1, bulk_figures["events"]) * 1e6
            ack = None if only_bulk else run(ack_to_score(server.url, token, seconds, mode))
        finally:
            server.stop()
    return {"backend": kind, "singles": singles, "bulk": bulk_figures, "ack": ack}


MODE = ["wait"]  # the probes' mode of this run (`--probe-mode`)
PROBE_TEXT = {
    "poll": "reads its lead every 25 ms (`GET /v1/leads/{id}`)",
    "wait": "waits for its lead's result once (`GET /v1/leads/{id}?wait=10`)",
    "both": "both reads its lead every 25 ms and waits for it (the figures: the wait's)",
}


def agreement_markdown(results: list[dict[str, Any]]) -> str:
    """`--probe-mode both`: the polled and the waited-for measure of the same probes."""
    lines = [
        "",
        "Polled and waited-for ack to score on the same probes (`--probe-mode both`), from the ack, ms; "
        "poll - wait: how much earlier the wait saw the event scored:",
        "",
        "| backend | phase | probes | polled p50 / p99 | waited p50 / p99 | poll - wait p50 (min, max) "
        "| wait later than poll |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for phase, f in (("8 clients", r.get("ack")), ("bulk", r.get("bulk"))):
            if not f or not f.get("pairs"):
                continue
            lines.append(
                f"| {r['backend']} | {phase} | {f['pairs']} | {f['poll_p50_ms']:.0f} / {f['poll_p99_ms']:.0f} "
                f"| {f['wait_p50_ms']:.0f} / {f['wait_p99_ms']:.0f} "
                f"| {f['gap_p50_ms']:.1f} ({f['gap_min_ms']:.1f}, {f['gap_max_ms']:.1f}) | {f['wait_later']} |"
            )
    return "\n".join(lines) + "\n" if len(lines) > 6 else ""


def split_lines(results: list[dict[str, Any]]) -> list[str]:
    """Where the server's CPU went while the bulk requests ran (`server_split`), µs per bulk event."""
    lines = ["", "Server CPU while the bulk requests run, by where it ran, µs per bulk event:", ""]
    for r in results:
        b = r["bulk"]
        lines.append(
            f"- {r['backend']}: event loop {b['loop_cpu_us']:.1f} (requests read, bulk bodies parsed and checked, "
            f"the probes' requests), other threads {b['threads_cpu_us']:.1f} (the bulk requests' store step, "
            f"the group commit), rescoring {b['rescore_cpu_us']:.1f}"
        )
    return lines


def bulk_markdown(results: list[dict[str, Any]], command: str, workers: str) -> str:
    """The bulk endpoint's figures alone (`--only-bulk`)."""
    lines = [
        "## HTTP API: bulk intake only",
        "",
        f"Command: `{command}`. A real `leadscore serve` on 127.0.0.1 ({workers}; each with its rescoring process), "
        "10,000 events a request from 2 clients on the same 2 cores. Server CPU counts the server processes, "
        "the rescoring process included, while the requests run; database CPU the local PostgreSQL server's "
        "processes (0 on SQLite, which runs in the server's). Ack to score: while the bulk requests run, "
        "a probe every 50 ms sends one event to a lead of its own and " + PROBE_TEXT[MODE[0]] + " until its "
        "result includes it. Load average when the run started: " + LOAD + ".",
        "",
        "| backend | bulk events | acknowledged in s | events/s | server CPU µs / event (of which rescoring) "
        "| database CPU µs / event | client CPU µs / event | all scored after s "
        "| server (rescoring) + database CPU until scored µs / event | ack to score from the ack p50 / p99 ms "
        "(probes) | from sending | probe acknowledged p50 / p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        b = r["bulk"]
        lines.append(
            f"| {r['backend']} | {b['events']:,} | {b['seconds']:.2f} | {b['events_s']:,.0f} | {b['cpu_us']:.0f} "
            f"({b['rescore_cpu_us']:.0f}) | {b['db_cpu_us']:.0f} | {b['client_cpu_us']:.0f} | {b['scored_s']:.1f} "
            f"| {b['scored_cpu_us']:.0f} ({b['scored_rescore_cpu_us']:.0f}) + {b['db_scored_cpu_us']:.0f} "
            f"| {b['from_ack_p50_ms']:.0f} / {b['from_ack_p99_ms']:.0f} ({b['probes']}) "
            f"| {b['ack_p50_ms']:.0f} / {b['ack_p99_ms']:.0f} "
            f"| {b['probe_ack_p50_ms']:.0f} / {b['probe_ack_p99_ms']:.0f} |"
        )
    lines += split_lines(results)
    target, ack = TARGETS["bulk_events_s"], TARGETS["ack_p99_ms"]
    met = ", ".join(f"{r['backend']} {'met' if r['bulk']['events_s'] >= target else 'not met'}" for r in results)
    kinds = list(dict.fromkeys(r["kind"] for r in results))
    if len(results) > len(kinds):
        medians = {k: statistics.median(r["bulk"]["events_s"] for r in results if r["kind"] == k) for k in kinds}
        met += " (medians: " + ", ".join(f"{k} {v:,.0f}" for k, v in medians.items()) + ")"
    ack_met = ", ".join(f"{r['backend']} {'met' if r['bulk']['from_ack_p99_ms'] < ack else 'not met'}" for r in results)
    lines += [
        "",
        f"Target bulk events/s >= {target:,.0f}: {met}. "
        f"Ack to score p99 < {ack:,.0f} ms under the bulk load: {ack_met}.",
    ]
    return "\n".join(lines) + "\n"


SINGLE_HEAD = [
    "| backend | clients | single events/s | p50 ms | p99 ms | server CPU ms / event | of which rescoring "
    "| database CPU ms / event | client CPU ms / event | errors |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
]


def single_rows(results: list[dict[str, Any]]) -> list[str]:
    return [
        f"| {r['backend']} | {s['clients']} | {s['events_s']:,.0f} | {s['p50_ms']:.1f} | {s['p99_ms']:.1f} "
        f"| {s['cpu_ms']:.2f} | {s['rescore_cpu_ms']:.2f} | {s['db_cpu_ms']:.2f} "
        f"| {s['client_cpu_ms']:.2f} | {s['errors']} |"
        for r in results
        for s in r["singles"]
    ]


def single_markdown(results: list[dict[str, Any]], command: str, workers: str) -> str:
    """The single-event requests' figures alone (`--only-single`)."""
    lines = [
        "## HTTP API: single-event requests only",
        "",
        f"Command: `{command}`. A real `leadscore serve` on 127.0.0.1 ({workers}; each with its rescoring process), "
        "the clients on the same 2 cores. Load average when the run started: " + LOAD + ".",
        "",
        *SINGLE_HEAD,
        *single_rows(results),
    ]
    return "\n".join(lines) + "\n"


def markdown(results: list[dict[str, Any]], command: str, workers: str) -> str:
    lines = [
        "## HTTP API",
        "",
        f"Command: `{command}`. A real `leadscore serve` on 127.0.0.1 ({workers}; each with its rescoring process); "
        "the clients run on the same 2 cores (asyncio, one keep-alive connection each), so these figures are a "
        "floor. Events are acknowledged once stored; their leads are rescored right after by the rescoring "
        "process (docs/api.md).",
        "",
        "Server CPU is the CPU time the server processes (rescoring included) used per acknowledged event: on a",
        "shared machine it says more than the wall-clock rates (`2 cores / CPU per event` bounds the rate of an",
        "unshared 2-core machine); database CPU is the PostgreSQL server's (`nan` on SQLite: in the server's).",
        "Ack to score: a probe every 50 ms under the 8-client load and beside the bulk requests, which "
        + PROBE_TEXT[MODE[0]]
        + ". Load average when the run started: "
        + LOAD
        + ".",
        "",
        *SINGLE_HEAD,
        *single_rows(results),
    ]
    lines += [
        "",
        "| backend | bulk events | acknowledged in s | events/s | server (rescoring) + database CPU µs / event "
        "| all scored after s | of which after the last bulk ack s "
        "| server (rescoring) + database CPU until scored µs / event "
        "| ack to score p50 / p99 ms from the ack (probes) | from sending | 8 clients' events/s meanwhile "
        "| under the bulk requests, from the ack p50 / p99 ms (probes) | from sending |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        b, a = r["bulk"], r["ack"]
        lines.append(
            f"| {r['backend']} | {b['events']:,} | {b['seconds']:.2f} | {b['events_s']:,.0f} "
            f"| {b['cpu_us']:.0f} ({b['rescore_cpu_us']:.0f}) + {b['db_cpu_us']:.0f} | {b['scored_s']:.1f} "
            f"| {b['backlog_s']:.1f} | {b['scored_cpu_us']:.0f} ({b['scored_rescore_cpu_us']:.0f}) "
            f"+ {b['db_scored_cpu_us']:.0f} "
            f"| {a['from_ack_p50_ms']:.0f} / {a['from_ack_p99_ms']:.0f} ({a['probes']}) "
            f"| {a['p50_ms']:.0f} / {a['p99_ms']:.0f} | {a['load_events_s']:,.0f} "
            f"| {b['from_ack_p50_ms']:.0f} / {b['from_ack_p99_ms']:.0f} ({b['probes']}) "
            f"| {b['ack_p50_ms']:.0f} / {b['ack_p99_ms']:.0f} |"
        )
    lines += split_lines(results)
    paused = [f"{r['backend']} {r['ack']['yielded_s']:.2f}" for r in results if not math.isnan(r["ack"]["yielded_s"])]
    if paused:  # the back-pressure by age (leadscore.app.score_lag): whether it acted in the ack phase
        lines += [
            "",
            "Seconds the group commit paused for the rescoring in the 8-client ack phase: " + "; ".join(paused),
        ]
    kinds = list(dict.fromkeys(r["kind"] for r in results))
    runs = {kind: [r for r in results if r["kind"] == kind] for kind in kinds}
    many = any(len(rs) > 1 for rs in runs.values())
    if many:
        lines += ["", "Targets on the medians of each backend's runs (every run's value in brackets, in order):"]
    lines += ["", "| target | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
    for name, target, pick, better in (
        (
            f"single events/s >= {TARGETS['single_events_s']:,.0f} (1, 8, 32 clients)",
            TARGETS["single_events_s"],
            lambda r: [s["events_s"] for s in r["singles"]],
            "high",
        ),
        (
            f"single p99 < {TARGETS['single_p99_ms']:.0f} ms (1, 8, 32 clients)",
            TARGETS["single_p99_ms"],
            lambda r: [s["p99_ms"] for s in r["singles"]],
            "low",
        ),
        (
            f"bulk events/s >= {TARGETS['bulk_events_s']:,.0f}",
            TARGETS["bulk_events_s"],
            lambda r: [r["bulk"]["events_s"]],
            "high",
        ),
        (
            f"ack to score p99 < {TARGETS['ack_p99_ms']:,.0f} ms, from the ack (8 clients, bulk)",
            TARGETS["ack_p99_ms"],
            lambda r: [r["ack"]["from_ack_p99_ms"], r["bulk"]["from_ack_p99_ms"]],
            "low",
        ),
    ):
        cells = []
        for kind in kinds:
            each = [pick(r) for r in runs[kind]]  # per run, the figure's values (1, 8, 32 clients: three)
            values = [statistics.median(column) for column in zip(*each, strict=True)]
            met = all(v >= target if better == "high" else v < target for v in values)
            shown = " / ".join(f"{v:,.0f}" for v in values)
            if many:
                shown += " [" + "; ".join(" / ".join(f"{v:,.0f}" for v in run) for run in each) + "]"
            cells.append(shown + (" (met)" if met else " (not met)"))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def ack_markdown(results: list[dict[str, Any]], command: str, workers: str) -> str:
    """The ack-to-score phase alone (`--only-ack`): the 8-client load and its probes, and how long the
    server's group commit paused for its rescoring meanwhile (the back-pressure by age)."""
    lines = [
        "## HTTP API: ack to score under the 8-client load only",
        "",
        f"Command: `{command}`. A real `leadscore serve` on 127.0.0.1 ({workers}; each with its rescoring process), "
        "the clients on the same 2 cores; a probe every 50 ms " + PROBE_TEXT[MODE[0]] + ". Load average when the "
        "run started: " + LOAD + ".",
        "",
        "| backend | 8 clients' events/s | p50 / p99 ms | server (rescoring) + database CPU ms / event "
        "| ack to score p50 / p99 ms from the ack (probes) | intake paused s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        a, load = r["ack"], r["ack"]["load"]
        lines.append(
            f"| {r['backend']} | {load['events_s']:,.0f} | {load['p50_ms']:.1f} / {load['p99_ms']:.1f} "
            f"| {load['cpu_ms']:.2f} ({load['rescore_cpu_ms']:.2f}) + {load['db_cpu_ms']:.2f} "
            f"| {a['from_ack_p50_ms']:.0f} / {a['from_ack_p99_ms']:.0f} ({a['probes']}) | {a['yielded_s']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 s per figure, 4 bulk requests")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--bulk-requests", type=int, default=10)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes (default 1, as `leadscore serve`; on PostgreSQL 2 took more CPU per bulk "
        "event and gave no more single events/s on 2 cores, benchmarks/results/api.md)",
    )
    parser.add_argument("--backends", nargs="*", default=["sqlite", "postgres"])
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        help="whole runs per backend, each on a fresh server and store; every run's figures are shown and the "
        "targets are checked on their medians",
    )
    parser.add_argument(
        "--only-bulk", action="store_true", help="the bulk requests alone (written to api-bulk.md, not api.md)"
    )
    parser.add_argument(
        "--only-single",
        type=int,
        nargs="+",
        metavar="CLIENTS",
        help="the single-event requests alone, with these numbers of clients (written to api-single.md)",
    )
    parser.add_argument(
        "--only-ack",
        action="store_true",
        help="the ack-to-score phase alone: the 8-client load and its probes (written to api-ack.md)",
    )
    parser.add_argument(
        "--no-probes",
        action="store_true",
        help="the bulk requests without the ack-to-score probes, whose reads of their leads (every 25 ms) count in "
        "the server's CPU per bulk event, the more the longer the requests take",
    )
    parser.add_argument(
        "--probe-mode",
        choices=PROBE_MODES,
        default="wait",
        help="how an ack-to-score probe learns its event is scored: wait (one GET /v1/leads/{id}?wait=), poll "
        "(a GET every 25 ms: each costs the server a read), or both on the same event (their agreement is reported)",
    )
    parser.add_argument(
        "--out", type=Path, help="write the markdown here instead of benchmarks/results/ (a results file kept as it is)"
    )
    args = parser.parse_args()
    seconds = 3.0 if args.quick else args.seconds
    bulk_requests = 4 if args.quick else args.bulk_requests
    only_single = tuple(args.only_single or ())
    MODE[0] = args.probe_mode
    results = []
    for kind in args.backends:
        for n in range(args.runs):
            result = run_backend(
                kind,
                seconds,
                bulk_requests,
                args.workers,
                args.only_bulk,
                not args.no_probes,
                only_single,
                args.probe_mode,
                args.only_ack,
            )
            result["kind"] = kind
            if args.runs > 1:
                result["backend"] = f"{kind} (run {n + 1})"
            results.append(result)
    command = "python " + " ".join(["benchmarks/api_load.py", *sys.argv[1:]])
    shown = "1 worker" if args.workers == 1 else f"{args.workers} workers"
    writer = (
        ack_markdown
        if args.only_ack
        else bulk_markdown
        if args.only_bulk
        else single_markdown
        if only_single
        else markdown
    )
    text = writer(results, command, shown) + agreement_markdown(results)
    print(text)
    name = (
        "api-ack.md"
        if args.only_ack
        else "api-bulk.md"
        if args.only_bulk
        else "api-single.md"
        if only_single
        else "api-quick.md"
        if args.quick
        else "api.md"
    )
    out = args.out or ROOT / "benchmarks" / "results" / name
    out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
