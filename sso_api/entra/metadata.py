"""The authority's OpenID discovery document and its signing keys.

The discovery document is fetched here and kept by
:class:`~sso_api.entra.client.EntraClient`, which also answers msal's own request for it.

Signing keys are fetched once and kept for a day; an id_token signed with a key id we do
not know triggers one refetch (Microsoft publishes a new key before signing with it).
Such refetches are spaced by at least ``KEY_REFETCH_INTERVAL_SECONDS``, whether they
succeed or fail, so that a burst of tokens with unknown key ids costs the keys endpoint
one request, not one per token.

The key set is parsed by PyJWT (:meth:`jwt.PyJWKSet.from_dict`), which skips the keys it
cannot load, so a malformed key does not hide the others (PyJWT 2.15 and later: earlier
releases let the ``ValueError`` or ``TypeError`` of some malformed RSA keys escape).
The fetching and its spacing stay here rather than in :class:`jwt.PyJWKClient`, because,
as of PyJWT 2.15:

* it fetches with ``urllib``. Its ``ssl_context`` and ``timeout`` could carry our CA
  bundle and timeout, but the keys would then travel through a second HTTP stack, with
  its own proxy and error handling, beside the :class:`IdentityPlatformSession` that
  msal and the discovery use; and a subclass overriding ``fetch_data`` would have to
  redo the private bookkeeping done there (the cache write, the cooldown's clock);
* its refetch cooldown starts at *every* successful fetch, the first one included, so a
  key rotated in shortly after any fetch is refused until the cooldown ends, and a failed
  refetch starts no cooldown, so each token with an unknown key id hits a failing keys
  endpoint again; releases before 2.14 have no cooldown at all.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
import requests

from sso_api.entra.http import IdentityPlatformSession
from sso_api.exceptions import InvalidIdToken, ProviderUnavailable, SSOError

KEY_REFETCH_INTERVAL_SECONDS = 5.0
KEYS_TTL_SECONDS = 24 * 3600.0


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of the OpenID discovery document this project relies on."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> ProviderMetadata:
        """Read a parsed discovery document.

        Raises :class:`ProviderUnavailable` when a required field is missing.
        """
        try:
            return cls(
                issuer=str(document["issuer"]),
                authorization_endpoint=str(document["authorization_endpoint"]),
                token_endpoint=str(document["token_endpoint"]),
                jwks_uri=str(document["jwks_uri"]),
                end_session_endpoint=(
                    str(document["end_session_endpoint"])
                    if document.get("end_session_endpoint")
                    else None
                ),
            )
        except KeyError as exc:
            raise ProviderUnavailable("discovery document lacks a required field") from exc

    def issuer_for_tenant(self, tenant_id: str) -> str:
        """The issuer an id_token from ``tenant_id`` must carry.

        Multi-tenant authorities (``common``, ``organizations``) publish the issuer as a
        template with ``{tenantid}``; Microsoft documents that the token's ``tid`` fills it.
        """
        return self.issuer.replace("{tenantid}", tenant_id)


@dataclass(frozen=True)
class DiscoveryDocument:
    """A discovery document as it was fetched: its text for msal, its fields for us."""

    url: str
    text: str
    headers: Mapping[str, str]
    metadata: ProviderMetadata


def discovery_url(authority: str) -> str:
    """Where the v2.0 discovery document of ``authority`` lives.

    The same URL msal derives from an Entra authority, so that one fetch serves both.
    """
    return f"{authority}/v2.0/.well-known/openid-configuration"


def _get_json(
    session: IdentityPlatformSession, url: str
) -> tuple[requests.Response, dict[str, Any]]:
    """GET a JSON object; any failure is the provider being unavailable."""
    try:
        response = session.get(url)
    except requests.RequestException as exc:
        raise ProviderUnavailable() from exc
    if response.status_code != 200:
        raise ProviderUnavailable(f"{url} answered HTTP {response.status_code}")
    try:
        document = json.loads(response.text)
    except ValueError as exc:
        raise ProviderUnavailable(f"{url} did not answer JSON") from exc
    if not isinstance(document, dict):
        raise ProviderUnavailable(f"{url} did not answer a JSON object")
    return response, document


def fetch_discovery(session: IdentityPlatformSession, authority: str) -> DiscoveryDocument:
    """Fetch the discovery document of ``authority`` (no caching here).

    Raises :class:`ProviderUnavailable` when it cannot be fetched or lacks required fields.
    """
    url = discovery_url(authority)
    response, document = _get_json(session, url)
    return DiscoveryDocument(
        url=url,
        text=response.text,
        headers=dict(response.headers),
        metadata=ProviderMetadata.from_document(document),
    )


def rsa_signing_keys(jwks: Mapping[str, Any]) -> dict[str, jwt.PyJWK]:
    """The RSA signature keys of a JSON Web Key Set, by key id.

    Members that are not objects, not RSA (``kty``), meant for encryption (``use`` other
    than ``sig``), for another algorithm than the pinned RS256 (``alg``, when given) or
    without a ``kid`` are ignored, and so is every key PyJWT cannot load: one malformed key
    must not hide the others. Returns an empty mapping when nothing is left; never raises
    for the content of ``jwks``.
    """
    members = jwks.get("keys")
    if not isinstance(members, list):
        return {}
    candidates = [
        member
        for member in members
        if isinstance(member, dict)
        and member.get("kty") == "RSA"
        and member.get("use", "sig") == "sig"
        and member.get("alg", "RS256") == "RS256"
        and isinstance(member.get("kid"), str)
        and member["kid"]
    ]
    try:
        key_set = jwt.PyJWKSet.from_dict({"keys": candidates})
    except jwt.PyJWKSetError:  # No candidate, or none PyJWT could load.
        return {}
    return {str(key.key_id): key for key in key_set.keys}


class SigningKeys:
    """The JSON Web Key Set behind one ``jwks_uri``, with refetch on an unknown key id.

    Thread-safe; one instance per ``jwks_uri`` and process.
    """

    def __init__(self, session: IdentityPlatformSession, jwks_uri: str) -> None:
        self._session = session
        self._jwks_uri = jwks_uri
        self._lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._last_unknown_kid_refetch = float("-inf")

    def _refresh(self) -> None:
        _, jwks = _get_json(self._session, self._jwks_uri)
        self._keys = rsa_signing_keys(jwks)
        self._fetched_at = time.monotonic()

    def key_for(self, kid: str, *, unknown: type[SSOError] = InvalidIdToken) -> jwt.PyJWK:
        """The published RSA signing key with id ``kid``.

        Raises ``unknown`` (:class:`InvalidIdToken` unless told otherwise: the caller names
        the kind of token it validates) when no published key has that id, even after one
        refetch, and :class:`ProviderUnavailable` when the keys cannot be fetched.
        """
        with self._lock:
            now = time.monotonic()
            stale = self._fetched_at is None or now - self._fetched_at > KEYS_TTL_SECONDS
            if stale:
                self._refresh()
            elif (
                kid not in self._keys
                and now - self._last_unknown_kid_refetch > KEY_REFETCH_INTERVAL_SECONDS
            ):
                # Recorded before fetching, so a failing refetch is spaced too.
                self._last_unknown_kid_refetch = now
                self._refresh()
            key = self._keys.get(kid)
        if key is None:
            raise unknown("token signed with an unknown key id")
        return key
