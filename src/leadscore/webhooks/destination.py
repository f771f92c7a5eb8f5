"""Where trigger firings go: named webhook destinations, configured in the workspace (not the model).

The model names a destination (`destination: crm`); the workspace maps that name to a URL and a
signing secret, so the same model file can be shared without sharing secrets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from leadscore.webhooks.errors import WebhookConfigError
from leadscore.webhooks.signing import MAX_SECRET_BYTES, MIN_SECRET_BYTES, secret_bytes


def _check_secret(value: SecretStr) -> SecretStr:
    key = secret_bytes(value.get_secret_value())
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ValueError(
            f"a webhook secret must hold {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes, this one holds {len(key)}"
            " (make one with `generate_secret()`)"
        )
    return value


class Destination(BaseModel):
    """One webhook endpoint. The retry schedule is `backoff_base_s * backoff_factor ** (n - 1)`
    seconds after the n-th failed attempt, at most `backoff_cap_s`, minus up to `jitter` of it.

    With the defaults: about 30 s, 1.5 min, 4.5 min, 13.5 min, 40 min, 2 h, 6 h, so eight attempts
    span about nine hours before the message is dead-lettered.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    url: str
    secret: SecretStr
    previous_secrets: tuple[SecretStr, ...] = Field(
        default=(), description="still signed with during a secret rotation, so receivers can switch at their pace"
    )
    max_attempts: int = Field(default=8, ge=1, le=100)
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    backoff_base_s: float = Field(default=30.0, gt=0)
    backoff_factor: float = Field(default=3.0, ge=1)
    backoff_cap_s: float = Field(default=6 * 3600.0, gt=0)
    jitter: float = Field(default=0.2, ge=0, lt=1)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        text = value.strip()
        scheme, sep, rest = text.partition("://")
        if not sep or scheme.lower() not in ("http", "https") or not rest or rest.startswith("/"):
            raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
        return text

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        return _check_secret(value)

    @field_validator("previous_secrets")
    @classmethod
    def _previous(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        return tuple(_check_secret(v) for v in value)

    @model_validator(mode="after")
    def _cap_above_base(self) -> Destination:
        if self.backoff_cap_s < self.backoff_base_s:
            raise ValueError(f"backoff_cap_s ({self.backoff_cap_s}) is below backoff_base_s ({self.backoff_base_s})")
        return self

    def signing_secrets(self) -> list[str]:
        return [self.secret.get_secret_value(), *(s.get_secret_value() for s in self.previous_secrets)]


def load_destinations(items: Iterable[Mapping[str, Any]], source: str = "destinations") -> dict[str, Destination]:
    """Destinations by name from plain config data, with errors naming the entry and field.

    Raises WebhookConfigError listing every problem (`destinations[1].secret: ...`).
    """
    found: dict[str, Destination] = {}
    problems: list[str] = []
    for i, item in enumerate(items):
        try:
            dest = Destination.model_validate(item)
        except ValidationError as exc:
            for err in exc.errors():
                where = ".".join(str(p) for p in err["loc"])
                problems.append(f"{source}[{i}]{'.' + where if where else ''}: {_message(err['msg'])}")
            continue
        if dest.name in found:
            problems.append(f"{source}[{i}].name: duplicate destination {dest.name!r}")
        found[dest.name] = dest
    if problems:
        raise WebhookConfigError("; ".join(problems))
    return found


def _message(text: str) -> str:
    return text.removeprefix("Value error, ")
