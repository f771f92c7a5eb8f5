"""The tracker identifies a visitor from a tracking link (`?ls_id=<lead id>`, or the site's own
parameter name) in a real browser: the parameter leaves the address bar at once, the anonymous
history lands on the existing lead, its attributes stay as they were, a link naming no lead creates
none, and `data-identify-param="off"` leaves the page's parameters alone."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.api.conftest import Live
from tests.api.test_tracker_browser import (  # noqa: F401 (fixtures)
    PAGE,
    browser,
    eventually,
    export,
    intake_key,
    site_a,
    site_b,
    site_root,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def link_pages(site_root: Path, live: Live, intake_key: str) -> Path:  # noqa: F811
    for name, extra in (
        ("landing.html", ""),
        ("mautic.html", 'data-identify-param="mtc_id"'),
        ("off.html", 'data-identify-param="off"'),
    ):
        (site_root / name).write_text(PAGE.format(title="Spring offer", api=live.url, key=intake_key, extra=extra))
    return site_root


def _put(live: Live, lead: str, **attributes: Any) -> None:
    with live.client("write") as client:
        assert client.put(f"/v1/leads/{quote(lead, safe='')}", json={"attributes": attributes}).status_code == 200


def test_a_tracking_link_moves_the_anonymous_history_onto_the_lead(
    live: Live,
    browser: Any,  # noqa: F811
    link_pages: Path,
    site_a: str,  # noqa: F811
) -> None:
    _put(live, "mailed/jane@example.com", plan="free", company="Initech")
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{site_a}/landing.html")  # an anonymous visit first
    vid = page.evaluate("window.leadscore.visitorId()")
    assert eventually(lambda: export(live, f"anon:{vid}") is not None)

    link = f"{site_a}/landing.html?utm_campaign=spring&ls_id={quote('mailed/jane@example.com', safe='')}#offer"
    page.goto(link)
    assert page.url == f"{site_a}/landing.html?utm_campaign=spring#offer"  # the id left the address bar
    assert page.evaluate("history.length") >= 2 and "ls_id" not in page.evaluate("location.href")
    assert page.evaluate("window.leadscore.visitorId()") == vid
    assert page.evaluate("localStorage.getItem('ls_uid')") is None  # the link names no user of this browser

    def landed() -> bool:
        found = export(live, quote("mailed/jane@example.com", safe=""))
        return found is not None and sum(e["type"] == "page_view" for e in found["events"]) == 2

    assert eventually(landed)
    lead = export(live, quote("mailed/jane@example.com", safe=""))
    assert lead is not None
    assert lead["lead"]["attributes"] == {"plan": "free", "company": "Initech"}  # a link writes no attribute
    views = [e for e in lead["events"] if e["type"] == "page_view"]
    assert all(e["received_lead_id"] == f"anon:{vid}" for e in views)
    assert all("ls_id" not in (e["properties"].get("url") or "") for e in views)
    assert any(e["properties"].get("utm_campaign") == "spring" for e in views)
    # later anonymous behaviour of this browser follows the lead
    page.evaluate("window.leadscore.track('Demo Requested'); window.leadscore.flush()")
    assert eventually(
        lambda: any(
            e["type"] == "demo_requested"
            for e in (export(live, quote("mailed/jane@example.com", safe="")) or {"events": []})["events"]
        )
    )
    context.close()


def test_a_link_for_no_lead_creates_none_and_the_site_parameter_name_works(
    live: Live,
    browser: Any,  # noqa: F811
    link_pages: Path,
    site_a: str,  # noqa: F811
) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{site_a}/landing.html?ls_id=nobody-{time.time_ns()}")
    vid = page.evaluate("window.leadscore.visitorId()")
    assert "ls_id" not in page.url
    assert eventually(lambda: export(live, f"anon:{vid}") is not None)  # the page view is kept
    time.sleep(1.0)
    visitor = export(live, f"anon:{vid}")
    assert visitor is not None and visitor["lead"]["id"] == f"anon:{vid}"  # still anonymous

    _put(live, "crm-4711", plan="pro")
    page.goto(f"{site_a}/mautic.html?mtc_id=crm-4711&ls_id=ignored")
    assert page.url == f"{site_a}/mautic.html?ls_id=ignored"  # only the configured parameter is read
    assert eventually(lambda: any(e["received_lead_id"] == f"anon:{vid}" for e in export(live, "crm-4711")["events"]))  # type: ignore[index]
    context.close()


def test_identify_param_off_leaves_the_url_and_the_visitor_alone(
    live: Live,
    browser: Any,  # noqa: F811
    link_pages: Path,
    site_a: str,  # noqa: F811
) -> None:
    _put(live, "off-lead")
    context = browser.new_context()
    page = context.new_page()
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.post_data or "") if "/v1/t" in r.url else None)
    page.goto(f"{site_a}/off.html?ls_id=off-lead")
    vid = page.evaluate("window.leadscore.visitorId()")
    assert page.url.endswith("?ls_id=off-lead")
    assert eventually(lambda: export(live, f"anon:{vid}") is not None)
    assert not any('"identify"' in body for body in sent)
    lead = export(live, "off-lead")
    assert lead is not None and lead["events"] == []
    context.close()
