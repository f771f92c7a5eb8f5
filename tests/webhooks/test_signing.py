"""Standard Webhooks signing and verification, against the specification's reference vector."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from leadscore.webhooks import (
    WebhookConfigError,
    WebhookVerificationError,
    generate_secret,
    secret_bytes,
    sign,
    signature_headers,
    verify,
)

# The reference vector of the Standard Webhooks libraries (test_sign_function).
REF_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
REF_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
REF_TIMESTAMP = 1614265330
REF_BODY = '{"test": 2432232314}'
REF_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
REF_NOW = datetime.fromtimestamp(REF_TIMESTAMP, UTC)


def ref_headers(**changes: str) -> dict[str, str]:
    headers = {"webhook-id": REF_ID, "webhook-timestamp": str(REF_TIMESTAMP), "webhook-signature": REF_SIGNATURE}
    headers.update(changes)
    return headers


def test_reference_vector() -> None:
    assert sign(REF_SECRET, REF_ID, REF_TIMESTAMP, REF_BODY) == REF_SIGNATURE
    assert sign(REF_SECRET.removeprefix("whsec_"), REF_ID, REF_TIMESTAMP, REF_BODY.encode()) == REF_SIGNATURE


def test_known_answer_computed_with_plain_hmac() -> None:
    secret = generate_secret()
    body = b'{"lead":"c-17","score":46.0}'
    expected = hmac.new(base64.b64decode(secret[6:]), b"trg_1.1700000000." + body, hashlib.sha256).digest()
    assert sign(secret, "trg_1", 1700000000, body) == "v1," + base64.b64encode(expected).decode()


def test_verify_accepts_the_reference_message() -> None:
    assert verify(REF_SECRET, REF_BODY, ref_headers(), now=REF_NOW) == REF_ID
    upper = {k.upper(): v for k, v in ref_headers().items()}  # header names are case-insensitive
    assert verify(REF_SECRET, REF_BODY.encode(), upper, now=REF_NOW + timedelta(minutes=4)) == REF_ID


@pytest.mark.parametrize(
    ("body", "headers", "now", "message"),
    [
        ('{"test": 2432232315}', ref_headers(), REF_NOW, "no matching signature"),
        (REF_BODY, ref_headers(**{"webhook-id": "msg_other"}), REF_NOW, "no matching signature"),
        (REF_BODY, ref_headers(), REF_NOW + timedelta(minutes=5, seconds=1), "too old"),
        (REF_BODY, ref_headers(), REF_NOW - timedelta(minutes=5, seconds=1), "too new"),
        (REF_BODY, ref_headers(**{"webhook-timestamp": "yesterday"}), REF_NOW, "unix time"),
        (REF_BODY, ref_headers(**{"webhook-signature": "v2," + REF_SIGNATURE[3:]}), REF_NOW, "no matching"),
        (REF_BODY, ref_headers(**{"webhook-signature": "v1,not base64!"}), REF_NOW, "no matching"),
        (REF_BODY, {"webhook-id": REF_ID}, REF_NOW, "webhook-timestamp, webhook-signature"),
    ],
    ids=["tampered-body", "other-id", "old", "future", "bad-timestamp", "other-version", "garbage", "missing"],
)
def test_verify_refuses(body: str, headers: dict[str, str], now: datetime, message: str) -> None:
    with pytest.raises(WebhookVerificationError, match=message):
        verify(REF_SECRET, body, headers, now=now)


def test_one_matching_signature_among_several_is_enough() -> None:
    others = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1a,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
    headers = ref_headers(**{"webhook-signature": f"{others} {REF_SIGNATURE}"})
    assert verify(REF_SECRET, REF_BODY, headers, now=REF_NOW) == REF_ID


def test_rotation_signs_with_every_secret() -> None:
    new, old = generate_secret(), REF_SECRET
    headers = signature_headers([new, old], REF_ID, REF_TIMESTAMP, REF_BODY)
    assert headers["webhook-signature"].split()[1] == REF_SIGNATURE
    for secret in (new, old):
        assert verify(secret, REF_BODY, headers, now=REF_NOW) == REF_ID
    with pytest.raises(WebhookVerificationError):
        verify(generate_secret(), REF_BODY, headers, now=REF_NOW)


def test_generated_secrets_are_random_and_well_formed() -> None:
    a, b = generate_secret(), generate_secret()
    assert a != b and a.startswith("whsec_")
    assert len(secret_bytes(a)) == 32
    assert len(secret_bytes(generate_secret(24))) == 24
    with pytest.raises(WebhookConfigError):
        generate_secret(8)


def test_bad_secrets_and_ids_are_refused_without_echoing_the_secret() -> None:
    with pytest.raises(WebhookConfigError, match="base64") as err:
        secret_bytes("whsec_not*base64*at*all")
    assert "not*base64" not in str(err.value)
    with pytest.raises(WebhookConfigError, match="empty"):
        secret_bytes("whsec_")
    with pytest.raises(ValueError, match=r"no '\.'"):
        sign(REF_SECRET, "msg.with.dots", REF_TIMESTAMP, REF_BODY)
