"""Standard Webhooks signatures (https://www.standardwebhooks.com), symmetric scheme `v1`.

The signed content is `{webhook-id}.{webhook-timestamp}.{body}` with HMAC-SHA256; the signature
header is a space-separated list of `v1,<base64>` so that a secret can be rotated without downtime
(sign with the new and the old secret for a while). Secrets are shown as `whsec_<base64>`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from leadscore.webhooks.errors import WebhookConfigError, WebhookVerificationError

SECRET_PREFIX = "whsec_"
VERSION = "v1"
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
DEFAULT_TOLERANCE = timedelta(minutes=5)

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"


def generate_secret(nbytes: int = 32) -> str:
    """A fresh random signing secret, `whsec_` + base64 of `nbytes` random bytes."""
    if not MIN_SECRET_BYTES <= nbytes <= MAX_SECRET_BYTES:
        raise WebhookConfigError(f"a secret must have {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes, not {nbytes}")
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(nbytes)).decode("ascii")


def secret_bytes(secret: str | bytes) -> bytes:
    """The key behind a `whsec_<base64>` secret (the prefix is optional, padding may be missing).

    Error messages never repeat the secret: they end up in logs.
    """
    if isinstance(secret, bytes):
        key = secret
    else:
        text = secret.strip()
        if text.startswith(SECRET_PREFIX):
            text = text[len(SECRET_PREFIX) :]
        try:
            key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise WebhookConfigError("a webhook secret must be `whsec_` followed by base64 text") from None
    if not key:
        raise WebhookConfigError("a webhook secret must not be empty")
    return key


def sign(secret: str | bytes, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """The `v1,<base64>` signature of one message at one attempt time (unix seconds)."""
    if not msg_id or "." in msg_id:
        raise ValueError(f"a webhook id must be non-empty and contain no '.': {msg_id!r}")
    data = body.encode("utf-8") if isinstance(body, str) else body
    content = f"{msg_id}.{int(timestamp)}.".encode() + data
    digest = hmac.new(secret_bytes(secret), content, hashlib.sha256).digest()
    return f"{VERSION},{base64.b64encode(digest).decode('ascii')}"


def signature_headers(
    secrets_: Sequence[str | bytes], msg_id: str, timestamp: int, body: bytes | str
) -> dict[str, str]:
    """The three headers of one attempt, signed with every secret given (current one first)."""
    if not secrets_:
        raise WebhookConfigError("at least one secret is needed to sign a webhook")
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(int(timestamp)),
        SIGNATURE_HEADER: " ".join(sign(s, msg_id, timestamp, body) for s in secrets_),
    }


def verify(
    secret: str | bytes,
    body: bytes | str,
    headers: Mapping[str, str],
    *,
    now: datetime | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> str:
    """Check a received webhook; returns its `webhook-id` (the key to deduplicate on).

    Raises WebhookVerificationError when a header is missing, the timestamp is outside
    `tolerance` of `now` (replay protection) or no `v1` signature matches.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id = lower.get(ID_HEADER)
    stamp = lower.get(TIMESTAMP_HEADER)
    signatures = lower.get(SIGNATURE_HEADER)
    missing = [h for h, v in ((ID_HEADER, msg_id), (TIMESTAMP_HEADER, stamp), (SIGNATURE_HEADER, signatures)) if not v]
    if missing:
        raise WebhookVerificationError(f"missing header(s): {', '.join(missing)}")
    assert msg_id is not None and stamp is not None and signatures is not None
    try:
        timestamp = int(stamp.strip())
    except ValueError:
        raise WebhookVerificationError(f"{TIMESTAMP_HEADER} is not a unix time in seconds: {stamp!r}") from None
    current = (now or datetime.now(UTC)).timestamp()
    if timestamp < current - tolerance.total_seconds():
        raise WebhookVerificationError("message timestamp too old")
    if timestamp > current + tolerance.total_seconds():
        raise WebhookVerificationError("message timestamp too new")
    key = secret_bytes(secret)
    if "." in msg_id:
        raise WebhookVerificationError(f"invalid {ID_HEADER}: {msg_id!r}")
    expected = base64.b64decode(sign(key, msg_id, timestamp, body).split(",", 1)[1])
    for candidate in signatures.split():
        version, _, encoded = candidate.partition(",")
        if version != VERSION:
            continue
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(expected, given):
            return msg_id
    raise WebhookVerificationError("no matching signature")
