"""Settings of the HTTP API, from the environment (`LEADSCORE_API_*`); there is no default key."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEADSCORE_API_", extra="ignore")

    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024, description="larger bodies get 413")
    max_bulk_events: int = Field(default=10_000, ge=1)
    # public intake keys (the tracker): requests per second, and bursts, per key and per client address
    intake_rate_per_key: float = Field(default=500.0, gt=0)
    intake_burst_per_key: int = Field(default=1000, ge=1)
    intake_rate_per_client: float = Field(default=20.0, gt=0)
    intake_burst_per_client: int = Field(default=60, ge=1)
    # seconds a verified key is trusted without a new look-up (0: every request); a key revoked through
    # another process is refused within this time, through this process at once
    key_cache_s: float = Field(default=2.0, ge=0)
    # the tracker's identify from a tracking URL (`?ls_id=`): it links a visitor to an existing lead on
    # the word of whoever holds the link (an e-mail link's trust); false refuses every such identify
    url_identify: bool = True
    # acknowledge events once stored (durable), their leads queued for the rescoring worker, which
    # updates the scores right after (GET /v1/leads/{id} says `pending` meanwhile); false: every event
    # is rescored before its request is acknowledged (slower under load)
    defer_rescoring: bool = True
    # the rescoring worker runs in a process of its own beside each server process (when the server
    # opened the workspace itself); false: a thread of the server process
    rescore_process: bool = True
    # seconds the rescoring worker, woken by a commit, waits for more commits before it drains them in
    # one transaction (leadscore.app.rescorer): each drain has a fixed cost (about 3.5 ms of CPU in the
    # rescoring process, traced), so 0.02 s cost the rescoring a quarter to a half more CPU per event
    # than 0.1 s with one and eight clients; 0.05 s bounds that cost at about 7% of a core, as much as
    # the rescoring's CPU per event varies from run to run, and halves the wait it adds to the time
    # from acknowledgement to score (a probe under the 8-client load: p50 177-234 -> 126-129 ms,
    # benchmarks/results/api.md); None: the store backend's (`LeadStore.drain_gather_s`)
    rescore_gather_s: float | None = Field(default=0.05, ge=0, le=1)
    # back-pressure by age (leadscore.app.score_lag): once the oldest acknowledged event whose lead is not
    # scored yet has waited this long (seconds), the group commit of single events pauses after each commit,
    # growing over 0.25 s up to `intake_yield_max_s`, so the rescoring gets the CPU it lacks. The target is
    # acknowledgement to score under 1 s (p99): on 2 cores under 8 clients on PostgreSQL the rescoring fell
    # 0.4-1.1 s behind (benchmarks/results/api.md); from 0.5 s the pause has 0.5 s to act before the
    # bound, and below it the intake is never slowed. 0: never (the acknowledgements never wait for scores)
    intake_yield_after_s: float = Field(default=0.5, ge=0, le=60)
    # the longest pause after a commit: each client's request waits up to this much more (its p99 target is
    # 50 ms); with 8 clients a commit holds up to 8 events, so 5 ms still lets over 1,000 events/s through
    intake_yield_max_s: float = Field(default=0.005, ge=0, le=0.1)
    # clients waiting for a lead's result to be current (`GET /v1/leads/{id}?wait=`) at a time, per server
    # process; more get 429 (a waiting wait holds a task, neither a thread nor a connection; its reads
    # run on the waits' own threads, leadscore.app.lead_waits)
    max_lead_waits: int = Field(default=1000, ge=1)
    # the longest a wait goes without a look at the store: drains the rescoring does not signal (another
    # server process's, one run by hand) are seen within it; the server's own are signalled at once
    lead_wait_check_s: float = Field(default=0.1, gt=0, le=60)
