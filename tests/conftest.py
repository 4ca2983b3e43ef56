"""Shared fixtures: the fake identity platform over HTTPS, its tenants and users, and a
``browser`` that walks through sign-ins the way a user agent does.

Nothing is mocked: the API runs in Django's test client, msal talks HTTPS to the fake
identity platform on 127.0.0.1, and the fake signs real RS256 tokens.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.http import HttpResponse
from django.test import Client

from sso_api.entra.client import clear_clients
from sso_api.testing import (
    AuthorizationResponse,
    FakeApp,
    FakeIdentityPlatform,
    FakeTenant,
    FakeUser,
)
from sso_api.testing.certificates import ensure_certificates

CALLBACK_URL = "http://testserver/api/sso/callback/"


@pytest.fixture(scope="session", autouse=True)
def unrelated_ca_bundle_in_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Export REQUESTS_CA_BUNDLE pointing at a CA that does not know the fake platform.

    CI machines often export it; requests then silently prefers it over a session's
    ``verify``. Every test in this suite runs with it set, so every sign-in proves that
    ``MICROSOFT_SSO_CA_BUNDLE`` really is what verifies the authority.
    """
    unrelated = ensure_certificates(tmp_path_factory.mktemp("unrelated-ca"))
    saved = {name: os.environ.get(name) for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    os.environ["REQUESTS_CA_BUNDLE"] = str(unrelated.ca_certificate)
    os.environ["CURL_CA_BUNDLE"] = str(unrelated.ca_certificate)
    yield str(unrelated.ca_certificate)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def identity_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeIdentityPlatform]:
    with FakeIdentityPlatform(certificate_dir=tmp_path_factory.mktemp("platform")) as platform:
        yield platform


@pytest.fixture(scope="session")
def contoso(identity_platform: FakeIdentityPlatform) -> FakeTenant:
    return identity_platform.add_tenant(name="Contoso", domain="contoso.example")


@pytest.fixture(scope="session")
def fabrikam(identity_platform: FakeIdentityPlatform) -> FakeTenant:
    return identity_platform.add_tenant(name="Fabrikam", domain="fabrikam.example")


@pytest.fixture(scope="session")
def ada(identity_platform: FakeIdentityPlatform, contoso: FakeTenant) -> FakeUser:
    """A Contoso member whose email Microsoft marks as verified."""
    return identity_platform.add_user(
        contoso,
        name="Ada Lovelace",
        given_name="Ada",
        family_name="Lovelace",
        email="ada@contoso.example",
        email_verified=True,
    )


@pytest.fixture(scope="session")
def grace(identity_platform: FakeIdentityPlatform, contoso: FakeTenant) -> FakeUser:
    """A Contoso member whose token carries no xms_edov claim."""
    return identity_platform.add_user(
        contoso, name="Grace Hopper", email="grace@contoso.example", email_verified=None
    )


@pytest.fixture
def entra_app(identity_platform: FakeIdentityPlatform) -> FakeApp:
    return identity_platform.register_app(
        redirect_uris=[CALLBACK_URL, "https://testserver/api/sso/callback/"],
        front_channel_logout_url="https://testserver/api/sso/logout/frontchannel/",
    )


@pytest.fixture
def sso(
    settings: Any,
    identity_platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    entra_app: FakeApp,
) -> Iterator[Any]:
    """Point sso_api at the fake platform as an app registered for Contoso only."""
    identity_platform.reset_faults()
    settings.MICROSOFT_SSO_APPLICATION_ID = entra_app.client_id
    settings.MICROSOFT_SSO_CLIENT_SECRET = entra_app.client_secret
    settings.MICROSOFT_SSO_TENANT_ID = contoso.tenant_id
    settings.MICROSOFT_SSO_AUTHORITY = identity_platform.authority(contoso)
    settings.MICROSOFT_SSO_CA_BUNDLE = identity_platform.ca_bundle
    settings.MICROSOFT_SSO_HTTP_TIMEOUT = 2.0
    settings.MICROSOFT_SSO_ALLOWABLE_DOMAINS = ["*"]
    settings.MICROSOFT_SSO_ALLOWED_REDIRECT_URLS = ["https://spa.example.com", "myapp://auth"]
    settings.MICROSOFT_SSO_LOGIN_FAILED_URL = "/login-failed/"
    yield settings
    identity_platform.reset_faults()
    clear_clients()


@pytest.fixture
def multi_tenant(sso: Any, identity_platform: FakeIdentityPlatform) -> Any:
    """The same app, registered for every organization (``organizations`` authority)."""
    sso.MICROSOFT_SSO_TENANT_ID = "organizations"
    sso.MICROSOFT_SSO_AUTHORITY = identity_platform.authority("organizations")
    return sso


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode())


@dataclass
class SignInAttempt:
    """What the browser saw: where the callback sent it, and the PKCE pair it holds."""

    callback: HttpResponse
    pkce: Pkce

    @property
    def location(self) -> str:
        return str(self.callback["Location"])

    @property
    def query(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(urlsplit(self.location).query).items()}

    @property
    def sso_code(self) -> str:
        assert "sso_code" in self.query, f"no sso_code in {self.location}"
        return self.query["sso_code"]

    @property
    def error(self) -> str | None:
        return self.query.get("sso_error")


class Browser:
    """A user agent: the API through Django's test client, Microsoft over real HTTPS."""

    def __init__(self, platform: FakeIdentityPlatform) -> None:
        self.platform = platform
        self.client = Client()

    def start(self, *, pkce: Pkce | None = None, **params: Any) -> Any:
        pkce = pkce or Pkce.new()
        body = {"code_challenge": pkce.challenge, "code_challenge_method": "S256", **params}
        return self.client.post("/api/sso/start/", body, content_type="application/json")

    def deliver(self, answer: AuthorizationResponse, **extra: Any) -> HttpResponse:
        """Deliver Microsoft's answer to our callback as the browser would."""
        target = urlsplit(answer.url if answer.method == "GET" else answer.redirect_uri)
        secure = target.scheme == "https"
        if answer.method == "GET":
            path = f"{target.path}?{target.query}" if target.query else target.path
            return self.client.get(path, secure=secure, **extra)  # type: ignore[return-value]
        return self.client.post(target.path, answer.params, secure=secure, **extra)  # type: ignore[return-value]

    def sign_in(self, user: FakeUser, *, next: str = "/app/", **params: Any) -> SignInAttempt:
        """Start, sign in at the fake platform as ``user``, and come back to the callback."""
        pkce = Pkce.new()
        started = self.start(pkce=pkce, next=next, **params)
        assert started.status_code == 200, started.content
        answer = self.platform.authorize(started.json()["authorization_url"], user=user)
        return SignInAttempt(callback=self.deliver(answer), pkce=pkce)

    def redeem(self, sso_code: str, code_verifier: str | None) -> Any:
        body = {"sso_code": sso_code}
        if code_verifier is not None:
            body["code_verifier"] = code_verifier
        return self.client.post("/api/sso/token/", body, content_type="application/json")

    def signed_in(self, user: FakeUser, **params: Any) -> dict[str, Any]:
        """A whole sign-in; returns the JSON of ``/token/``."""
        attempt = self.sign_in(user, **params)
        response = self.redeem(attempt.sso_code, attempt.pkce.verifier)
        assert response.status_code == 200, response.content
        return dict(response.json())


@pytest.fixture
def browser(sso: Any, identity_platform: FakeIdentityPlatform) -> Browser:
    return Browser(identity_platform)
