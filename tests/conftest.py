"""Shared fixtures: the fake identity platform over HTTPS, its tenants and users, and a
``browser`` (a :class:`SignInDriver`) that walks through sign-ins like a user agent.

Nothing is mocked: the API runs in Django's test client, msal talks HTTPS to the fake
identity platform on 127.0.0.1, and the fake signs real RS256 tokens.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sso_api import audit
from sso_api.testing import FakeApp, FakeIdentityPlatform, FakeTenant, FakeUser
from sso_api.testing.certificates import ensure_certificates
from sso_api.testing.client import SignInDriver

# Another project's suite, run in its own process by tests/test_integrator_project.py.
collect_ignore = ["integrator_project"]


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


# The project's own suite builds on the pytest plugin it ships (sso_api.testing.pytest_plugin),
# under the shorter names used throughout these tests.


@pytest.fixture(scope="session")
def identity_platform(sso_identity_platform: FakeIdentityPlatform) -> FakeIdentityPlatform:
    return sso_identity_platform


@pytest.fixture(scope="session")
def contoso(sso_tenant: FakeTenant) -> FakeTenant:
    return sso_tenant


@pytest.fixture(scope="session")
def fabrikam(sso_make_tenant: Callable[..., FakeTenant]) -> FakeTenant:
    return sso_make_tenant("Fabrikam", domain="fabrikam.example")


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
def entra_app(sso_app: FakeApp) -> FakeApp:
    return sso_app


@pytest.fixture
def sso(sso_settings: Any) -> Any:
    """The plugin's settings for an app registered for Contoso, plus what these tests use."""
    sso_settings.MICROSOFT_SSO_HTTP_TIMEOUT = 2.0
    sso_settings.MICROSOFT_SSO_ALLOWED_REDIRECT_URLS = ["https://spa.example.com", "myapp://auth"]
    sso_settings.MICROSOFT_SSO_LOGIN_FAILED_URL = "/login-failed/"
    return sso_settings


@pytest.fixture
def multi_tenant(sso: Any, identity_platform: FakeIdentityPlatform) -> Any:
    """The same app, registered for every organization (``organizations`` authority)."""
    sso.MICROSOFT_SSO_TENANT_ID = "organizations"
    sso.MICROSOFT_SSO_AUTHORITY = identity_platform.authority("organizations")
    return sso


@pytest.fixture
def browser(sso: Any, identity_platform: FakeIdentityPlatform) -> SignInDriver:
    return SignInDriver(identity_platform)


@pytest.fixture
def exposed_api(entra_app: FakeApp, identity_platform: FakeIdentityPlatform, sso: Any) -> FakeApp:
    """This API's registration (the one it signs users in with) exposing ``access_as_user``
    in v2.0 access tokens, with the email optional claims, as apps using MSAL call it."""
    identity_platform.expose_api(
        entra_app, access_token_version=2, optional_claims=("idtyp", "email", "xms_edov")
    )
    return entra_app


@pytest.fixture
def mobile_app(identity_platform: FakeIdentityPlatform) -> FakeApp:
    """A public client (a mobile app with MSAL) calling the API."""
    return identity_platform.register_app(redirect_uris=["myapp://auth"], public_client=True)


@pytest.fixture
def ended() -> Iterator[list[dict[str, Any]]]:
    """The ``session_revoked`` audit events sent during the test."""
    received: list[dict[str, Any]] = []

    def receiver(sender: str, **fields: Any) -> None:
        received.append(fields)

    audit.session_revoked.connect(receiver, weak=False)
    yield received
    audit.session_revoked.disconnect(receiver)
