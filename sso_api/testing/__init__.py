"""Test doubles for integrators and for our own tests: a fake Microsoft identity platform.

``FakeIdentityPlatform`` serves Entra ID's v2.0 endpoints over HTTPS on loopback, so
the real ``msal`` library, a real browser and our validation code can run the whole
"Sign in with Microsoft" flow without the internet::

    with FakeIdentityPlatform() as platform:
        tenant = platform.add_tenant(name="Contoso", domain="contoso.example")
        user = platform.add_user(tenant, name="Ada Lovelace", email="ada@contoso.example")
        app = platform.register_app(redirect_uris=["https://app.example/callback/"])
        ...  # msal with authority=platform.authority(tenant), trusting platform.ca_bundle
        response = platform.authorize(flow["auth_uri"], user=user)

It also plays Microsoft Graph (``platform.graph_url``) for the group memberships an app
reads on group overage, and issues access tokens for the APIs its app registrations
expose (``expose_api``), to public and confidential clients, with ``mint_access_token``
and ``mint_app_token`` for the tokens a test needs without a sign-in.

Needs the ``testing`` extra (``cryptography`` and ``requests``).
"""

from .browser import AuthorizationRejected, AuthorizationResponse
from .certificates import CertificateFiles, ensure_certificates
from .directory import AccessTokenVersion, FakeApi, FakeApp, FakeGroup, FakeTenant, FakeUser
from .faults import Faults, MalformedGraphAnswer, OverageClaim, SigningFault
from .identity_platform import Endpoint, FakeIdentityPlatform, RecordedRequest

__all__ = [
    "AccessTokenVersion",
    "AuthorizationRejected",
    "AuthorizationResponse",
    "CertificateFiles",
    "Endpoint",
    "FakeApi",
    "FakeApp",
    "FakeGroup",
    "FakeIdentityPlatform",
    "FakeTenant",
    "FakeUser",
    "Faults",
    "MalformedGraphAnswer",
    "OverageClaim",
    "RecordedRequest",
    "SigningFault",
    "ensure_certificates",
]
