"""The demo workspace: generated B2B leads with a year of history, replayed into a store week by week.

Replaying in time order, with the service's clock set to the end of each week, gives the store what a
year of real use leaves behind: a score history that rises and decays, stage moves when they happened,
triggers fired through the year and webhook deliveries to a local receiver (some of them failing, as
deliveries do). `leadscore demo --serve` builds it and serves the dashboard on it.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from leadscore.domain import Event, Lead
from leadscore.domain.timeutil import parse_timestamp

SLICE = timedelta(days=30)
MODEL_EXAMPLE = "b2b-saas"
# with the predictive extra installed, the demo scores with the example that adds a trained dimension
PREDICTIVE_EXAMPLE = "b2b-saas-predictive"


def demo_example() -> str:
    from leadscore._extras import available

    return PREDICTIVE_EXAMPLE if available("predictive") else MODEL_EXAMPLE


@dataclass
class DemoStats:
    leads: int
    events: int
    slices: int
    fired: int


class _Receiver(http.server.BaseHTTPRequestHandler):
    """Accepts webhooks; every seventh message fails once with a 503, so the delivery log shows retries."""

    seen: set[str] = set()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        msg = self.headers.get("webhook-id") or ""
        fail = hash(msg) % 7 == 0 and msg not in self.seen
        self.seen.add(msg)
        self.send_response(503 if fail else 204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@contextmanager
def receiver() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _created(lead: Lead, default: datetime) -> datetime:
    value = lead.attributes.get("created_at")
    return parse_timestamp(value) if value else default


def replay_year(
    service: Any,
    leads: list[Lead],
    events: list[Event],
    clock: Callable[[datetime], None],
    progress: Callable[[int, int], None] | None = None,
    deliver: bool = True,
    switch: tuple[int, Path] | None = None,
) -> DemoStats:
    """Ingest slice by slice (30 days). Each lead arrives at its `created_at` (so it enters the funnel
    then), its events at the end of their slice; time-driven changes and webhook deliveries run every
    slice. `switch` (slice number, model file) applies another model after that slice, as a team that
    tunes its model does."""
    if not events:
        return DemoStats(len(leads), 0, 0, 0)
    start = events[0].timestamp.replace(hour=0, minute=0, second=0, microsecond=0)
    end = events[-1].timestamp
    created = sorted(leads, key=lambda lead: _created(lead, start))
    slices = int((end - start) / SLICE) + 1
    li = ei = fired = 0
    for w in range(slices):
        slice_end = start + SLICE * (w + 1)
        batch: list[Lead] = []
        while li < len(created) and _created(created[li], start) < slice_end:
            batch.append(created[li])
            li += 1
        # leads arrive by the day, at the day's first creation time, before any of their events
        by_day: dict[Any, list[Lead]] = {}
        for lead in batch:
            by_day.setdefault(_created(lead, start).date(), []).append(lead)
        for day_leads in by_day.values():
            clock(min(_created(lead, start) for lead in day_leads))
            service.ingest_leads(day_leads, source="demo")
        first = ei
        while ei < len(events) and events[ei].timestamp < slice_end:
            ei += 1
        clock(min(slice_end, end))
        if ei > first:
            service.ingest_events(events[first:ei])
        service.refresh()
        if deliver:
            fired += _deliver_all(service)
        if switch is not None and w + 1 == switch[0]:
            service.apply_model(switch[1], quiet=True)
        if progress is not None:
            progress(w + 1, slices)
    return DemoStats(len(leads), len(events), slices, fired)


def _deliver_all(service: Any) -> int:
    sent = 0
    for _ in range(20):
        n = len(service.deliver_webhooks(limit=500).attempts)
        sent += n
        if n < 500:
            break
    return sent


class MovableClock:
    """The service's clock during the replay: set by hand, then released to the wall clock."""

    def __init__(self) -> None:
        self.fixed: datetime | None = None

    def set(self, when: datetime) -> None:
        self.fixed = when

    def __call__(self) -> datetime:
        return self.fixed or datetime.now(UTC)


def example_dir(name: str) -> Path:
    """Bundled examples: in the source tree, or inside the installed package."""
    here = Path(__file__).resolve().parent
    for root in (here.parent.parent / "examples", here / "examples"):
        if (root / name).is_dir():
            return root / name
    raise FileNotFoundError(f"example {name!r} not found")


def write_workspace(folder: Path, receiver_url: str, example: str | None = None) -> Path:
    """leadscore.yaml, the B2B model (with its trained artifact when it has a predictive dimension),
    destinations to `receiver_url`."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    src = example_dir(example or demo_example())
    shutil.copy(src / "model.yaml", folder / "model.yaml")
    for artifact in src.glob("*.lsm"):
        shutil.copy(artifact, folder / artifact.name)
    (folder / "leadscore.yaml").write_text(
        f"""# The demo workspace (`leadscore demo --serve`): generated data, a year of history.
store: sqlite:///leadscore.db
model: model.yaml
settings:
  batch_size: 10000
destinations:
  crm: {{url: "{receiver_url}/crm", secret: "{_SECRET}", max_attempts: 4, backoff_base_s: 3600}}
  sales-chat: {{url: "{receiver_url}/chat", secret: "{_SECRET}", max_attempts: 4, backoff_base_s: 3600}}
""",
        encoding="utf-8",
    )
    return folder


def rules_model(folder: Path) -> Path:
    """The rules-only B2B model, which the year is replayed under when the live model has a trained
    dimension (that one is applied at the end, as a team adds it once a year of history trained it)."""
    path = folder / "model-2026-rules.yaml"
    path.write_text((example_dir(MODEL_EXAMPLE) / "model.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    return path


def earlier_model(folder: Path, source: Path | None = None) -> Path:
    """The demo model as it was before tuning: the pricing page and demo requests weighed less."""
    text = (source or folder / "model.yaml").read_text(encoding="utf-8")
    tuned = text.replace("limit: 45\n    points: 15", "limit: 45\n    points: 10").replace(
        "decay: {linear: 90d},\n     points: 80, description: Asked",
        "decay: {linear: 90d},\n     points: 60, description: Asked",
    )
    if tuned == text:
        raise ValueError("the demo model changed: earlier_model() no longer finds the points it lowers")
    path = folder / "model-2026-earlier.yaml"
    path.write_text(tuned, encoding="utf-8")
    return path


_SECRET = "whsec_ZGVtby1zZWNyZXQtbm90LWZvci1wcm9kdWN0aW9uIQ=="


def build_demo(
    folder: Path,
    n_leads: int = 3000,
    seed: int = 0,
    end: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DemoStats:
    """Generate a year of B2B data ending at `end` (default now) and replay it into a new workspace."""
    from leadscore.app.service import LeadService
    from leadscore.app.workspace import Workspace
    from leadscore.generate import sample

    end = (end or datetime.now(UTC)).replace(microsecond=0)
    leads, events = sample("b2b", n_leads, seed, start=end - timedelta(days=365), end=end)
    events.sort(key=lambda e: e.ts)
    clock = MovableClock()
    clock.set(end - timedelta(days=366))
    example = demo_example()
    with receiver() as url:
        ws = Workspace.load(write_workspace(folder, url, example))
        service = LeadService.from_workspace(ws, clock=clock)
        try:
            service.upgrade()
            # the year starts under an earlier version of the model; the tuned one goes live after 9 months
            live = folder / "model.yaml"
            tuned = live if example == MODEL_EXAMPLE else rules_model(folder)
            service.apply_model(earlier_model(folder, tuned), quiet=True)
            stats = replay_year(service, leads, events, clock.set, progress, switch=(9, tuned))
            if tuned != live:
                # Replaying the year under the trained dimension would ask the model at every past event
                # of every rescore (minutes for a few thousand leads); applying it at the end rescores
                # each lead once, its probabilities at past events predicted in batches.
                service.apply_model(live, quiet=True)
        finally:
            service.close()
    return stats
