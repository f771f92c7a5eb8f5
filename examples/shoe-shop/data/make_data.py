"""Writes leads.csv and events.csv of the shoe-shop example: 30 customers over the year before 2026-06-01.

Deterministic (fixed seed, no clock): running it again gives the same files. Customers follow a few
profiles (loyal fans, regulars, lapsed buyers, newsletter readers, people who unsubscribed or whose
address bounced), so every segment of the model shows up. Run: python examples/shoe-shop/data/make_data.py
"""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
AT = datetime(2026, 6, 1, tzinfo=UTC)
CITIES = ["Amsterdam", "Utrecht", "Rotterdam", "Den Haag", "Eindhoven", "Groningen", "Zwolle", "Leiden"]
PROFILES = ["fan", "fan", "regular", "regular", "regular", "lapsed", "lapsed", "reader", "reader", "gone"]
EVENT_COLUMNS = ["id", "lead_id", "type", "timestamp", "category", "amount", "page_type", "network"]


def main() -> None:
    rng = random.Random(2)
    leads: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []

    def add(lead: str, kind: str, days_ago: float, **props: Any) -> None:
        ts = (AT - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
        events.append({"lead_id": lead, "type": kind, "timestamp": ts, **props})

    def buy(lead: str, days_ago: float) -> None:
        if rng.random() < 0.7:
            add(lead, "purchase", days_ago, category="shoes", amount=rng.choice([59.95, 79.95, 89.0, 119.0, 149.0]))
        else:
            add(lead, "purchase", days_ago, category="accessories", amount=rng.choice([4.95, 7.5, 12.95, 19.95]))

    for n in range(1, 31):
        lid = f"c-{n:02d}"
        profile = PROFILES[(n - 1) % len(PROFILES)]
        joined = rng.randint(200, 365)
        leads.append({"id": lid, "email": f"customer{n}@mail.example", "city": rng.choice(CITIES),
                      "member_since": (AT - timedelta(days=joined)).strftime("%Y-%m-%d"), "profile": profile})
        add(lid, "account_created", joined)
        opens = {"fan": 10, "regular": 5, "lapsed": 1, "reader": 8, "gone": 2}[profile]
        for _ in range(opens):
            add(lid, "newsletter_open", rng.uniform(1, 150))
        if profile == "fan":
            for _ in range(rng.randint(3, 5)):
                buy(lid, rng.uniform(5, 300))
            for _ in range(rng.randint(1, 3)):
                add(lid, "email_click", rng.uniform(1, 90))
            add(lid, "social_share", rng.uniform(1, 60), network=rng.choice(["facebook", "instagram"]))
            add(lid, "facebook_like", rng.uniform(1, 60))
            add(lid, "page_view", rng.uniform(1, 30), page_type="home")
        elif profile == "regular":
            for _ in range(rng.randint(1, 2)):
                buy(lid, rng.uniform(10, 170))
            if rng.random() < 0.6:
                add(lid, "email_click", rng.uniform(1, 150))
            add(lid, "page_view", rng.uniform(1, 60), page_type=rng.choice(["home", "product"]))
        elif profile == "lapsed":
            buy(lid, rng.uniform(200, 340))
        elif profile == "reader":
            add(lid, "email_click", rng.uniform(1, 100))
            if rng.random() < 0.5:
                add(lid, "facebook_like", rng.uniform(1, 100))
        else:  # gone: unsubscribed, or the address bounces
            buy(lid, rng.uniform(250, 360))
            if n % 2:
                add(lid, "unsubscribe", rng.uniform(100, 200))
            else:
                add(lid, "email_bounce", rng.uniform(30, 100))

    events.sort(key=lambda r: (r["timestamp"], r["lead_id"], r["type"]))
    for i, event in enumerate(events, 1):
        event["id"] = f"s-{i:05d}"
    with open(HERE / "leads.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(leads[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(leads)
    with open(HERE / "events.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=EVENT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(events)


if __name__ == "__main__":
    main()
