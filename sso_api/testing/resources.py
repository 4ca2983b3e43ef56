"""Which resource a token request is for, read from its scopes the way Entra reads them.

A v2.0 scope names its resource by prefix: ``api://<app id>/access_as_user`` or
``<app id>/access_as_user`` for an API registered on the platform,
``https://graph.microsoft.com/User.Read`` for Microsoft Graph; a scope without a prefix
(``User.Read``) is Graph's. The OpenID Connect scopes name no resource. One token is for
one resource, so a token request whose scopes name two is refused (AADSTS28000), while
an authorization request may name several, to collect consent for all of them at once.
References: https://learn.microsoft.com/entra/identity-platform/scopes-oidc and
https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .claims import GRAPH_APP_ID
from .directory import FakeApi, FakeApp
from .protocol import EntraError, echo

__all__ = [
    "DEFAULT_SCOPE",
    "GRAPH_RESOURCE_NAMES",
    "OIDC_SCOPES",
    "RequestedResource",
    "client_credentials_resource",
    "requested_resources",
    "single_resource",
]

#: The OpenID Connect scopes: they shape the id_token and refresh token, not the access
#: token's resource.
OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
#: The scope that stands for every permission of a resource the client was granted.
DEFAULT_SCOPE = ".default"
#: The names by which a scope prefix means Microsoft Graph.
GRAPH_RESOURCE_NAMES = frozenset({"https://graph.microsoft.com", GRAPH_APP_ID})


@dataclass(frozen=True)
class RequestedResource:
    """The resource a set of scopes is for, and what they ask of it.

    For an API registered on the platform, ``app`` is its registration and ``api`` what
    it exposes (as it was when the scopes were read); both are None for Microsoft
    Graph. ``name`` is how the first scope named the resource (the
    Application ID URI or client id of an API; empty for unprefixed Graph scopes),
    which becomes the ``aud`` of v1.0 tokens. ``scopes`` are the permissions' short
    names (``access_as_user``), ``.default`` already expanded, and ``requested`` the
    scope strings as the client wrote them (expanded likewise): the ``scope`` of the
    token response.
    """

    name: str
    app: FakeApp | None
    api: FakeApi | None
    scopes: tuple[str, ...]
    requested: tuple[str, ...]


#: Finds the app registration that exposes an API under a name (its Application ID URI
#: or its client id), or None.
ApiFinder = Callable[[str], FakeApp | None]


def requested_resources(scopes: Sequence[str], find_api: ApiFinder) -> list[RequestedResource]:
    """The resources ``scopes`` name, in the order they are first named; may be empty.

    Raises :class:`EntraError` for a prefix that names no resource (``invalid_resource``,
    AADSTS500011), a permission the API does not expose, or ``.default`` beside other
    scopes of the same resource (``invalid_scope``, AADSTS70011).
    """
    found: dict[str, tuple[str, FakeApp | None, FakeApi | None, list[str], list[str]]] = {}
    for scope in scopes:
        if scope in OIDC_SCOPES:
            continue
        prefix, slash, permission = scope.rpartition("/")
        app: FakeApp | None = None
        api: FakeApi | None = None
        if not slash or prefix in GRAPH_RESOURCE_NAMES:
            key = ""
        else:
            app = find_api(prefix)
            api = app.api if app is not None else None
            if app is None or api is None:
                raise EntraError(
                    "invalid_resource",
                    500011,
                    f"The resource principal named '{echo(prefix)}' was not found in the "
                    "tenant: no app registration exposes an API under that name.",
                )
            if permission != DEFAULT_SCOPE and permission not in api.scopes:
                raise EntraError(
                    "invalid_scope",
                    70011,
                    f"The scope '{echo(scope)}' does not exist on the resource '{echo(prefix)}'.",
                )
            key = app.client_id
        entry = found.setdefault(key, (prefix, app, api, [], []))
        entry[3].append(permission)
        entry[4].append(scope)
    resources = []
    for name, app, api, permissions, written in found.values():
        if DEFAULT_SCOPE in permissions:
            if len(permissions) > 1:
                raise EntraError(
                    "invalid_scope",
                    70011,
                    f"The scope '{DEFAULT_SCOPE}' cannot be combined with other scopes of "
                    "the same resource.",
                )
            if api is not None:
                permissions = list(api.scopes)
                written = [f"{name}/{permission}" for permission in permissions]
        resources.append(
            RequestedResource(
                name=name,
                app=app,
                api=api,
                scopes=tuple(dict.fromkeys(permissions)),
                requested=tuple(dict.fromkeys(written)),
            )
        )
    return resources


def single_resource(scopes: Sequence[str], find_api: ApiFinder) -> RequestedResource:
    """The one resource a token request's ``scopes`` are for.

    Scopes that name no resource at all (only OpenID Connect ones) are for Graph, as at
    Entra, with no permission of their own. Raises :class:`EntraError` as
    :func:`requested_resources` does, and ``invalid_scope`` (AADSTS28000) for scopes of
    more than one resource.
    """
    resources = requested_resources(scopes, find_api)
    if len(resources) > 1:
        names = ", ".join(f"'{echo(resource.name or 'Microsoft Graph')}'" for resource in resources)
        raise EntraError(
            "invalid_scope",
            28000,
            "The value of the parameter 'scope' is not valid: it names more than one "
            f"resource ({names}). Ask for one resource's scopes per token request.",
        )
    if not resources:
        return RequestedResource(name="", app=None, api=None, scopes=(), requested=())
    return resources[0]


def client_credentials_resource(scope: str, find_api: ApiFinder) -> tuple[FakeApp, FakeApi, str]:
    """The API a client credentials request is for, as (registration, API, name).

    ``scope`` must be a single ``<resource>/.default``. Raises :class:`EntraError`:
    ``invalid_scope`` (AADSTS1002012) for anything else, and ``invalid_resource``
    (AADSTS500011) for a resource that is not an API registered on the platform (the
    fake issues no app-only tokens for Microsoft Graph, whose fake serves users only).
    """
    scopes = scope.split()
    if len(scopes) != 1 or not scopes[0].endswith(f"/{DEFAULT_SCOPE}"):
        raise EntraError(
            "invalid_scope",
            1002012,
            f"The provided value for scope '{echo(scope)}' is not valid. Client credential "
            "flows must have a scope value with /.default suffixed to the resource "
            "identifier (application ID URI).",
        )
    resource = single_resource(scopes, find_api)
    if resource.app is None or resource.api is None:
        raise EntraError(
            "invalid_resource",
            500011,
            "The fake identity platform issues app-only tokens for the APIs registered on "
            "it, not for Microsoft Graph.",
        )
    return resource.app, resource.api, resource.name
