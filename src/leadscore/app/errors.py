"""What the service refuses, as a small hierarchy each edge maps on its own terms.

The CLI prints the message and exits with code 2; the HTTP API maps each class to a status code
(NotFound 404, InvalidInput 422, Conflict 409, Busy 429, NotMigrated and NoActiveModel 503).
"""

from __future__ import annotations


class ServiceError(Exception):
    """A request the service cannot carry out as asked; the message says what and why."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field  # the input field at fault, when there is one


class NotFound(ServiceError):
    """No such lead, key, model version or message."""


class InvalidInput(ServiceError):
    """The request names something the model or the store does not know (a stage, an outcome, a scope)."""


class Conflict(ServiceError):
    """The request contradicts the store's state (merging a lead into itself, a revoked key)."""


class NotMigrated(ServiceError):
    """The store is not at the latest schema."""


class NoActiveModel(ServiceError):
    """No model is active and the workspace names none."""


class Busy(ServiceError):
    """The server already holds as many requests of this kind as it allows (waits for current results);
    the same request succeeds later."""
