"""The directory objects of the fake identity platform: tenants, groups, users and apps.

They are plain dataclasses created through :class:`~sso_api.testing.FakeIdentityPlatform`
(``add_tenant``, ``add_group``, ``add_user``, ``register_app``, ``expose_api``), which
fills in identifiers the way Entra does. Groups, users and apps are mutable on purpose: a test may
disable a user, move a group or add a redirect URI between two sign-ins, and the platform
reads the current values on every request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "OPTIONAL_ACCESS_TOKEN_CLAIMS",
    "V1_ISSUER_TEMPLATE",
    "AccessTokenVersion",
    "FakeApi",
    "FakeApp",
    "FakeGroup",
    "FakeTenant",
    "FakeUser",
]

#: The ``iss`` of v1.0 access tokens. Microsoft's own value, host included: v1.0 tokens
#: name ``sts.windows.net`` whatever authority issued them, and nothing is ever fetched
#: from it, so the fake keeps it as it is.
V1_ISSUER_TEMPLATE = "https://sts.windows.net/{tenant_id}/"

#: An API registration's ``accessTokenAcceptedVersion``: the format of the access tokens
#: issued for it. Entra's default (null) means 1.
AccessTokenVersion = Literal[1, 2]

#: The optional claims an API registration may ask for in its access tokens.
OPTIONAL_ACCESS_TOKEN_CLAIMS = frozenset({"idtyp", "email", "xms_edov"})


@dataclass(frozen=True)
class FakeTenant:
    """A Microsoft Entra tenant (a directory).

    ``issuer`` is the ``iss`` of every v2.0 token the tenant signs:
    ``{base_url}/{tenant_id}/v2.0``, the same shape as
    ``https://login.microsoftonline.com/{tenant_id}/v2.0``.
    """

    tenant_id: str
    name: str
    domain: str
    issuer: str

    @property
    def v1_issuer(self) -> str:
        """The ``iss`` of v1.0 access tokens the tenant signs: ``https://sts.windows.net/{id}/``."""
        return V1_ISSUER_TEMPLATE.format(tenant_id=self.tenant_id)


@dataclass
class FakeGroup:
    """A security group in one tenant's directory.

    ``member_of`` holds the object ids of the groups this group is itself a member of
    (nesting). A user's ``groups`` claim, and Graph's ``transitiveMemberOf``, list the
    groups the user is in directly and every group reachable from them through
    ``member_of``, as Entra does for security groups.
    """

    object_id: str
    tenant_id: str
    name: str
    member_of: tuple[str, ...] = ()


@dataclass
class FakeUser:
    """A user object in one tenant's directory.

    ``tenant_id`` is the tenant holding this object, the tenant whose issuer signs the
    user's tokens. A guest (``guest=True``) is an object in the resource tenant that
    stands for an account of ``home_tenant``; Entra gives it its own ``oid``, and so
    does this fake.

    ``email_verified`` feeds the ``xms_edov`` claim: ``True``/``False`` set it, ``None``
    leaves the claim out, which is what tenants that do not emit it look like.

    ``roles`` are app role values (the ``roles`` claim). ``groups`` are the object ids of
    the groups the user is a direct member of: :class:`FakeGroup` ids, whose nesting
    the platform follows, or any other string, taken as a group without nesting.
    ``directory_roles`` are names of Entra directory roles (``"Global Reader"``), which
    only Graph's membership lists show, as ``#microsoft.graph.directoryRole``.
    """

    object_id: str
    tenant_id: str
    name: str
    email: str | None
    email_verified: bool | None
    guest: bool
    home_tenant: FakeTenant | None
    disabled: bool
    given_name: str | None
    family_name: str | None
    preferred_username: str
    roles: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    directory_roles: tuple[str, ...] = ()


@dataclass
class FakeApi:
    """What an app registration exposes as a web API ("Expose an API" and "App roles").

    ``identifier_uri`` is the Application ID URI; a client names the API by it or by the
    registration's client id, as the prefix of a scope (``api://.../access_as_user``).
    ``scopes`` are the delegated permissions a client may ask for on a user's behalf.
    ``access_token_version`` is ``accessTokenAcceptedVersion``: 1 (Entra's default, null)
    or 2, which decides the format, issuer and audience of the API's access tokens.
    ``app_roles`` are the app roles that applications can be granted (``allowedMemberTypes``
    ``Application``), carried by app-only tokens. ``optional_claims`` are the optional
    claims of the API's access tokens, among ``idtyp``, ``email`` and ``xms_edov``.
    """

    identifier_uri: str
    scopes: tuple[str, ...] = ("access_as_user",)
    access_token_version: AccessTokenVersion = 1
    app_roles: tuple[str, ...] = ()
    optional_claims: tuple[str, ...] = ("idtyp",)


@dataclass
class FakeApp:
    """An app registration: a confidential client with a secret, or a public client.

    A confidential client (the "Web" platform) authenticates with ``client_secret`` at
    the token endpoint. A public client (``public_client``: a single-page, mobile or
    desktop app) has no secret, ``client_secret`` is then empty, and the token endpoint
    refuses any secret it sends.

    ``redirect_uris`` are compared with the ``redirect_uri`` of a request character for
    character, as Entra does, so a missing trailing slash is a mismatch.
    ``spa_redirect_uris`` are the redirect URIs of the "Single-page application" platform
    (type ``spa`` in the manifest), compared the same way; only a public client has them
    here. A code issued to one of them is redeemed from the browser only: the token
    endpoint then wants the request's ``Origin`` header, and answers it with CORS headers
    when it is the origin of one of these URIs.
    ``front_channel_logout_url`` is the app's "Front-channel logout URL": the fake's
    logout page loads it in a hidden iframe with ``sid`` and ``iss`` appended.
    ``require_consent`` makes every sign-in into this app pass through a consent page,
    like :attr:`~sso_api.testing.Faults.require_consent` does for all apps.

    ``api`` is what the registration exposes as a web API, if anything (see
    :class:`FakeApi` and ``expose_api``). ``app_role_grants`` maps the client id of an
    API to the app roles this app was granted on it (application permissions with
    admin consent): the ``roles`` of its app-only tokens for that API.
    """

    client_id: str
    client_secret: str
    redirect_uris: list[str] = field(default_factory=list)
    front_channel_logout_url: str | None = None
    require_consent: bool = False
    public_client: bool = False
    api: FakeApi | None = None
    app_role_grants: dict[str, tuple[str, ...]] = field(default_factory=dict)
    spa_redirect_uris: list[str] = field(default_factory=list)
