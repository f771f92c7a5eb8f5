"""The dashboard in a real browser: pages, filters and paging, a lead's breakdown, actions, login,
CSRF, accessibility (axe-core), and screenshots of every page on a laptop and a phone."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.conftest import ARTIFACTS, ROOT, Site

pytestmark = pytest.mark.integration

AXE = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")
VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}


class Watched:
    """A page that records console errors and failed requests."""

    def __init__(self, browser: Any, viewport: dict[str, int]) -> None:
        self.context = browser.new_context(viewport=viewport)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on(
            "console", lambda m: self.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url} {r.failure}"))
        self.page.on(
            "response", lambda r: self.problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 500 else None
        )

    def close(self) -> None:
        self.context.close()


def login(w: Watched, site: Site, token: str) -> None:
    w.page.goto(site.url + "/app/login")
    w.page.fill("#key", token)
    w.page.click("button[type=submit]")
    w.page.wait_for_url(re.compile(r".*/app/queue.*"))


def axe_violations(page: Any) -> list[str]:
    # evaluated through the browser's debugging protocol: the page's own CSP forbids inline scripts
    page.evaluate(AXE + "\n;void 0")
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def first_lead(site: Site, w: Watched, query: str = "") -> str:
    w.page.goto(site.url + "/app/queue" + query)
    return str(w.page.locator("#queue tbody tr").first.get_attribute("data-lead"))


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_every_page_loads_cleanly_is_accessible_and_is_captured(browser: Any, site: Site, device: str) -> None:
    w = Watched(browser, VIEWPORTS[device])
    folder = ARTIFACTS / device
    folder.mkdir(parents=True, exist_ok=True)
    try:
        w.page.goto(site.url + "/app/login")
        w.page.screenshot(path=str(folder / "login.png"), full_page=True)
        assert axe_violations(w.page) == []
        login(w, site, site.admin)
        lead = first_lead(site, w)
        pages = {
            "queue": "/app/queue",
            "queue-filtered": "/app/queue?label=temperature%3Ahot&stage=mql",
            "queue-empty": "/app/queue?q=no-such-lead-anywhere",
            "lead": f"/app/leads/{lead}",
            "funnel": "/app/analytics/funnel",
            "channels": "/app/analytics/channels",
            "quality": "/app/analytics/quality",
            "feedback": "/app/analytics/feedback",
            "triggers": "/app/analytics/triggers",
            "models": "/app/models",
        }
        for name, path in pages.items():
            answer = w.page.goto(site.url + path)
            assert answer is not None and answer.status == 200, name
            w.page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
            assert axe_violations(w.page) == [], name
        assert w.problems == []
        answer = w.page.goto(site.url + "/app/leads/NO-SUCH-LEAD")
        assert answer is not None and answer.status == 404
        w.page.screenshot(path=str(folder / "not-found.png"), full_page=True)
        assert axe_violations(w.page) == []
    finally:
        w.close()


def test_the_queue_filters_and_pages(browser: Any, site: Site) -> None:
    w = Watched(browser, VIEWPORTS["desktop"])
    try:
        login(w, site, site.admin)
        w.page.goto(site.url + "/app/queue?label=temperature%3Ahot&size=25")
        rows = w.page.locator("#queue tbody tr")
        assert rows.count() > 0
        for i in range(rows.count()):
            assert "hot" in rows.nth(i).locator("td[data-label=Labels]").inner_text()
        w.page.goto(site.url + "/app/queue?size=25")
        first = [r.get_attribute("data-lead") for r in w.page.locator("#queue tbody tr").all()]
        assert len(first) == 25
        shown = w.page.url
        w.page.click("#next-page")  # a link: the rows are read once the next page has loaded
        w.page.wait_for_url(lambda url: url != shown)
        second = [r.get_attribute("data-lead") for r in w.page.locator("#queue tbody tr").all()]
        assert second and not set(first) & set(second)
        w.page.goto(site.url + "/app/queue?size=50")
        both = [r.get_attribute("data-lead") for r in w.page.locator("#queue tbody tr").all()]
        assert both[: len(first) + len(second)] == first + second  # keyset pages continue the same order
        w.page.goto(site.url + "/app/queue?stage=customer")
        for cell in w.page.locator("#queue td[data-label=Stage]").all():
            assert cell.inner_text().strip() == "customer"
        assert w.problems == []
    finally:
        w.close()


def test_a_lead_breakdown_adds_up_to_its_score(browser: Any, site: Site) -> None:
    w = Watched(browser, VIEWPORTS["desktop"])
    try:
        login(w, site, site.admin)
        for query in ("", "?stage=lead", "?label=temperature%3Acold"):
            lead = first_lead(site, w, query)
            w.page.goto(f"{site.url}/app/leads/{lead}")
            score = float(str(w.page.locator("#lead-score").get_attribute("data-score")))
            points = [
                float(str(p.get_attribute("data-points"))) for p in w.page.locator("#breakdown-table td.points").all()
            ]
            assert points and math.isclose(math.fsum(points), score, abs_tol=1e-6), lead
        assert w.problems == []
    finally:
        w.close()


def test_accepting_a_lead_moves_its_stage(browser: Any, site: Site) -> None:
    w = Watched(browser, VIEWPORTS["desktop"])
    try:
        login(w, site, site.writer)
        lead = first_lead(site, w, "?stage=mql")
        w.page.goto(f"{site.url}/app/leads/{lead}")
        w.page.fill("#reason", "budget confirmed")
        w.page.click("button[value=accepted]")
        w.page.wait_for_url(re.compile(r".*done=accepted.*"))
        assert "sql" in w.page.locator(".lead-head .stage-pill").inner_text()
        assert "budget confirmed" in w.page.locator(".timeline.events").inner_text()
        assert w.problems == []
    finally:
        w.close()


def test_the_funnel_page_shows_the_report_commands_numbers(browser: Any, site: Site) -> None:
    w = Watched(browser, VIEWPORTS["desktop"])
    try:
        login(w, site, site.reader)
        w.page.goto(site.url + "/app/analytics/funnel?from=2020-01-01&to=2030-01-01")
        shown = {}
        for row in w.page.locator("table[data-table=stages] tbody tr").all():
            cells = {c.get_attribute("data-key"): c.get_attribute("data-value") for c in row.locator("td").all()}
            shown[cells["stage"]] = cells
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "leadscore.cli.main",
                "report",
                "funnel",
                "--format",
                "json",
                "--from",
                "2020-01-01",
                "--to",
                "2030-01-01",
                "--project",
                str(site.project),
            ],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin"},
        )
        report = json.loads(out.stdout)
        assert report["stages"]
        for stage in report["stages"]:
            cells = shown[stage["stage"]]
            for key in ("entered", "current", "advanced", "exited", "median_days", "p90_days"):
                expected = "" if stage[key] is None else str(stage[key])
                assert cells[key] == expected, (stage["stage"], key)
    finally:
        w.close()


def test_login_logout_and_a_read_only_key(browser: Any, site: Site) -> None:
    w = Watched(browser, VIEWPORTS["desktop"])
    try:
        w.page.goto(site.url + "/app/queue")
        assert "/app/login" in w.page.url
        w.page.fill("#key", "lsk_not_a_real_key")
        w.page.click("button[type=submit]")
        assert "unknown or revoked" in w.page.locator(".alert").inner_text()
        login(w, site, site.reader)
        lead = first_lead(site, w, "?stage=mql")
        w.page.goto(f"{site.url}/app/leads/{lead}")
        assert w.page.locator("button[value=accepted]").count() == 0
        stage = w.page.locator(".lead-head .stage-pill").inner_text()
        csrf = w.page.locator("form[action='/app/logout'] input[name=csrf]").get_attribute("value")
        answer = w.page.request.post(
            f"{site.url}/app/leads/{lead}/actions", form={"action": "accepted", "csrf": str(csrf)}, max_redirects=0
        )
        assert answer.status == 403
        w.page.goto(f"{site.url}/app/leads/{lead}")
        assert w.page.locator(".lead-head .stage-pill").inner_text() == stage
        w.page.click("form[action='/app/logout'] button")
        w.page.wait_for_url(re.compile(r".*/app/login.*"))
        w.page.goto(site.url + "/app/queue")
        assert "/app/login" in w.page.url
    finally:
        w.close()


def test_a_forged_csrf_token_is_refused(browser: Any, site: Site) -> None:
    w = Watched(browser, VIEWPORTS["desktop"])
    try:
        login(w, site, site.writer)
        lead = first_lead(site, w, "?stage=mql")
        w.page.goto(f"{site.url}/app/leads/{lead}")
        stage = w.page.locator(".lead-head .stage-pill").inner_text()
        for forged in ("", "forged-token"):
            answer = w.page.request.post(
                f"{site.url}/app/leads/{lead}/actions", form={"action": "won", "csrf": forged}, max_redirects=0
            )
            assert answer.status == 403
        w.page.goto(f"{site.url}/app/leads/{lead}")
        assert w.page.locator(".lead-head .stage-pill").inner_text() == stage
        answer = w.page.request.post(
            f"{site.url}/app/login", form={"key": site.admin, "csrf": "forged"}, max_redirects=0
        )
        assert answer.status == 403
    finally:
        w.close()


def test_the_demo_scores_with_a_trained_dimension_and_a_lead_page_explains_it(browser: Any, site: Site) -> None:
    from leadscore.app.service import LeadService
    from leadscore.app.workspace import Workspace

    service = LeadService.from_workspace(Workspace.load(site.project))
    try:
        assert list(service.model.predictive_dimensions()) == ["propensity"]
    finally:
        service.close()
    w = Watched(browser, VIEWPORTS["desktop"])
    try:
        login(w, site, site.reader)
        w.page.goto(f"{site.url}/app/leads/{first_lead(site, w)}")
        prediction = w.page.locator(".prediction")
        assert re.fullmatch(r"propensity: \d+% likely", str(prediction.locator("h3").text_content()).strip())
        factors = [t.strip() for t in prediction.locator("li:not(.muted)").all_inner_texts()]
        assert factors and all(re.search(r"[a-z]{3}", f) for f in factors), factors
        rule = w.page.locator("#breakdown-table td.mono", has_text="predictive:propensity")
        assert rule.count() == 1
        assert w.problems == []
    finally:
        w.close()
