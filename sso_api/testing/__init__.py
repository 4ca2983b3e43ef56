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

Needs the ``testing`` extra (``cryptography`` and ``requests``).
"""

from .browser import AuthorizationRejected, AuthorizationResponse
from .certificates import CertificateFiles, ensure_certificates
from .directory import FakeApp, FakeTenant, FakeUser
from .faults import Faults, SigningFault
from .identity_platform import Endpoint, FakeIdentityPlatform, RecordedRequest

__all__ = [
    "AuthorizationRejected",
    "AuthorizationResponse",
    "CertificateFiles",
    "Endpoint",
    "FakeApp",
    "FakeIdentityPlatform",
    "FakeTenant",
    "FakeUser",
    "Faults",
    "RecordedRequest",
    "SigningFault",
    "ensure_certificates",
]
