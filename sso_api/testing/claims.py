"""The claims of the tokens the fake issues, following Entra's v2.0 tokens.

Reference: https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference
and, for ``xms_edov``, https://learn.microsoft.com/entra/identity-platform/optional-claims-reference;
for ``groups`` and its overage forms,
https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference#groups-overage-claim.
The opaque claims (``uti``, ``rh``, ``aio``) are random; ``login_hint`` is opaque to
apps but readable by the fake, which needs it back as ``logout_hint``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence

from .directory import FakeUser
from .faults import OverageClaim
from .signing import b64url_decode, b64url_encode

__all__ = [
    "GRAPH_APP_ID",
    "GROUP_OVERAGE_LIMIT",
    "TOKEN_LIFETIME",
    "access_token_claims",
    "client_info",
    "group_membership_claims",
    "id_token_claims",
    "login_hint",
    "object_id_from_login_hint",
    "pairwise_subject",
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
