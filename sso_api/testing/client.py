"""A user agent for tests: the API through Django's test client, Microsoft over HTTPS.

``SignInDriver`` walks through a sign-in the way a browser and a single-page app do
together: it makes a PKCE pair, calls ``/start/``, lets the fake identity platform answer
as the chosen user, delivers that answer to the callback (GET or POST, as Microsoft
would), and redeems the ``sso_code``. Each step is a method, so a test can stop anywhere,
tamper, or replay.

Needs Django (it uses ``django.test.Client``) and an API mounted at ``api_prefix``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from django.http import HttpResponse
from django.test import Client

from sso_api.testing.browser import AuthorizationResponse
from sso_api.testing.directory import FakeUser
from sso_api.testing.identity_platform import FakeIdentityPlatform

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Pkce:
    """A PKCE verifier and its S256 challenge, as a client makes them."""

    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode())


@dataclass
class SignInAttempt:
    """Where the callback sent the browser, and the PKCE pair the client holds."""

    callback: HttpResponse
    pkce: Pkce

    @property
    def location(self) -> str:
        return str(self.callback["Location"])

    @property
    def query(self) -> dict[str, str]:
        """The query parameters of the redirect target (``sso_code`` or ``sso_error``...)."""
        return {key: values[0] for key, values in parse_qs(urlsplit(self.location).query).items()}

    @property
    def sso_code(self) -> str | None:
        """The one-time ``sso_code``, or None when the sign-in failed (see :attr:`error`)."""
        return self.query.get("sso_code")

    @property
    def error(self) -> str | None:
        """The ``sso_error`` code, or None when the sign-in succeeded."""
        return self.query.get("sso_error")


class SignInDriver:
    """Drives sign-ins against the API at ``api_prefix`` and the fake ``platform``."""

    def __init__(self, platform: FakeIdentityPlatform, api_prefix: str = "/api/sso/") -> None:
        self.platform = platform
        self.api_prefix = api_prefix
        self.client = Client()

    def start(self, *, pkce: Pkce | None = None, **params: Any) -> Any:
        """POST ``/start/`` with a PKCE challenge (a new one unless given) and ``params``."""
        pkce = pkce or Pkce.new()
        body = {"code_challenge": pkce.challenge, "code_challenge_method": "S256", **params}
        return self.client.post(f"{self.api_prefix}start/", body, content_type="application/json")

    def deliver(self, answer: AuthorizationResponse, **extra: Any) -> HttpResponse:
        """Deliver Microsoft's answer to the callback as the browser would."""
        target = urlsplit(answer.url if answer.method == "GET" else answer.redirect_uri)
        secure = target.scheme == "https"
        if answer.method == "GET":
            path = f"{target.path}?{target.query}" if target.query else target.path
            return self.client.get(path, secure=secure, **extra)  # type: ignore[return-value]
        # A browser submits Microsoft's form_post page urlencoded.
        body = urlencode(answer.params)
        return self.client.post(  # type: ignore[return-value]
            target.path, body, content_type=FORM_CONTENT_TYPE, secure=secure, **extra
        )

    def sign_in(self, user: FakeUser, *, next: str = "/app/", **params: Any) -> SignInAttempt:
        """Start, sign in at the fake platform as ``user``, and come back to the callback."""
        pkce = Pkce.new()
        started = self.start(pkce=pkce, next=next, **params)
        assert started.status_code == 200, started.content
        answer = self.platform.authorize(started.json()["authorization_url"], user=user)
        return SignInAttempt(callback=self.deliver(answer), pkce=pkce)

    def redeem(self, sso_code: str | None, code_verifier: str | None) -> Any:
        """POST ``/token/`` with the code and the verifier, each left out when None."""
        body = {"sso_code": sso_code, "code_verifier": code_verifier}
        return self.client.post(
            f"{self.api_prefix}token/",
            {name: value for name, value in body.items() if value is not None},
            content_type="application/json",
        )

    def signed_in(self, user: FakeUser, **params: Any) -> dict[str, Any]:
        """A whole sign-in; returns the JSON of ``/token/`` (tokens and user).

        Raises ``AssertionError`` naming the ``sso_error`` or the ``/token/`` answer when
        the sign-in does not succeed.
        """
        attempt = self.sign_in(user, **params)
        assert attempt.sso_code is not None, f"sign-in failed: sso_error={attempt.error}"
        response = self.redeem(attempt.sso_code, attempt.pkce.verifier)
        assert response.status_code == 200, response.content
        return dict(response.json())
