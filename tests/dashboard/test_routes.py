"""The dashboard's routes in-process (no browser): model plan, hostile input, sessions of revoked keys."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from leadscore.app.service import LeadService
from leadscore.dashboard.site import create_site
from tests.analytics.conftest import MODEL


def signed_in(service: LeadService, scope: str) -> tuple[TestClient, str, str]:
    info, token = service.create_key(f"{scope}-user", [scope])
    client = TestClient(create_site(service))
    form = client.get("/app/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    answer = client.post("/app/login", data={"key": token, "csrf": csrf.group(1)}, follow_redirects=False)
    assert answer.status_code == 303
    page = client.get("/app/queue").text
    session_csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert session_csrf is not None
    return client, session_csrf.group(1), info.id


def test_an_admin_plans_a_candidate_model(hand_store: LeadService) -> None:
    client, csrf, _ = signed_in(hand_store, "admin")
    candidate = MODEL.replace("points: 40}", "points: 45}")
    page = client.post("/app/models/plan", data={"source": candidate, "csrf": csrf})
    assert page.status_code == 200 and "Biggest movers" in page.text
    assert re.search(r'<span class="kpi">2</span><span class="muted">change score', page.text)  # A and C
    bad = client.post("/app/models/plan", data={"source": "format: 1\nname: x\nrules: []\n", "csrf": csrf})
    assert bad.status_code == 422 and "rules" in bad.text
    forged = client.post("/app/models/plan", data={"source": candidate, "csrf": "nope"})
    assert forged.status_code == 403


def test_a_reader_cannot_plan_and_hostile_input_is_a_clear_page(hand_store: LeadService) -> None:
    client, csrf, _ = signed_in(hand_store, "read")
    assert client.post("/app/models/plan", data={"source": MODEL, "csrf": csrf}).status_code == 403
    for path, status in (
        ("/app/queue?after=not-a-cursor", 422),
        ("/app/queue?min_score=lots", 422),
        ("/app/queue?label=hot", 422),
        ("/app/analytics/funnel?from=2026-02-01&to=2026-01-01", 422),
        ("/app/analytics/funnel?from=soon", 422),
        ("/app/analytics/revenue", 404),
        ("/app/leads/%3Cscript%3E", 404),
        ("/app/models?a=x&b=y", 200),
    ):
        page = client.get(path)
        assert page.status_code == status, (path, page.status_code)
        assert "Traceback" not in page.text and "<script>" not in page.text
    assert client.get("/app/login?next=https://evil.example/").status_code == 200


def test_revoking_a_key_ends_its_sessions(hand_store: LeadService) -> None:
    client, _, key_id = signed_in(hand_store, "write")
    assert client.get("/app/queue", follow_redirects=False).status_code == 200
    hand_store.revoke_key(key_id)
    answer = client.get("/app/queue", follow_redirects=False)
    assert answer.status_code == 303 and "/app/login" in answer.headers["location"]
