"""pytest fixtures for projects that use sso_api: sign-in tests without Microsoft.

Installed with the package (entry point ``pytest11``), so the fixtures are available in
any test suite that has ``sso_api`` and pytest-django. All of them start with ``sso_``:

``sso_identity_platform``  (session) the fake Microsoft identity platform, over HTTPS
``sso_tenant``             (session) a tenant, "Contoso" (``contoso.example``)
``sso_make_tenant``        (session) factory: ``sso_make_tenant(name, domain=None)``
``sso_make_user``          factory: ``sso_make_user(name=..., email=..., tenant=...,
                           roles=(), groups=(), email_verified=True, guest=False,
                           disabled=False)``; unique defaults for everything; ``groups``
                           are ``FakeGroup`` objects or group object ids
``sso_make_group``         factory: ``sso_make_group(name=..., tenant=..., member_of=())``:
                           a security group, nested in the ``member_of`` groups
``sso_app``                an app registration with redirect URIs for the test client
``sso_settings``           the project's settings pointed at the platform as an app
                           registered for ``sso_tenant``, and at its Microsoft Graph
                           (needs pytest-django)
``sso_driver``             a :class:`~sso_api.testing.client.SignInDriver`, step by step
``sso_sign_in``            the whole sign-in in one call: ``sso_sign_in(user)`` returns
                           the JSON of ``/token/`` (``access``, ``refresh``, ``user``)

Access tokens for the project's API: ``sso_identity_platform.expose_api(sso_app)`` makes
the app ``sso_settings`` configures expose an API (``api://<client id>``,
``access_as_user``); ``sso_identity_platform.register_app(public_client=True,
redirect_uris=[...])`` registers a client app that calls it, and
``sso_identity_platform.mint_access_token(user, api=sso_app, client=...)`` and
``mint_app_token`` sign tokens for it without a sign-in. ``sso_app`` is new for every test.

Misbehaviour switches are ``sso_identity_platform.faults``; they are reset after every
test that uses ``sso_settings``, and so are the platform's ``group_overage_limit`` and
``graph_page_size``. The API is expected at ``/api/sso/``; set the ``sso_api_prefix``
ini option (or override the ``sso_api_prefix`` fixture) when it is mounted elsewhere. The
plugin also silences msal's advice to use form_post, so a suite run with
``filterwarnings = error`` passes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pytest

from sso_api.testing.directory import FakeApp, FakeGroup, FakeTenant, FakeUser
from sso_api.testing.identity_platform import FakeIdentityPlatform

if TYPE_CHECKING:
    from sso_api.testing.client import SignInDriver

_numbers = itertools.count(1)


# msal advises form_post on every flow in another response mode, as a UserWarning (msal
# 1.3x, oauth2cli/oauth2.py). Query mode is a supported choice here
# (MICROSOFT_SSO_REQUIRE_SECURE_CALLBACK selects form_post), so the advice is noise, and a
# suite run with ``filterwarnings = error`` would fail on it. sso_api.entra.client silences
# it at import, but pytest restores its own filters around every test.
MSAL_RESPONSE_MODE_ADVICE = r"ignore:response_mode='form_post' is recommended:UserWarning:msal\."


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "sso_api_prefix", "Path where sso_api.urls is mounted (default /api/sso/)", default=""
    )


def pytest_configure(config: pytest.Config) -> None:
    # Appended to the project's own filterwarnings lines: a later line takes precedence,
    # so this one wins over an "error" listed there.
    config.addinivalue_line("filterwarnings", MSAL_RESPONSE_MODE_ADVICE)


@pytest.fixture(scope="session")
def sso_identity_platform(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[FakeIdentityPlatform]:
    """The fake Microsoft identity platform, started once for the session."""
    certificates = tmp_path_factory.mktemp("sso-identity-platform")
    with FakeIdentityPlatform(certificate_dir=certificates) as platform:
        yield platform


@pytest.fixture(scope="session")
def sso_make_tenant(sso_identity_platform: FakeIdentityPlatform) -> Callable[..., FakeTenant]:
    """Create tenants; the domain defaults to a unique ``<name>-<n>.example``."""

    def make_tenant(name: str = "Tenant", domain: str | None = None) -> FakeTenant:
        domain = domain or f"{name.lower().replace(' ', '-')}-{next(_numbers)}.example"
        return sso_identity_platform.add_tenant(name=name, domain=domain)

    return make_tenant


@pytest.fixture(scope="session")
def sso_tenant(sso_make_tenant: Callable[..., FakeTenant]) -> FakeTenant:
    """The tenant ``sso_settings`` registers the app for."""
    return sso_make_tenant("Contoso", domain="contoso.example")


@pytest.fixture
def sso_make_user(
    sso_identity_platform: FakeIdentityPlatform, sso_tenant: FakeTenant
) -> Callable[..., FakeUser]:
    """Create users, in ``sso_tenant`` unless ``tenant`` is given, with a verified email.

    ``roles`` are app role values; ``groups`` the user's direct groups, as
    :class:`FakeGroup` objects (from ``sso_make_group``) or object ids.
    """

    def make_user(
        name: str | None = None,
        *,
        email: str | None = None,
        tenant: FakeTenant | None = None,
        roles: Sequence[str] = (),
        groups: Sequence[FakeGroup | str] = (),
        **options: Any,
    ) -> FakeUser:
        number = next(_numbers)
        tenant = tenant or sso_tenant
        name = name or f"Test User {number}"
        email = email or f"user{number}@{tenant.domain}"
        return sso_identity_platform.add_user(
            tenant, name=name, email=email, roles=roles, groups=groups, **options
        )

    return make_user


@pytest.fixture
def sso_make_group(
    sso_identity_platform: FakeIdentityPlatform, sso_tenant: FakeTenant
) -> Callable[..., FakeGroup]:
    """Create security groups, in ``sso_tenant`` unless ``tenant`` is given."""

    def make_group(
        name: str | None = None,
        *,
        tenant: FakeTenant | None = None,
        member_of: Sequence[FakeGroup | str] = (),
    ) -> FakeGroup:
        name = name or f"Test Group {next(_numbers)}"
        return sso_identity_platform.add_group(tenant or sso_tenant, name, member_of=member_of)

    return make_group


@pytest.fixture
def sso_api_prefix(request: pytest.FixtureRequest) -> str:
    """Where ``sso_api.urls`` is mounted."""
    return str(request.config.getini("sso_api_prefix") or "/api/sso/")


@pytest.fixture
def sso_app(sso_identity_platform: FakeIdentityPlatform, sso_api_prefix: str) -> FakeApp:
    """An app registration whose redirect URIs are the test client's callback."""
    callback = f"testserver{sso_api_prefix}callback/"
    return sso_identity_platform.register_app(
        redirect_uris=[f"http://{callback}", f"https://{callback}"],
        front_channel_logout_url=f"https://testserver{sso_api_prefix}logout/frontchannel/",
    )


@pytest.fixture
def sso_settings(
    settings: Any,
    sso_identity_platform: FakeIdentityPlatform,
    sso_tenant: FakeTenant,
    sso_app: FakeApp,
) -> Iterator[Any]:
    """Point ``MICROSOFT_SSO_*`` at the fake platform and its Graph; everyone may sign in.

    Returns pytest-django's ``settings``, so a test can change more (for example
    ``sso_settings.MICROSOFT_SSO_ALLOWED_TENANTS``). Faults are reset afterwards, and
    so are the platform's ``group_overage_limit`` and ``graph_page_size``.
    """
    from sso_api.entra.client import clear_clients
    from sso_api.policy import forget_cached_users

    # Users cached by Entra bearer authentication belong to the database of one test.
    forget_cached_users()
    sso_identity_platform.reset_faults()
    settings.MICROSOFT_SSO_ENABLED = True
    settings.MICROSOFT_SSO_APPLICATION_ID = sso_app.client_id
    settings.MICROSOFT_SSO_CLIENT_SECRET = sso_app.client_secret
    settings.MICROSOFT_SSO_TENANT_ID = sso_tenant.tenant_id
    settings.MICROSOFT_SSO_AUTHORITY = sso_identity_platform.authority(sso_tenant)
    settings.MICROSOFT_SSO_CA_BUNDLE = sso_identity_platform.ca_bundle
    settings.MICROSOFT_SSO_GRAPH_URL = sso_identity_platform.graph_url
    settings.MICROSOFT_SSO_HTTP_TIMEOUT = 5.0
    settings.MICROSOFT_SSO_ALLOWABLE_DOMAINS = ["*"]
    yield settings
    sso_identity_platform.reset_faults()
    clear_clients()
    forget_cached_users()


@pytest.fixture
def sso_driver(
    sso_settings: Any, sso_identity_platform: FakeIdentityPlatform, sso_api_prefix: str
) -> SignInDriver:
    """A :class:`~sso_api.testing.client.SignInDriver` for step-by-step sign-ins."""
    from sso_api.testing.client import SignInDriver

    return SignInDriver(sso_identity_platform, api_prefix=sso_api_prefix)


@pytest.fixture
def sso_sign_in(sso_driver: SignInDriver) -> Callable[..., dict[str, Any]]:
    """``sso_sign_in(user, next="/")``: a whole sign-in; returns the JSON of ``/token/``."""

    def sign_in(user: FakeUser, next: str = "/") -> dict[str, Any]:
        return dict(sso_driver.signed_in(user, next=next))

    return sign_in
