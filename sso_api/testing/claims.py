"""The claims of the tokens the fake issues, following Entra's tokens.

Reference: https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference
and, for ``xms_edov``, ``idtyp`` and the other optional claims,
https://learn.microsoft.com/entra/identity-platform/optional-claims-reference;
for ``groups`` and its overage forms, and for the v1.0 and v2.0 access tokens of an API,
https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference.
The opaque claims (``uti``, ``rh``, ``aio``) are random; ``login_hint`` is opaque to
apps but readable by the fake, which needs it back as ``logout_hint``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import Collection, Mapping, Sequence

from .directory import AccessTokenVersion, FakeApi, FakeApp, FakeTenant, FakeUser
from .faults import OverageClaim
from .signing import b64url_decode, b64url_encode

__all__ = [
    "GRAPH_APP_ID",
    "GROUP_OVERAGE_LIMIT",
    "TOKEN_LIFETIME",
    "access_token_claims",
    "api_access_token_claims",
    "app_only_access_token_claims",
    "apply_claim_changes",
    "client_info",
    "group_membership_claims",
    "id_token_claims",
    "login_hint",
    "object_id_from_login_hint",
    "pairwise_subject",
    "service_principal_id",
]

#: Seconds id_tokens and access tokens are valid (Entra: 60 to 90 minutes).
TOKEN_LIFETIME = 3600
#: Microsoft Graph's application id: the audience of the access token Entra returns
#: for Graph scopes (User.Read) or for OpenID scopes alone.
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
#: Entra's limit of groups in a JWT's ``groups`` claim; more, and the claim is replaced
#: by an overage indicator.
GROUP_OVERAGE_LIMIT = 200
# The tenant of personal Microsoft accounts: the idp of a guest from outside any tenant.
_CONSUMER_TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad"
_OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
# Namespace of the fake's service principal ids (uuid5), so they are stable across runs.
_SERVICE_PRINCIPALS = uuid.UUID("0c3b7a52-5f0e-4d52-9a53-6b1f2a0e7d11")


def id_token_claims(
    user: FakeUser,
    *,
    issuer: str,
    client_id: str,
    sid: str,
    nonce: str | None,
    auth_time: int | None,
    now: int,
    group_claims: dict[str, object],
) -> dict[str, object]:
    """The claims of an id_token for ``user`` signing in to ``client_id``.

    ``nonce`` and ``auth_time`` are included when given; ``email``, the name parts,
    ``xms_edov``, ``idp`` (guests) and ``roles`` when the user has them.
    ``group_claims`` (from :func:`group_membership_claims`) are added as they are.
    """
    claims: dict[str, object] = {
        "ver": "2.0",
        "iss": issuer,
        "sub": pairwise_subject(user.object_id, client_id),
        "aud": client_id,
        "iat": now,
        "nbf": now,
        "exp": now + TOKEN_LIFETIME,
        "tid": user.tenant_id,
        "oid": user.object_id,
        "sid": sid,
        "name": user.name,
        "preferred_username": user.preferred_username,
        "login_hint": login_hint(user),
        # acct: 0 for a member of the tenant, 1 for a guest.
        "acct": 1 if user.guest else 0,
        "uti": b64url_encode(secrets.token_bytes(16)),
        "rh": f"1.{b64url_encode(secrets.token_bytes(24))}.",
        "aio": b64url_encode(secrets.token_bytes(48)),
    }
    optional: dict[str, object | None] = {
        "nonce": nonce,
        "auth_time": auth_time,
        "email": user.email,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "xms_edov": user.email_verified,
        "idp": _guest_identity_provider(user) if user.guest else None,
        "roles": list(user.roles) or None,
    }
    claims.update({name: value for name, value in optional.items() if value is not None})
    claims.update(group_claims)
    return claims


def group_membership_claims(
    group_ids: Sequence[str],
    *,
    limit: int,
    overage_claim: OverageClaim,
    graph_url: str,
    object_id: str,
) -> dict[str, object]:
    """The ``groups`` claim of a user in ``group_ids``, or Entra's overage indicator.

    Nothing for a user in no group; ``groups`` while there are at most ``limit``
    groups; past it, either ``_claim_names``/``_claim_sources`` pointing at Graph's
    ``getMemberObjects`` for the user (``"claim_sources"``), or ``hasgroups: true``
    (``"hasgroups"``, what Entra sends where the token must stay short).
    """
    if not group_ids:
        return {}
    if len(group_ids) <= limit:
        return {"groups": list(group_ids)}
    if overage_claim == "hasgroups":
        return {"hasgroups": True}
    endpoint = f"{graph_url}/v1.0/users/{object_id}/getMemberObjects"
    return {
        "_claim_names": {"groups": "src1"},
        "_claim_sources": {"src1": {"endpoint": endpoint}},
    }


def access_token_claims(
    user: FakeUser, *, issuer: str, client_id: str, scopes: tuple[str, ...], now: int
) -> dict[str, object]:
    """The claims of a (Graph-audience) access token; apps should treat it as opaque."""
    resource_scopes = [scope for scope in scopes if scope not in _OIDC_SCOPES]
    return {
        "ver": "2.0",
        "iss": issuer,
        "aud": GRAPH_APP_ID,
        "azp": client_id,
        "iat": now,
        "nbf": now,
        "exp": now + TOKEN_LIFETIME,
        "tid": user.tenant_id,
        "oid": user.object_id,
        "sub": pairwise_subject(user.object_id, GRAPH_APP_ID),
        "name": user.name,
        "preferred_username": user.preferred_username,
        "scp": " ".join(resource_scopes or ["openid", "profile"]),
        "uti": b64url_encode(secrets.token_bytes(16)),
    }


def api_access_token_claims(
    user: FakeUser,
    *,
    tenant: FakeTenant,
    api_app: FakeApp,
    api: FakeApi,
    resource: str,
    client: FakeApp,
    scopes: Sequence[str],
    version: AccessTokenVersion,
    now: int,
) -> dict[str, object]:
    """The claims of a delegated access token for ``api``, the API of ``api_app``.

    ``user`` signed in to ``client``, which asked for ``scopes`` (short names, the
    ``scp`` claim) of the resource named ``resource`` (the API's Application ID URI or
    client id, as the client wrote it). ``version`` picks Entra's v1.0 or v2.0 format.
    ``roles`` are the user's app roles; the optional claims are the API's.
    """
    claims = _access_token_frame(
        version=version,
        tenant=tenant,
        audience=api_app.client_id if version == 2 else resource,
        client=client,
        now=now,
    )
    claims.update(
        {
            "oid": user.object_id,
            "sub": pairwise_subject(user.object_id, api_app.client_id),
            "name": user.name,
            "scp": " ".join(scopes),
        }
    )
    if version == 2:
        claims["preferred_username"] = user.preferred_username
    else:
        # v1.0 names the user by UPN; a guest has no UPN in the resource tenant.
        claims.update({"unique_name": user.preferred_username, "amr": ["pwd"], "acr": "1"})
        if not user.guest:
            claims["upn"] = user.preferred_username
        optional_names = {"given_name": user.given_name, "family_name": user.family_name}
        claims.update({name: value for name, value in optional_names.items() if value})
    if user.guest:
        claims["idp"] = _guest_identity_provider(user)
    if user.roles:
        claims["roles"] = list(user.roles)
    optional: dict[str, object | None] = {
        "idtyp": "user",
        "email": user.email,
        "xms_edov": user.email_verified,
    }
    claims.update(
        {
            name: value
            for name, value in optional.items()
            if name in api.optional_claims and value is not None
        }
    )
    return claims


def app_only_access_token_claims(
    client: FakeApp,
    *,
    tenant: FakeTenant,
    api_app: FakeApp,
    api: FakeApi,
    resource: str,
    roles: Sequence[str],
    version: AccessTokenVersion,
    now: int,
) -> dict[str, object]:
    """The claims of an app-only access token (client credentials) ``client`` gets for
    ``api``, the API of ``api_app``, in ``tenant``.

    The subject is the client's service principal in ``tenant``; ``roles`` are the
    app roles it was granted, left out when there are none; there is no ``scp``.
    """
    claims = _access_token_frame(
        version=version,
        tenant=tenant,
        audience=api_app.client_id if version == 2 else resource,
        client=client,
        now=now,
    )
    principal = service_principal_id(client.client_id, tenant.tenant_id)
    claims.update({"oid": principal, "sub": principal})
    if version == 1:
        claims["idp"] = tenant.v1_issuer
    if roles:
        claims["roles"] = list(roles)
    if "idtyp" in api.optional_claims:
        claims["idtyp"] = "app"
    return claims


def _access_token_frame(
    *,
    version: AccessTokenVersion,
    tenant: FakeTenant,
    audience: str,
    client: FakeApp,
    now: int,
) -> dict[str, object]:
    """What every access token for an API carries, user or app: who issued it, for whom,
    when, and which client asked."""
    # How the client authenticated: 0 public client, 1 client secret (2 would be a
    # certificate, which the fake does not take).
    client_authentication = "0" if client.public_client else "1"
    claims: dict[str, object] = {
        "aud": audience,
        "iss": tenant.issuer if version == 2 else tenant.v1_issuer,
        "iat": now,
        "nbf": now,
        "exp": now + TOKEN_LIFETIME,
        "tid": tenant.tenant_id,
        "ver": f"{version}.0",
        "uti": b64url_encode(secrets.token_bytes(16)),
        "rh": f"1.{b64url_encode(secrets.token_bytes(24))}.",
        "aio": b64url_encode(secrets.token_bytes(48)),
    }
    if version == 2:
        claims.update({"azp": client.client_id, "azpacr": client_authentication})
    else:
        claims.update({"appid": client.client_id, "appidacr": client_authentication})
    return claims


def apply_claim_changes(
    claims: dict[str, object], overrides: Mapping[str, object], remove: Collection[str]
) -> dict[str, object]:
    """``claims`` with ``overrides`` set (replacing claims of the same name) and the
    claims named in ``remove`` dropped, in place; returns ``claims``."""
    claims.update(overrides)
    for name in remove:
        claims.pop(name, None)
    return claims


def service_principal_id(client_id: str, tenant_id: str) -> str:
    """The object id of the service principal of app ``client_id`` in ``tenant_id``.

    Entra creates one per app and tenant; the fake derives it, so it is stable.
    """
    return str(uuid.uuid5(_SERVICE_PRINCIPALS, f"{tenant_id.lower()}|{client_id}"))


def pairwise_subject(object_id: str, client_id: str) -> str:
    """Entra's pairwise ``sub``: stable for one user and one app, different across apps.

    Deterministic (no per-instance salt), so a demo restarted with the same ids keeps
    the same subjects.
    """
    return b64url_encode(hashlib.sha256(f"sub|{client_id}|{object_id}".encode()).digest())


def client_info(user: FakeUser) -> str:
    """The ``client_info`` msal asks for: base64url JSON ``{"uid": oid, "utid": tid}``.

    msal builds its home account id (``uid.utid``) from it.
    """
    return b64url_encode(json.dumps({"uid": user.object_id, "utid": user.tenant_id}).encode())


def login_hint(user: FakeUser) -> str:
    """The ``login_hint`` claim, which apps send back as ``logout_hint``."""
    document = {"oid": user.object_id, "tid": user.tenant_id, "upn": user.preferred_username}
    return b64url_encode(json.dumps(document).encode())


def object_id_from_login_hint(hint: str) -> str | None:
    """The object id inside a :func:`login_hint` value, or None for anything else."""
    try:
        document = json.loads(b64url_decode(hint))
    except (ValueError, RecursionError):  # RecursionError: absurdly nested JSON
        return None
    object_id = document.get("oid") if isinstance(document, dict) else None
    return object_id if isinstance(object_id, str) else None


def _guest_identity_provider(user: FakeUser) -> str:
    home = user.home_tenant.tenant_id if user.home_tenant is not None else _CONSUMER_TENANT_ID
    return f"https://sts.windows.net/{home}/"
