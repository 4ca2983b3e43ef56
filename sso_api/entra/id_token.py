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
from typing import Any
from urllib.parse import urlsplit

import jwt

from sso_api.claims import MicrosoftClaims
from sso_api.entra.metadata import ProviderMetadata, SigningKeys
from sso_api.exceptions import InvalidIdToken

ALLOWED_ALGORITHMS = ["RS256"]
REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "nbf", "nonce", "tid", "oid", "sub")
CLOCK_SKEW_SECONDS = 60


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
            # The bare public key rather than the PyJWK, which would verify with the
            # algorithm its JWK names: here it is always the pinned RS256.
            key=signing_key.key,
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
