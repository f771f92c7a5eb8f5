"""Lead links in the dashboard hold any lead id (`/`, `?`, `#`, `%`, spaces, other scripts): the
queue links to the lead's page, the page opens, and an action posted from it lands on that lead."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from urllib.parse import quote

from leadscore.app.service import LeadService
from leadscore.domain import Event, Lead
from tests.dashboard.test_routes import signed_in

ODD = ["acme.com/jane?x=1#top", "50% off & more", "Zoë/東京/actions"]


def test_queue_links_open_the_lead_and_actions_land_on_it(hand_store: LeadService) -> None:
    when = datetime(2026, 5, 31, tzinfo=UTC)
    hand_store.ingest_leads([Lead.of(lead_id, employees=150, source="paid") for lead_id in ODD])
    hand_store.ingest_events([Event.of(lead_id, "demo_request", when) for lead_id in ODD])
    client, csrf, _ = signed_in(hand_store, "write")
    queue = client.get("/app/queue?size=100").text
    links = {html.unescape(h) for h in re.findall(r'class="lead-link" href="([^"]+)"', queue)}
    for lead_id in ODD:
        (link,) = [h for h in links if h == "/app/leads/" + quote(lead_id, safe="")]
        page = client.get(link)
        assert page.status_code == 200, (lead_id, link)
        assert html.escape(lead_id) in page.text
        action = re.search(r'<form method="post" action="([^"]+)" class="act-form"', page.text)
        assert action is not None
        done = client.post(
            html.unescape(action.group(1)),
            data={"action": "accepted", "reason": "fits", "csrf": csrf},
            follow_redirects=False,
        )
        assert done.status_code == 303
        assert client.get(done.headers["location"]).status_code == 200
        assert [e.type for e in hand_store.export(lead_id).events].count("sales_accepted") == 1
