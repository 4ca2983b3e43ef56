"""msal, wrapped: one application object per configuration, and errors turned into codes.

What this module guarantees about msal:

* **One ``ConfidentialClientApplication`` per configuration**, built lazily on first use and
  shared by every request and thread.
* **One discovery fetch for msal and us**: msal fetches the discovery document when its
  application object is built, and our id_token validation needs it too. The client
  fetches it once, keeps it for ``DISCOVERY_TTL_SECONDS``, and hands msal an HTTP client
  (:class:`_MsalHttpClient`) that answers msal's request for it from that copy.
* **No instance discovery against Microsoft** for an authority on another host (sovereign
  clouds, test providers): ``instance_discovery=False``.
* **No per-user token cache growth**: the app's token cache discards what msal adds. We use
  the id_token once and never call Graph on the user's behalf, so keeping tokens would only
  leak memory with every sign-in.
* **No cross-user throttling**: msal remembers 429/5xx answers and replays them to later
  requests it considers similar. A shared confidential client would then fail one user
  because another failed, so msal's HTTP cache is replaced by one that stores nothing, and
  the session raises on 429/5xx before msal sees the answer.
* **PKCE and nonce always on**: msal's auth code flow generates both; the nonce is checked
  again by :func:`validate_id_token`.
"""

from __future__ import annotations

import hashlib
import threading
import time
import warnings
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import msal
import requests

from sso_api.claims import MicrosoftClaims
from sso_api.conf import SSOSettings
from sso_api.entra import graph
from sso_api.entra.access_token import (
    CLOCK_SKEW_SECONDS,
    EntraAccessToken,
    unverified_entra_parts,
    validate_access_token,
)
from sso_api.entra.http import IdentityPlatformSession
from sso_api.entra.id_token import validate_id_token
from sso_api.entra.metadata import (
    DiscoveryDocument,
    ProviderMetadata,
    SigningKeys,
    discovery_url,
    fetch_discovery,
)
from sso_api.exceptions import (
    GroupsUnavailable,
    InvalidIdToken,
    NotConfigured,
    ProviderError,
    ProviderUnavailable,
    TokenExchangeFailed,
)
from sso_api.local_cache import LocalCache

# msal warns on every query-mode flow. Query mode is a supported, documented choice here
# (MICROSOFT_SSO_REQUIRE_SECURE_CALLBACK selects form_post), so the warning is noise.
warnings.filterwarnings("ignore", message="response_mode='form_post' is recommended")

# OAuth error codes in a token response that mean "try again later", not "you are refused".
_TRANSIENT_OAUTH_ERRORS = frozenset({"temporarily_unavailable", "server_error"})
# How long a discovery document is trusted before it is fetched again. Entra's endpoints
# in it do not change; a day bounds the staleness after a real change.
DISCOVERY_TTL_SECONDS = 24 * 3600.0
# How many validated Entra access tokens each client remembers (a few MB at most): an app
# sends the same token with every request for an hour, and verifying its RS256 signature
# again each time would cost more than the rest of the request.
VALIDATED_ACCESS_TOKENS_KEPT = 1024
# How long one of them is trusted without being verified again: short beside a token's
# hour, so that a signing key withdrawn from the key set stops counting soon after.
VALIDATED_ACCESS_TOKEN_SECONDS = 300.0


class _DiscardingTokenCache(msal.TokenCache):  # type: ignore[misc]
    """A token cache that keeps nothing (see the module docstring)."""

    def add(self, event: dict[str, Any], now: int | None = None) -> None:
        return None


class _NoHttpCache(MutableMapping[str, Any]):
    """A mapping that forgets every write, given to msal as ``http_cache``."""

    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __setitem__(self, key: str, value: Any) -> None:
        return None

    def __delitem__(self, key: str) -> None:
        return None

    def __iter__(self) -> Any:
        return iter(())

    def __len__(self) -> int:
        return 0


@dataclass(frozen=True)
class _StoredAnswer:
    """A discovery document as an HTTP answer: the parts of a response msal reads."""

    status_code: int
    text: str
    headers: Mapping[str, str]

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise requests.HTTPError(f"HTTP {self.status_code}")


class _MsalHttpClient:
    """The ``http_client`` msal is given: the client's session, except for discovery.

    msal's GET of the discovery document is answered from :meth:`EntraClient.discovery`
    (fetched by the client if it holds no fresh copy), so msal and our own validation share
    one fetch. Every other request goes through the session unchanged. When the document
    cannot be had, :class:`ProviderUnavailable` goes through msal to the caller.
    """

    def __init__(self, client: EntraClient) -> None:
        self._client = client

    def get(self, url: str, params: Any = None, **kwargs: Any) -> Any:
        if not params and url == discovery_url(self._client.config.authority):
            document = self._client.discovery()
            return _StoredAnswer(status_code=200, text=document.text, headers=document.headers)
        return self._client.session.get(url, params=params, **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return self._client.session.post(url, **kwargs)

    def close(self) -> None:
        # The session belongs to the client, which outlives any use msal makes of it.
        return None


@dataclass(frozen=True)
class EntraConfig:
    """Everything that identifies one msal application object."""

    client_id: str
    client_secret: str
    authority: str
    ca_bundle: str | None
    http_timeout: float

    @classmethod
    def from_settings(cls, conf: SSOSettings) -> EntraConfig:
        """Read the configuration; raises :class:`NotConfigured` when it is incomplete."""
        if not conf.application_id or not conf.client_secret:
            raise NotConfigured("MICROSOFT_SSO_APPLICATION_ID or _CLIENT_SECRET is empty")
        if not conf.tenant_id and not conf.value("AUTHORITY"):
            raise NotConfigured("MICROSOFT_SSO_TENANT_ID and _AUTHORITY are both empty")
        return cls(
            client_id=conf.application_id,
            client_secret=conf.client_secret,
            authority=conf.authority,
            ca_bundle=conf.ca_bundle,
            http_timeout=conf.http_timeout,
        )


def _nonce_sent_by_msal(flow_nonce: str) -> str:
    """The nonce msal put in the authorization request: the SHA-256 hex of the flow's."""
    return hashlib.sha256(flow_nonce.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class AuthorizationRequest:
    """Where to send the browser, and what :meth:`EntraClient.redeem` needs afterwards."""

    url: str
    #: msal's flow, holding secrets (``code_verifier``, ``nonce``): keep it server-side.
    flow: dict[str, Any]


@dataclass(frozen=True)
class RedeemedCode:
    """What an authorization code was exchanged for."""

    claims: MicrosoftClaims
    #: For Microsoft Graph (the scopes requested), used only on group overage. Never
    #: logged, stored or returned.
    access_token: str | None = field(default=None, repr=False)


class EntraClient:
    """The identity platform as one configuration sees it. Thread-safe; share it."""

    def __init__(self, config: EntraConfig) -> None:
        self.config = config
        self.session = IdentityPlatformSession(
            verify=config.ca_bundle or True, timeout=config.http_timeout
        )
        self._lock = threading.Lock()
        self._app: Any = None
        self._keys: SigningKeys | None = None
        self._keys_uri: str | None = None
        # Separate from _lock: msal asks for the discovery document while msal_app() holds
        # _lock, and a threading.Lock is not reentrant.
        self._discovery_lock = threading.Lock()
        self._validated_access_tokens: LocalCache[EntraAccessToken] = LocalCache(
            VALIDATED_ACCESS_TOKENS_KEPT
        )
        self._discovery: tuple[float, DiscoveryDocument] | None = None

    def discovery(self) -> DiscoveryDocument:
        """The authority's discovery document, fetched at most once per ``DISCOVERY_TTL_SECONDS``.

        Only a document with every field :class:`ProviderMetadata` needs is kept. Raises
        :class:`ProviderUnavailable` when it cannot be fetched or lacks such a field.
        """
        with self._discovery_lock:
            cached = self._discovery
        if cached is not None and time.monotonic() - cached[0] < DISCOVERY_TTL_SECONDS:
            return cached[1]
        # Fetched outside the lock: with a slow platform, concurrent first requests each
        # wait one timeout rather than one timeout per request queued behind the lock.
        document = fetch_discovery(self.session, self.config.authority)
        with self._discovery_lock:
            self._discovery = (time.monotonic(), document)
        return document

    def forget_discovery(self) -> None:
        """Drop the kept discovery document (after a failure that may mean it changed)."""
        with self._discovery_lock:
            self._discovery = None

    def metadata(self) -> ProviderMetadata:
        """The authority's metadata; raises :class:`ProviderUnavailable` as :meth:`discovery`."""
        return self.discovery().metadata

    def signing_keys(self) -> SigningKeys:
        """The keys behind the metadata's ``jwks_uri``, one :class:`SigningKeys` per URI."""
        jwks_uri = self.metadata().jwks_uri
        with self._lock:
            if self._keys is None or self._keys_uri != jwks_uri:
                self._keys = SigningKeys(self.session, jwks_uri)
                self._keys_uri = jwks_uri
            return self._keys

    def msal_app(self) -> Any:
        """The shared msal application, built on first use.

        Raises :class:`ProviderUnavailable` when the authority cannot be reached; a failed
        build is not remembered, so the next request tries again.
        """
        with self._lock:
            if self._app is None:
                try:
                    self._app = msal.ConfidentialClientApplication(
                        self.config.client_id,
                        client_credential=self.config.client_secret,
                        authority=self.config.authority,
                        http_client=_MsalHttpClient(self),
                        http_cache=_NoHttpCache(),
                        token_cache=_DiscardingTokenCache(),
                        instance_discovery=False,
                        timeout=self.config.http_timeout,
                    )
                except (requests.RequestException, ValueError, RuntimeError) as exc:
                    self.forget_discovery()
                    raise ProviderUnavailable("could not load the authority's metadata") from exc
            return self._app

    def initiate(
        self,
        *,
        scopes: list[str],
        redirect_uri: str,
        state: str,
        response_mode: str,
        prompt: str | None = None,
        login_hint: str | None = None,
        domain_hint: str | None = None,
    ) -> AuthorizationRequest:
        """Start an authorization code flow with PKCE and nonce."""
        flow = dict(
            self.msal_app().initiate_auth_code_flow(
                scopes,
                redirect_uri=redirect_uri,
                state=state,
                prompt=prompt,
                login_hint=login_hint,
                domain_hint=domain_hint,
                response_mode=response_mode,
            )
        )
        # The URL is for the browser; redeeming needs the rest only. Stored without it,
        # a pending flow takes half the room in the cache.
        return AuthorizationRequest(url=flow.pop("auth_uri"), flow=flow)

    def redeem(
        self, flow: dict[str, Any], auth_response: dict[str, str], scopes: list[str]
    ) -> RedeemedCode:
        """Exchange the authorization code; returns the validated id_token claims and the
        access token of the same answer.

        Raises :class:`ProviderUnavailable` (network, timeout, 429, 5xx, malformed answer),
        :class:`TokenExchangeFailed` (Microsoft refused the code) or
        :class:`InvalidIdToken`.
        """
        app = self.msal_app()
        try:
            result = app.acquire_token_by_auth_code_flow(flow, auth_response, scopes=scopes)
        except requests.RequestException as exc:
            raise ProviderUnavailable("token endpoint unreachable or failing") from exc
        except msal.exceptions.MsalServiceError as exc:
            raise ProviderUnavailable("token endpoint failing") from exc
        except (ValueError, RuntimeError) as exc:
            # msal's own consistency checks (state, nonce, malformed id_token).
            raise InvalidIdToken("msal refused the token response") from exc
        if not isinstance(result, dict):
            raise ProviderError("unexpected token response")
        if "error" in result:
            error = str(result.get("error"))
            # Microsoft's error_description may quote request data: log the code only.
            codes = result.get("error_codes")
            if error in _TRANSIENT_OAUTH_ERRORS:
                raise ProviderUnavailable(f"token endpoint error {error} {codes}")
            raise TokenExchangeFailed(f"token endpoint error {error} {codes}")
        raw_id_token = result.get("id_token")
        if not isinstance(raw_id_token, str):
            raise InvalidIdToken("token response has no id_token")
        claims = validate_id_token(
            raw_id_token,
            metadata=self.metadata(),
            keys=self.signing_keys(),
            client_id=self.config.client_id,
            nonce=_nonce_sent_by_msal(str(flow.get("nonce", ""))),
        )
        access_token = result.get("access_token")
        return RedeemedCode(
            claims=claims, access_token=access_token if isinstance(access_token, str) else None
        )

    def validate_access_token(self, raw_token: str, conf: SSOSettings) -> EntraAccessToken:
        """An Entra access token for this API, validated (see
        :mod:`sso_api.entra.access_token`) against the cached metadata and keys.

        A token that passed is remembered, in this process, for at most
        :data:`VALIDATED_ACCESS_TOKEN_SECONDS` and never past its expiry: the same token
        under the same audiences, scope and client list is then accepted without being
        parsed or verified again. After that it is verified in full, against the key set
        as this process then holds it, so a signing key Microsoft withdraws stops counting
        at most that long after the key set is refetched. Only passes are remembered: a
        refusal is decided afresh each time. A bearer token that is not Microsoft's at all
        is told apart before the metadata or the keys are needed, so it never waits on
        Microsoft. Raises :class:`NotAnEntraToken`, :class:`InvalidEntraToken`,
        :class:`EntraScopeMissing`, :class:`EntraClientNotAllowed` or
        :class:`ProviderUnavailable`.
        """
        audiences, scope, client_ids = conf.api_audiences, conf.api_scope, conf.api_client_ids
        # A digest, not the token: constant-size keys, and no bearer token kept in memory.
        cache_key = (
            hashlib.sha256(raw_token.encode()).digest(),
            tuple(audiences),
            scope,
            tuple(client_ids),
        )
        token = self._validated_access_tokens.get(cache_key)
        now = time.time()
        if token is not None and now < token.expires_at + CLOCK_SKEW_SECONDS:
            return token
        # Our own JWTs (and any other bearer token) are refused here, with no network call.
        unverified_entra_parts(raw_token)
        token = validate_access_token(
            raw_token,
            metadata=self.metadata(),
            keys=self.signing_keys(),
            audiences=audiences,
            scope=scope,
            client_ids=client_ids,
        )
        remembered_for = min(
            VALIDATED_ACCESS_TOKEN_SECONDS, token.expires_at + CLOCK_SKEW_SECONDS - now
        )
        self._validated_access_tokens.set(cache_key, token, seconds=remembered_for)
        return token

    def transitive_group_ids(self, graph_url: str, access_token: str | None) -> tuple[str, ...]:
        """The user's groups from Microsoft Graph (see :mod:`sso_api.entra.graph`).

        Raises :class:`GroupsUnavailable` on any failure, including no access token.
        """
        if not access_token:
            raise GroupsUnavailable("no access token to ask Microsoft Graph with")
        return graph.transitive_group_ids(self.session, graph_url, access_token)

    def end_session_url(self, post_logout_redirect_uri: str | None) -> str | None:
        """Microsoft's end-session URL, with the redirect parameter URL-encoded."""
        endpoint = self.metadata().end_session_endpoint
        if not endpoint:
            return None
        if not post_logout_redirect_uri:
            return endpoint
        separator = "&" if "?" in endpoint else "?"
        query = urlencode({"post_logout_redirect_uri": post_logout_redirect_uri})
        return f"{endpoint}{separator}{query}"


_clients: dict[EntraConfig, EntraClient] = {}
_clients_lock = threading.Lock()


def entra_client(conf: SSOSettings) -> EntraClient:
    """The shared client for the configuration that applies to ``conf``'s request."""
    config = EntraConfig.from_settings(conf)
    with _clients_lock:
        client = _clients.get(config)
        if client is None:
            client = _clients[config] = EntraClient(config)
        return client


def clear_clients() -> None:
    """Forget every shared client (tests that change the authority use this)."""
    with _clients_lock:
        _clients.clear()
