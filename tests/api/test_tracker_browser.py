"""The tracker in a real browser (headless Chromium): a site on another origin loads /t.js, its page
views arrive under an anonymous visitor id, a form submit identifies the visitor and the anonymous
history lands on the lead; a second allowed origin keeps the visitor; a disallowed origin, Do-Not-Track
and a missing consent store nothing."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import Live
from tests.api.server import free_port

pytestmark = pytest.mark.integration
CHROMIUM = "/usr/bin/chromium"

PAGE = """<!doctype html><html><head><title>{title}</title></head><body>
<form id="signup" action="/thanks.html" method="get">
  <input type="email" name="email"><input type="text" name="company"><input type="password" name="pw">
  <button type="submit">Go</button>
</form>
<script src="{api}/t.js" data-key="{key}" data-endpoint="{api}" {extra}></script>
</body></html>"""


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("site")


def serve_site(root: Path) -> Iterator[str]:
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def site_a(site_root: Path) -> Iterator[str]:
    yield from serve_site(site_root)


@pytest.fixture(scope="module")
def site_b(site_root: Path) -> Iterator[str]:
    yield from serve_site(site_root)


@pytest.fixture(scope="module")
def site_evil(site_root: Path) -> Iterator[str]:
    yield from serve_site(site_root)


@pytest.fixture(scope="module")
def intake_key(live: Live, site_a: str, site_b: str) -> str:
    with live.client("admin") as admin:
        made = admin.post("/v1/keys", json={"name": "site", "scopes": ["intake"], "origins": [site_a, site_b]})
    assert made.status_code == 201, made.text
    token: str = made.json()["token"]
    return token


@pytest.fixture(scope="module")
def pages(site_root: Path, live: Live, intake_key: str) -> Path:
    for name, extra in (("index.html", ""), ("consent.html", 'data-consent="required"')):
        text = PAGE.format(title="Pricing | Initech", api=live.url, key=intake_key, extra=extra)
        (site_root / name).write_text(text)
    (site_root / "thanks.html").write_text("<!doctype html><title>Thanks</title><p>Thanks")
    return site_root


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def export(live: Live, lead: str) -> dict[str, Any] | None:
    with live.client("admin") as admin:
        response = admin.get(f"/v1/leads/{lead}/export")
    return response.json() if response.status_code == 200 else None


def test_page_views_then_form_identify_move_the_history_onto_the_lead(
    live: Live, browser: Any, pages: Path, site_a: str, site_b: str
) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{site_a}/index.html?utm_source=newsletter&utm_medium=email&utm_campaign=spring")
    vid = page.evaluate("window.leadscore.visitorId()")
    assert vid and page.evaluate("localStorage.getItem('ls_vid')") == vid
    assert eventually(lambda: export(live, f"anon:{vid}") is not None)
    (view,) = export(live, f"anon:{vid}")["events"]  # type: ignore[index]
    assert view["type"] == "page_view"
    props = view["properties"]
    assert props["path"] == "/index.html" and props["title"] == "Pricing | Initech"
    assert props["utm_campaign"] == "spring" and props["channel"] == "email"

    page.fill("input[name=email]", "Jane@Example.com")
    page.fill("input[name=company]", "Initech")
    page.fill("input[name=pw]", "secret")
    page.click("button[type=submit]")
    page.wait_for_url("**/thanks.html**")
    assert eventually(lambda: (export(live, "jane@example.com") or {}).get("events") is not None)
    lead = export(live, "jane@example.com")
    assert lead is not None
    assert lead["lead"]["attributes"]["company"] == "Initech" and "pw" not in lead["lead"]["attributes"]
    moved = [e for e in lead["events"] if e["received_lead_id"] == f"anon:{vid}"]
    assert {e["type"] for e in moved} >= {"page_view", "form_submitted"}
    assert export(live, f"anon:{vid}") is None  # the visitor is now an alias of the lead

    # The same browser on the company's other site (linked with ?_lsvid=): the visitor follows.
    before = len(lead["events"])
    other = context.new_page()
    other.goto(f"{site_b}/index.html?_lsvid={vid}")
    assert other.evaluate("window.leadscore.visitorId()") == vid
    assert eventually(lambda: len((export(live, "jane@example.com") or {"events": []})["events"]) > before)
    context.close()


def test_a_disallowed_origin_is_refused_and_nothing_is_stored(
    live: Live, browser: Any, pages: Path, site_evil: str, intake_key: str
) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{site_evil}/index.html")
    vid = page.evaluate("window.leadscore.visitorId()")
    status = page.evaluate(
        """async (url) => { try { const r = await fetch(url, {method: 'POST', body: '{"batch": []}'});
             return r.status; } catch (e) { return 'blocked'; } }""",
        f"{live.url}/v1/t?key={intake_key}",
    )
    assert status == "blocked"  # no CORS permission for this origin
    page.evaluate("window.leadscore.flush()")
    time.sleep(2.0)
    assert export(live, f"anon:{vid}") is None
    refused = httpx.post(
        f"{live.url}/v1/t?key={intake_key}",
        content='{"batch": [{"type": "page", "anonymousId": "x"}]}',
        headers={"Origin": site_evil},
    )
    assert refused.status_code == 403
    context.close()


def test_do_not_track_and_missing_consent_send_and_store_nothing(
    live: Live, browser: Any, pages: Path, site_a: str
) -> None:
    for path, init in (
        ("index.html", "Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'});"),
        ("consent.html", ""),
    ):
        context = browser.new_context()
        if init:
            context.add_init_script(init)
        page = context.new_page()
        sent: list[str] = []
        page.on("request", lambda r, sent=sent: sent.append(r.url) if "/v1/t" in r.url else None)
        page.goto(f"{site_a}/{path}")
        page.evaluate("window.leadscore.track('demo_request'); window.leadscore.flush()")
        time.sleep(1.5)
        assert sent == []
        assert page.evaluate("window.leadscore.visitorId()") is None
        assert page.evaluate("localStorage.getItem('ls_vid')") is None
        assert "ls_vid" not in page.evaluate("document.cookie")
        if path == "consent.html":  # consent given: the page view goes out
            page.evaluate("window.leadscore.consent(true)")
            vid = page.evaluate("window.leadscore.visitorId()")
            assert vid
            assert eventually(lambda vid=vid: export(live, f"anon:{vid}") is not None)
        context.close()


def test_server_side_identify_with_the_trackers_visitor_id(live: Live, browser: Any, pages: Path, site_a: str) -> None:
    """The site's back end reads the tracker's first-party id and identifies the visitor itself."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{site_a}/index.html")
    vid = page.evaluate("window.leadscore.visitorId()")
    assert eventually(lambda: export(live, f"anon:{vid}") is not None)
    cookie = {c["name"]: c["value"] for c in context.cookies()}["ls_vid"]
    assert cookie == vid
    with live.client("write") as backend:
        call = {"type": "identify", "userId": "crm-777", "anonymousId": cookie, "traits": {"plan": "pro"}}
        assert backend.post("/v1/segment/identify", json=call).status_code == 200
    lead = export(live, "crm-777")
    assert lead is not None and any(e["type"] == "page_view" for e in lead["events"])
    context.close()


def test_two_people_on_one_browser_are_never_merged(live: Live, browser: Any, pages: Path, site_a: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{site_a}/index.html")
    page.evaluate("window.leadscore.identify('first@example.com'); window.leadscore.flush()")
    first_vid = page.evaluate("window.leadscore.visitorId()")
    page.evaluate("window.leadscore.identify('second@example.com'); window.leadscore.flush()")
    second_vid = page.evaluate("window.leadscore.visitorId()")
    assert second_vid != first_vid  # a new visitor id for the second person
    assert eventually(lambda: export(live, "second@example.com") is not None)
    assert eventually(lambda: export(live, "first@example.com") is not None)
    first = export(live, "first@example.com")
    second = export(live, "second@example.com")
    assert first is not None and second is not None
    assert all(e["received_lead_id"] != f"anon:{first_vid}" for e in second["events"])
    assert any(e["received_lead_id"] == f"anon:{first_vid}" for e in first["events"])
    context.close()


def test_the_docs_page_renders_offline(live: Live, browser: Any) -> None:
    """/docs draws the reference with no request leaving 127.0.0.1."""
    context = browser.new_context()
    page = context.new_page()
    outside: list[str] = []

    def only_local(route: Any) -> None:
        if route.request.url.startswith(live.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(f"{live.url}/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    assert page.locator(".opblock").count() > 25  # every operation drawn
    assert "leadscore" in page.inner_text(".info")
    assert outside == []
    context.close()


def test_the_demo_page_tracks_and_identifies(live: Live, browser: Any) -> None:
    with live.client("admin") as admin:
        made = admin.post("/v1/keys", json={"name": "demo", "scopes": ["intake"], "origins": [live.url]})
    key = made.json()["token"]
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live.url}/demo/tracker?key={key}")
    vid = page.inner_text("#vid")
    page.click("#demo")
    page.evaluate("window.leadscore.flush()")
    assert eventually(
        lambda: any(e["type"] == "demo_request" for e in (export(live, f"anon:{vid}") or {"events": []})["events"])
    )
    page.fill("input[name=email]", "demo@example.com")
    page.fill("input[name=employees]", "250")
    page.click("#signup button[type=submit]")
    assert eventually(lambda: export(live, "demo@example.com") is not None)
    lead = export(live, "demo@example.com")
    assert lead is not None and {"demo_request", "page_view"} <= {e["type"] for e in lead["events"]}
    assert lead["lead"]["attributes"]["employees"] == 250  # a number field is sent as a number
    assert "demo_request" in page.inner_text("#log")
    context.close()
