"""Errors of webhook signing, configuration and delivery, each fit to show a user as is."""

from __future__ import annotations


class WebhookError(Exception):
    """Base class: catch this at an edge to report any webhook problem."""


class WebhookVerificationError(WebhookError):
    """An incoming webhook failed verification: missing header, bad timestamp or no matching signature."""


class WebhookConfigError(WebhookError, ValueError):
    """A destination is misconfigured (bad secret, URL or option); the message names the field."""
