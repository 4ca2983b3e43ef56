"""The directory objects of the fake identity platform: tenants, groups, users and apps.

They are plain dataclasses created through :class:`~sso_api.testing.FakeIdentityPlatform`
(``add_tenant``, ``add_group``, ``add_user``, ``register_app``), which fills in
identifiers the way Entra does. Groups, users and apps are mutable on purpose: a test may
disable a user, move a group or add a redirect URI between two sign-ins, and the platform
reads the current values on every request.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["FakeApp", "FakeGroup", "FakeTenant", "FakeUser"]


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
class FakeApp:
    """An app registration with a client secret (a confidential "Web" platform client).

    ``redirect_uris`` are compared with the ``redirect_uri`` of a request character for
    character, as Entra does, so a missing trailing slash is a mismatch.
    ``front_channel_logout_url`` is the app's "Front-channel logout URL": the fake's
    logout page loads it in a hidden iframe with ``sid`` and ``iss`` appended.
    ``require_consent`` makes every sign-in into this app pass through a consent page,
    like :attr:`~sso_api.testing.Faults.require_consent` does for all apps.
    """

    client_id: str
    client_secret: str
    redirect_uris: list[str] = field(default_factory=list)
    front_channel_logout_url: str | None = None
    require_consent: bool = False
