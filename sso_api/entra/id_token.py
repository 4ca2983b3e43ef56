"""Validation of Microsoft's id_token, by this project and not by msal.

msal (1.38 and later) only decodes the id_token it receives; it checks neither signature,
issuer, audience nor expiry. Everything below is therefore enforced here, explicitly:

* the signature, RS256 only, with a key published at the authority's ``jwks_uri``
  (``none``, ``HS256`` and every other algorithm are refused whatever the header says);
* ``iss`` equal to the discovery document's issuer with ``{tenantid}`` filled from ``tid``,
  and ``tid`` equal to the tenant the issuer names (a single-tenant issuer has no
  template, so this is what ties ``tid`` to it);
* ``aud`` equal to our application (client) id;
* ``exp``, ``nbf`` and ``iat`` with ``CLOCK_SKEW_SECONDS`` of leeway;
* ``nonce`` equal to the one this flow sent;
* ``tid``, ``oid`` and ``sub`` present.

See https://learn.microsoft.com/entra/identity-platform/id-tokens#validate-tokens
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import jwt

from sso_api.entra.metadata import ProviderMetadata, SigningKeys
from sso_api.exceptions import InvalidIdToken

ALLOWED_ALGORITHMS = ["RS256"]
REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "nbf", "nonce", "tid", "oid", "sub")
CLOCK_SKEW_SECONDS = 60


@dataclass(frozen=True)
class MicrosoftClaims:
    """What a validated id_token says about who signed in.

    ``email`` is whatever the token carried and is *not* proof of ownership; see
    :attr:`email_verified` and ``sso_api.policy.trusted_email``.
    """

    tenant_id: str
    object_id: str
    subject: str
    issuer: str
    session_id: str | None
    email: str | None
    email_verified: bool | None
    preferred_username: str | None
    name: str
    given_name: str
    family_name: str
    is_guest: bool
    roles: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_validated(cls, claims: dict[str, Any]) -> MicrosoftClaims:
        """Build from claims whose signature and required fields were already checked."""
        email = claims.get("email")
        edov = claims.get("xms_edov")
        return cls(
            tenant_id=str(claims["tid"]).lower(),
            object_id=str(claims["oid"]).lower(),
            subject=str(claims["sub"]),
            issuer=str(claims["iss"]),
            session_id=str(claims["sid"]) if claims.get("sid") else None,
            email=str(email).strip() if email else None,
            # xms_edov arrives as a JSON boolean, or as "1"/"true" in some token versions.
            email_verified=None if edov is None else str(edov).lower() in ("true", "1"),
            preferred_username=(
                str(claims["preferred_username"]) if claims.get("preferred_username") else None
            ),
            name=str(claims.get("name") or ""),
            given_name=str(claims.get("given_name") or ""),
            family_name=str(claims.get("family_name") or ""),
            is_guest=_is_guest(claims),
            roles=tuple(str(role) for role in claims.get("roles") or ()),
            groups=tuple(str(group) for group in claims.get("groups") or ()),
            raw=dict(claims),
        )


def _is_guest(claims: dict[str, Any]) -> bool:
    """Whether the account is a guest (B2B) in the tenant that issued the token.

    The optional ``acct`` claim says so directly (1 = guest). Without it, a guest shows an
    ``idp`` claim naming its home issuer, which a member's token does not carry.
    """
    acct = claims.get("acct")
    if acct is not None:
        return str(acct) == "1"
    idp = claims.get("idp")
    if not idp:
        return False
    return str(claims["tid"]).lower() not in str(idp).lower()


def validate_id_token(
    raw_id_token: str,
    *,
    metadata: ProviderMetadata,
    keys: SigningKeys,
    client_id: str,
    nonce: str,
) -> MicrosoftClaims:
    """Verify ``raw_id_token`` and return its claims.

    Raises :class:`InvalidIdToken` for every token that fails any check listed in this
    module's docstring, and :class:`ProviderUnavailable` when the keys cannot be fetched.
    """
    try:
        unverified_header = jwt.get_unverified_header(raw_id_token)
    except jwt.PyJWTError as exc:
        raise InvalidIdToken("id_token is not a JWT") from exc
    if unverified_header.get("alg") not in ALLOWED_ALGORITHMS:
        raise InvalidIdToken("id_token uses a refused signing algorithm")
    kid = unverified_header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidIdToken("id_token has no key id")
    signing_key = keys.key_for(kid)

    try:
        unverified_claims = jwt.decode(raw_id_token, options={"verify_signature": False})
        tenant_id = str(unverified_claims.get("tid") or "")
        if not tenant_id:
            raise InvalidIdToken("id_token lacks tid")
        claims: dict[str, Any] = jwt.decode(
            raw_id_token,
            key=signing_key,
            algorithms=ALLOWED_ALGORITHMS,
            audience=client_id,
            issuer=metadata.issuer_for_tenant(tenant_id),
            leeway=CLOCK_SKEW_SECONDS,
            options={"require": list(REQUIRED_CLAIMS), "verify_iat": True},
        )
    except jwt.PyJWTError as exc:
        # The library's message names the failed check; it goes to the log via __cause__.
        raise InvalidIdToken() from exc

    # PyJWT also accepts an audience list containing ours; Microsoft's id_tokens carry
    # exactly one audience, so anything else is refused.
    if claims["aud"] != client_id:
        raise InvalidIdToken("id_token audience is not exactly this application")
    if not hmac.compare_digest(str(claims["nonce"]), nonce):
        raise InvalidIdToken("id_token nonce does not match this sign-in")
    for name in ("tid", "oid", "sub"):
        if not isinstance(claims.get(name), str) or not claims[name]:
            raise InvalidIdToken(f"id_token lacks {name}")
    issuer_segments = [segment.lower() for segment in urlsplit(claims["iss"]).path.split("/")]
    if claims["tid"].lower() not in issuer_segments:
        raise InvalidIdToken("id_token tid is not the issuer's tenant")
    return MicrosoftClaims.from_validated(claims)
