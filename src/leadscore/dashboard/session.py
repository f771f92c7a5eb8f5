"""The dashboard's session: an API key exchanged for a signed, HttpOnly, SameSite cookie, and CSRF.

The cookie holds the key's id, a CSRF token and when it was issued, signed with itsdangerous (never
the key itself). Every request checks that the key still exists and is not revoked, so revoking a key
ends its sessions. Every form that changes something carries the CSRF token, compared in constant time.
The login form has its own short-lived signed token (a pre-session cookie), so a foreign page cannot
log a browser in either.
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "ls_session"
LOGIN_COOKIE = "ls_login"
SESSION_MAX_AGE = 12 * 3600
LOGIN_MAX_AGE = 3600
SECRET_ENV = "LEADSCORE_DASHBOARD_SECRET"


@dataclass(frozen=True)
class SessionUser:
    key_id: str
    name: str
    scopes: frozenset[str]
    csrf: str

    def can(self, scope: str) -> bool:
        from leadscore.store.api_keys import GRANTS

        return any(scope in GRANTS.get(s, frozenset()) for s in self.scopes)


class Sessions:
    def __init__(self, secret: str | None = None) -> None:
        # Without a configured secret, sessions last as long as the process (one worker): say so in docs.
        self.secret = secret or os.environ.get(SECRET_ENV) or secrets.token_urlsafe(32)
        self.signer = URLSafeTimedSerializer(self.secret, salt="leadscore-dashboard-session")
        self.login_signer = URLSafeTimedSerializer(self.secret, salt="leadscore-dashboard-login")

    def issue(self, response: Response, request: Request, key_id: str) -> None:
        value = self.signer.dumps({"k": key_id, "c": secrets.token_urlsafe(24)})
        self._set(response, request, COOKIE, value, SESSION_MAX_AGE)
        response.delete_cookie(LOGIN_COOKIE, path="/app")

    def read(self, request: Request) -> dict[str, Any] | None:
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            data = self.signer.loads(raw, max_age=SESSION_MAX_AGE)
        except BadSignature:
            return None
        return data if isinstance(data, dict) and isinstance(data.get("k"), str) else None

    def clear(self, response: Response) -> None:
        response.delete_cookie(COOKIE, path="/app")

    def new_login_token(self) -> tuple[str, str]:
        """The CSRF token of the login form, and its signed form for the pre-session cookie."""
        token = secrets.token_urlsafe(24)
        return token, self.login_signer.dumps(token)

    def set_login_cookie(self, response: Response, request: Request, signed: str) -> None:
        self._set(response, request, LOGIN_COOKIE, signed, LOGIN_MAX_AGE)

    def check_login_token(self, request: Request, sent: str) -> bool:
        raw = request.cookies.get(LOGIN_COOKIE)
        if not raw or not sent:
            return False
        try:
            expected = self.login_signer.loads(raw, max_age=LOGIN_MAX_AGE)
        except BadSignature:
            return False
        return isinstance(expected, str) and hmac.compare_digest(expected, sent)

    @staticmethod
    def _set(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/app",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )


def csrf_ok(user: SessionUser, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(user.csrf, sent or "")
