"""Destination configuration: what the workspace holds for each webhook target."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from leadscore.webhooks import Destination, WebhookConfigError, generate_secret, load_destinations


def test_defaults_and_secret_hidden_from_repr() -> None:
    secret = generate_secret()
    dest = Destination(name="crm", url="https://crm.example.com/hooks", secret=secret)
    assert (dest.max_attempts, dest.timeout_s) == (8, 10.0)
    assert secret not in repr(dest) and secret not in str(dest.model_dump())
    assert dest.signing_secrets() == [secret]


def test_load_destinations_names_every_bad_field() -> None:
    good = {"name": "crm", "url": "https://crm.example.com/hooks", "secret": generate_secret()}
    bad = [
        good,
        {"name": "chat", "url": "ftp://chat.example.com", "secret": "whsec_c2hvcnQ="},
        {"name": "crm", "url": "http://x.example.com", "secret": generate_secret(), "retries": 3},
    ]
    with pytest.raises(WebhookConfigError) as err:
        load_destinations(bad)
    text = str(err.value)
    assert "destinations[1].url: expected an http:// or https:// URL" in text
    assert "destinations[1].secret: a webhook secret must hold 24 to 64 bytes, this one holds 5" in text
    assert "destinations[2].retries" in text
    assert "destinations[2].name: duplicate destination 'crm'" not in text  # invalid entries are not counted

    dup = [good, {**good, "url": "https://other.example.com"}]
    with pytest.raises(WebhookConfigError, match=r"destinations\[1\].name: duplicate destination 'crm'"):
        load_destinations(dup)
    assert list(load_destinations([good])) == ["crm"]


def test_backoff_cap_below_base_is_refused() -> None:
    with pytest.raises(ValidationError, match="backoff_cap_s"):
        Destination(
            name="crm", url="http://h.example.com", secret=generate_secret(), backoff_base_s=60, backoff_cap_s=5
        )
