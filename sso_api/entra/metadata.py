"""The authority's OpenID metadata and its signing keys, cached per process.

Keys are fetched once and kept for a day; an id_token signed with a key id we do not know
triggers one refetch (Microsoft rotates keys and publishes the new one before using it).
Such refetches are spaced by at least ``KEY_REFETCH_INTERVAL_SECONDS`` so that a burst of
tokens with unknown key ids costs the keys endpoint one request, not one per token.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import jwt
import requests
from jwt.algorithms import RSAAlgorithm

from sso_api.entra.http import DISCOVERY_SUFFIX, IdentityPlatformSession
from sso_api.exceptions import InvalidIdToken, ProviderUnavailable

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

    def issuer_for_tenant(self, tenant_id: str) -> str:
        """The issuer an id_token from ``tenant_id`` must carry.

        Multi-tenant authorities (``common``, ``organizations``) publish the issuer as a
        template with ``{tenantid}``; Microsoft documents that the token's ``tid`` fills it.
        """
        return self.issuer.replace("{tenantid}", tenant_id)


def _get_json(session: IdentityPlatformSession, url: str) -> dict[str, Any]:
    """GET a JSON document; any failure is the provider being unavailable."""
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
    return document


def fetch_metadata(session: IdentityPlatformSession, authority: str) -> ProviderMetadata:
    """The discovery document of ``authority`` (served from the session's cache when fresh).

    Raises :class:`ProviderUnavailable` when it cannot be fetched or lacks required fields.
    """
    document = _get_json(session, f"{authority}/v2.0{DISCOVERY_SUFFIX}")
    try:
        return ProviderMetadata(
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
        session.forget_discovery()
        raise ProviderUnavailable("discovery document lacks a required field") from exc


class SigningKeys:
    """The JSON Web Key Set behind one ``jwks_uri``, with refetch on an unknown key id."""

    def __init__(self, session: IdentityPlatformSession, jwks_uri: str) -> None:
        self._session = session
        self._jwks_uri = jwks_uri
        self._lock = threading.Lock()
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._last_unknown_kid_refetch = float("-inf")

    def _refresh(self) -> None:
        document = _get_json(self._session, self._jwks_uri)
        keys: dict[str, Any] = {}
        for jwk in document.get("keys", []):
            if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or not jwk.get("kid"):
                continue
            if jwk.get("use", "sig") != "sig":
                continue
            try:
                keys[str(jwk["kid"])] = RSAAlgorithm.from_jwk(jwk)
            except (jwt.InvalidKeyError, ValueError, KeyError):
                continue  # A malformed key must not hide the others.
        self._keys = keys
        self._fetched_at = time.monotonic()

    def key_for(self, kid: str) -> Any:
        """The public key with id ``kid``.

        Raises :class:`InvalidIdToken` when no published key has that id, even after one
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
                self._last_unknown_kid_refetch = now
                self._refresh()
            key = self._keys.get(kid)
        if key is None:
            raise InvalidIdToken("id_token signed with an unknown key id")
        return key
