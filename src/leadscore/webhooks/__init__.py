"""Webhook delivery of trigger firings: Standard Webhooks signatures, an outbox, retries, dead letters.

Typical use: detect firings (`leadscore.triggers.firings.detect_triggers`), turn them into outbox
messages (`messages_for`) in the same transaction as the change, and run
`WebhookDispatcher.deliver_due()` periodically.
"""

from leadscore.webhooks.backoff import backoff_delay, parse_retry_after
from leadscore.webhooks.destination import Destination, load_destinations
from leadscore.webhooks.dispatcher import DeliveryReport, WebhookDispatcher
from leadscore.webhooks.errors import WebhookConfigError, WebhookError, WebhookVerificationError
from leadscore.webhooks.memory import MemoryOutbox
from leadscore.webhooks.outbox import DeliveryAttempt, OutboxMessage, OutboxRepository, canonical_body, messages_for
from leadscore.webhooks.signing import generate_secret, secret_bytes, sign, signature_headers, verify

__all__ = [
    "DeliveryAttempt",
    "DeliveryReport",
    "Destination",
    "MemoryOutbox",
    "OutboxMessage",
    "OutboxRepository",
    "WebhookConfigError",
    "WebhookDispatcher",
    "WebhookError",
    "WebhookVerificationError",
    "backoff_delay",
    "canonical_body",
    "generate_secret",
    "load_destinations",
    "messages_for",
    "parse_retry_after",
    "secret_bytes",
    "sign",
    "signature_headers",
    "verify",
]
