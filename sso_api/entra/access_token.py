"""Validation of Entra access tokens issued for this API (apps that sign in with MSAL).

An app that signed a user in with MSAL (on a phone, a desktop, or with msal-browser) holds
an access token for this API. Microsoft documents that the API, its audience, must
validate it; what is enforced here, explicitly:

* the signature, RS256 only, with a key of the authority's published key set (the same
  cached keys, and refetch rules, as for id_tokens: no outbound call per token);
* ``aud`` exactly one of the accepted audiences (by default ``api://<application id>`` and
  the application id itself), never a list; so Microsoft Graph tokens, id_tokens (whose
  audience is a client) and tokens for other APIs are refused;
* ``iss`` the issuer of the token's own tenant, in the form its ``ver`` announces:
  ``https://sts.windows.net/{tid}/`` for v1.0 tokens, the discovery document's issuer with
  the tenant filled in for v2.0 tokens;
* ``exp``, ``nbf`` and ``iat`` with :data:`CLOCK_SKEW_SECONDS` of leeway;
* delegated only: ``scp`` must hold the API's scope (``access_as_user`` by default), so
  app-only tokens (client credentials, no ``scp``) are refused;
* when a list of client ids is given, the calling app (``azp`` in v2.0, ``appid`` in v1.0)
  must be in it;
* ``tid``, ``oid``, ``uti`` and the calling app (``azp``/``appid``) present: an id_token,
  even one of this very app, has no calling app.

Our own JWTs are refused by construction: they are not signed with Microsoft's keys and
carry no Entra issuer.

See https://learn.microsoft.com/entra/identity-platform/access-tokens#validate-tokens
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import jwt

from sso_api.claims import MicrosoftClaims
from sso_api.entra.metadata import ProviderMetadata, SigningKeys
from sso_api.exceptions import (
    EntraClientNotAllowed,
    EntraScopeMissing,
    InvalidEntraToken,
    NotAnEntraToken,
)

ALLOWED_ALGORITHMS = ["RS256"]
REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "nbf", "tid", "oid", "uti")
# The calling app, by version: what an access token has and an id_token does not.
CLIENT_CLAIM = {"1.0": "appid", "2.0": "azp"}
CLOCK_SKEW_SECONDS = 60
V1_ISSUER = "https://sts.windows.net/{tenantid}/"


@dataclass(frozen=True)
class EntraAccessToken:
    """A validated Entra access token for this API."""

    #: Who it speaks for, in the shape the sign-in policy reads (``groups`` and ``roles``
    #: included when the token carries them).
    claims: MicrosoftClaims
    #: The delegated scopes granted (``scp``, split).
    scopes: tuple[str, ...]
    #: The calling app: ``azp`` (v2.0) or ``appid`` (v1.0).
    client_id: str
    #: Microsoft's unique id of this token, for single use.
    token_id: str
    #: When it expires (seconds since the epoch).
    expires_at: int
    #: The validated claims, read-only: a validated token is shared by the requests that
    #: send it again.
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def payload(self) -> Mapping[str, Any]:
        """The validated claims, under the name simplejwt's tokens give them."""
        return self.raw

    @property
    def roles(self) -> tuple[str, ...]:
        """The app roles Microsoft granted the user (or, app-only, the calling app)."""
        return self.claims.roles


def unverified_entra_parts(raw_token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a token shaped like Microsoft's, neither one verified.

    Raises :class:`NotAnEntraToken` when ``raw_token`` is not a JWT or has no ``tid`` and
    ``ver`` claims: a bearer token some other authentication may own.
    """
    try:
        unverified = jwt.decode_complete(raw_token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise NotAnEntraToken("not a JWT") from exc
    unverified_claims = unverified["payload"]
    if not unverified_claims.get("tid") or not unverified_claims.get("ver"):
        raise NotAnEntraToken("no tid and ver claims")
    return unverified["header"], unverified_claims


def _expected_issuer(version: str, tenant_id: str, metadata: ProviderMetadata) -> str:
    if version == "1.0":
        return V1_ISSUER.replace("{tenantid}", tenant_id)
    if version == "2.0":
        return metadata.issuer_for_tenant(tenant_id)
    raise InvalidEntraToken("access token of an unknown version")


def validate_access_token(
    raw_token: str,
    *,
    metadata: ProviderMetadata,
    keys: SigningKeys,
    audiences: Iterable[str],
    scope: str,
    client_ids: Iterable[str] = (),
) -> EntraAccessToken:
    """Verify ``raw_token`` as an access token for this API; return what it says.

    Raises :class:`NotAnEntraToken` for a token that is not a JWT or has no ``tid`` and
    ``ver`` claims, :class:`InvalidEntraToken` for every other token failing a check of
    the module docstring other than these two: :class:`EntraScopeMissing` (no ``scp`` with
    ``scope``: app-only, or not consented for this API) and
    :class:`EntraClientNotAllowed` (``client_ids`` given, and the calling app not among
    them). Raises :class:`ProviderUnavailable` when the keys cannot be fetched.
    """
    unverified_header, unverified_claims = unverified_entra_parts(raw_token)
    tenant_id = str(unverified_claims["tid"])
    version = str(unverified_claims["ver"])
    if unverified_header.get("alg") not in ALLOWED_ALGORITHMS:
        raise InvalidEntraToken("access token uses a refused signing algorithm")
    kid = unverified_header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidEntraToken("access token has no key id")
    issuer = _expected_issuer(version, tenant_id, metadata)
    accepted = [audience for audience in audiences if audience]
    signing_key = keys.key_for(kid, unknown=InvalidEntraToken)

    try:
        claims: dict[str, Any] = jwt.decode(
            raw_token,
            key=signing_key.key,
            algorithms=ALLOWED_ALGORITHMS,
            audience=accepted,
            issuer=issuer,
            leeway=CLOCK_SKEW_SECONDS,
            options={"require": list(REQUIRED_CLAIMS), "verify_iat": True},
        )
    except jwt.PyJWTError as exc:
        # The library's message names the failed check; it reaches the log via __cause__.
        raise InvalidEntraToken() from exc

    # PyJWT accepts an audience list that contains one of ours; Entra issues exactly one.
    if not isinstance(claims["aud"], str) or claims["aud"] not in accepted:
        raise InvalidEntraToken("access token audience is not exactly this API")
    for name in ("tid", "oid", "uti", CLIENT_CLAIM[version]):
        if not isinstance(claims.get(name), str) or not claims[name]:
            # An id_token has no azp/appid: this is what tells them apart when an
            # id_token of this very app (whose audience is the application id) comes in.
            raise InvalidEntraToken(f"access token lacks {name}")
    granted = tuple(str(claims.get("scp") or "").split())
    if not any(hmac.compare_digest(granted_scope, scope) for granted_scope in granted):
        raise EntraScopeMissing(f"scp lacks {scope!r} (app-only or not consented)")
    client_id = str(claims[CLIENT_CLAIM[version]])
    allowed_clients = {client.lower() for client in client_ids}
    if allowed_clients and client_id.lower() not in allowed_clients:
        raise EntraClientNotAllowed("calling app not in MICROSOFT_SSO_API_CLIENT_IDS")
    return EntraAccessToken(
        claims=MicrosoftClaims.from_access_token(claims),
        scopes=granted,
        client_id=client_id,
        token_id=str(claims["uti"]),
        expires_at=int(claims["exp"]),
        raw=MappingProxyType(claims),
    )
