"""A fake Microsoft identity platform (Entra ID v2.0 endpoints) served over real HTTPS.

It stands in for ``login.microsoftonline.com`` so that the real ``msal`` library, our
own Entra validation and a real browser can run the authorization code flow with PKCE
end to end, on loopback, with tokens signed by keys the fake publishes. The URL layout
is Entra's, where ``{tenant}`` is a tenant id, a tenant domain, ``common`` or
``organizations``:

- ``GET /{tenant}/v2.0/.well-known/openid-configuration``: OpenID Provider metadata;
- ``GET /{tenant}/discovery/v2.0/keys``: the JWKS;
- ``GET|POST /{tenant}/oauth2/v2.0/authorize``: the sign-in (and consent) pages;
- ``POST /{tenant}/oauth2/v2.0/token``: authorization code, refresh token and client
  credentials grants; access tokens for Graph or for an API registered on the platform;
  a single-page app's cross-origin calls from the browser, with CORS (and ``OPTIONS``,
  the preflight), as Entra answers them for redirect URIs of the "Single-page
  application" platform
  (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#redirect-uris-for-single-page-apps-spas);
- ``GET|POST /{tenant}/oauth2/v2.0/logout``: ends the session, front-channel logout.

Under ``/graph`` it also plays Microsoft Graph for what an app asks on group overage
(``GET /graph/v1.0/me/transitiveMemberOf``, ``POST
/graph/v1.0/users/{id}/getMemberObjects``; see :mod:`sso_api.testing.graph`), for
callers holding an access token the platform issued.

On request (``browser_port``), the two endpoints a person's browser is sent to, authorize
and logout, are also served over plain HTTP on a second loopback port, and the discovery
documents name those addresses. A browser then signs in without a certificate warning,
while everything a server calls (discovery, keys, token) stays behind the fake's own CA.
The token endpoint is served on that port too, but only to cross-origin requests (those
with an ``Origin`` header, which a browser sends and a server's HTTP library does not), so
that a single-page app can redeem its code from the browser; the discovery documents keep
naming the HTTPS token endpoint, which is the one servers use.

Behaviour follows Microsoft's description of the v2.0 authorization code flow
(https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow) and of
front-channel logout (https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc).
Where it is stricter, on purpose:

- every malformed authorization request gets an error page (no redirect), so only the
  user's own outcomes (cancel, declined consent, a disabled account, prompt=none
  without a session) travel back to the app as ``error=...``;
- PKCE with S256 is required, which Entra only demands of single-page apps;
- an authorization code is spent by any redemption attempt by its own client, even
  one with a wrong ``redirect_uri`` or ``code_verifier``;
- a cross-origin token request is answered with CORS headers only when its ``Origin`` is
  the origin of one of the named client's SPA redirect URIs (a preflight, which names no
  client: of any registered app's), and is refused (AADSTS9002326) otherwise. Microsoft
  documents the rule for SPA redirect URIs, not which origins it lets read the answer.
"""

from __future__ import annotations

import hmac
import json
import os
import re
import secrets
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Literal
from urllib.parse import unquote, urlencode, urlsplit

from . import graph
from .browser import AuthorizationResponse, drive_authorization
from .certificates import ensure_certificates
from .claims import (
    GRAPH_APP_ID,
    GROUP_OVERAGE_LIMIT,
    TOKEN_LIFETIME,
    access_token_claims,
    api_access_token_claims,
    app_only_access_token_claims,
    apply_claim_changes,
    client_info,
    group_membership_claims,
    id_token_claims,
    object_id_from_login_hint,
    service_principal_id,
)
from .directory import (
    OPTIONAL_ACCESS_TOKEN_CLAIMS,
    AccessTokenVersion,
    FakeApi,
    FakeApp,
    FakeGroup,
    FakeTenant,
    FakeUser,
)
from .faults import Faults, SigningFault
from .pages import (
    ACTION_FIELD,
    CANCEL_ACTION,
    CONSENT_FIELD,
    USER_FIELD,
    consent_page,
    error_page,
    form_post_page,
    sign_in_page,
    signed_out_page,
)
from .protocol import (
    EntraError,
    Trace,
    basic_credentials,
    echo,
    malformed,
    missing_parameter,
    parameters,
    pkce_matches,
    required,
    with_query,
)
from .resources import (
    DEFAULT_SCOPE,
    OIDC_SCOPES,
    RequestedResource,
    client_credentials_resource,
    requested_resources,
    single_resource,
)
from .server import HttpRequest, HttpResponse, HttpServer, HttpsServer
from .signing import KeyRing

__all__ = [
    "AUTHORIZATION_CODE_LIFETIME",
    "GRAPH_PATH",
    "MULTI_TENANT_SEGMENTS",
    "SESSION_COOKIE",
    "Endpoint",
    "FakeIdentityPlatform",
    "RecordedRequest",
]

Endpoint = Literal["metadata", "authorize", "token", "keys", "logout", "graph", "other"]

#: Authority segments that stand for "any organization" rather than one tenant.
MULTI_TENANT_SEGMENTS: tuple[str, ...] = ("common", "organizations")
#: Where the fake's Microsoft Graph is, under the base URL (so no tenant may be "graph").
GRAPH_PATH = "/graph"
#: The fake's own browser-session cookie, set when a sign-in completes.
SESSION_COOKIE = "fake_idp_session"
#: Seconds an authorization code stays redeemable (Entra: about ten minutes).
AUTHORIZATION_CODE_LIFETIME = 600

_ROUTES: dict[tuple[str, ...], Endpoint] = {
    ("v2.0", ".well-known", "openid-configuration"): "metadata",
    ("discovery", "v2.0", "keys"): "keys",
    ("oauth2", "v2.0", "authorize"): "authorize",
    ("oauth2", "v2.0", "token"): "token",
    ("oauth2", "v2.0", "logout"): "logout",
}
# What the plain-HTTP listener serves: the pages a browser is sent to, and the token
# endpoint to a browser's cross-origin calls only (see _served_over_plain_http). A
# server's calls (discovery, keys, token) are answered over TLS only, so their CA bundle
# stays in use.
_BROWSER_ENDPOINTS: frozenset[Endpoint] = frozenset({"authorize", "logout"})
# What a CORS preflight of the token endpoint may ask to send: header names, listed.
_REQUESTED_HEADERS = re.compile(r"[A-Za-z0-9-]+(?:[ \t]*,[ \t]*[A-Za-z0-9-]+)*")
# How long a browser may reuse a preflight's answer, in seconds.
_PREFLIGHT_MAX_AGE = "600"
_FAVICON_PATH = "/favicon.ico"
# A white key on grey: the fake's own mark, not Microsoft's.
_FAVICON = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    b'<rect width="32" height="32" rx="6" fill="#5c6670"/>'
    b'<circle cx="12" cy="16" r="6" fill="none" stroke="#fff" stroke-width="3"/>'
    b'<path d="M18 16h10M24 16v5M28 16v4" stroke="#fff" stroke-width="3" fill="none"/>'
    b"</svg>"
)
_PROMPTS = frozenset({"none", "login", "select_account", "consent"})
_RESPONSE_MODES = frozenset({"query", "fragment", "form_post"})
# A delegated permission's name: no blanks, and no "/" (which separates it from its API).
_PERMISSION_NAME = re.compile(r"[A-Za-z0-9._~:+-]+")
# RFC 7636 §4.2: an S256 challenge is the unpadded base64url of a SHA-256, 43 characters.
_S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
_SECONDS = re.compile(r"[0-9]{1,9}")
_CLAIMS_SUPPORTED = [
    "sub", "iss", "aud", "exp", "iat", "nbf", "auth_time", "nonce", "name", "given_name",
    "family_name", "preferred_username", "email", "xms_edov", "oid", "tid", "sid", "ver",
    "acct", "idp", "roles", "groups", "hasgroups", "_claim_names", "_claim_sources",
    "login_hint",
]  # fmt: skip
_GRAPH_UNAUTHENTICATED = [("WWW-Authenticate", 'Bearer realm="", error="invalid_token"')]

# The user's own outcomes, which go back to the app's redirect URI.
_USER_CANCELED = EntraError("access_denied", 65004, "The user canceled the sign-in.")
_CONSENT_DECLINED = EntraError(
    "access_denied", 65004, "The user declined to consent to access the app."
)
_USER_DISABLED = EntraError("access_denied", 50057, "The user account is disabled.")
_LOGIN_REQUIRED = EntraError(
    "login_required", 50058, "A silent sign-in was requested but no user is signed in."
)
_CONSENT_REQUIRED = EntraError(
    "consent_required", 65001, "The user has not consented to use the application."
)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the platform served: method, path (no query), endpoint, status."""

    method: str
    path: str
    endpoint: Endpoint
    status: int


@dataclass(frozen=True)
class _AuthorizeRequest:
    """A validated authorization request."""

    authority: str  # the tenant id, or "common" / "organizations"
    tenant: FakeTenant | None  # None for the multi-tenant authorities
    app: FakeApp
    redirect_uri: str
    response_mode: str
    scopes: tuple[str, ...]
    state: str | None
    nonce: str | None
    code_challenge: str
    prompt: str | None
    login_hint: str | None
    domain_hint: str | None
    client_info: bool
    max_age: int | None
    # The protocol parameters as received. The sign-in and consent pages post them
    # back, so each step re-validates the whole request instead of trusting state.
    original: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class _Grant:
    """What an authorization code or a refresh token stands for."""

    client_id: str
    user_object_id: str
    scopes: tuple[str, ...]
    sid: str
    nonce: str | None
    auth_time: int | None
    # Issued at a single-page app's redirect URI: its tokens are redeemed cross-origin only.
    spa_redirect: bool = False


@dataclass
class _AuthorizationCode:
    grant: _Grant
    authority: str
    redirect_uri: str
    code_challenge: str
    expires_at: float
    redeemed: bool = False


@dataclass
class _Session:
    """The fake's browser session: one sign-in of one user, shared by the apps it served.

    ``sid`` is the ``sid`` claim of every id_token issued in it; ``sign_ins`` maps the
    client id of each app it signed into to the issuer of that app's tokens.
    """

    sid: str
    session_state: str
    cookie: str
    user_object_id: str
    auth_time: int
    sign_ins: dict[str, str] = field(default_factory=dict)


class FakeIdentityPlatform:
    """A fake Entra ID over HTTPS on loopback, with a directory, faults and a request log.

    Construction generates (or reuses, see
    :func:`~sso_api.testing.certificates.ensure_certificates`) the TLS certificates in
    ``certificate_dir`` (a temporary directory when None), creates the token signing
    key and binds the port, so :attr:`base_url` is final at once; :meth:`start` begins
    serving in a background thread and :meth:`stop` ends it. Also a context manager.
    ``port=0`` picks a free port.

    ``browser_port`` (None by default) asks for the browser's side over plain HTTP: the
    authorize and logout pages are then also served on that port (0 picks a free one)
    of the same host, and the discovery documents name them (see
    :attr:`browser_base_url`). By default everything is HTTPS, as at Entra.

    Clients must trust :attr:`ca_bundle`. Every method is safe to call from the test
    thread while the server thread serves requests.

    Two settings shape the directory's answers, and tests may change them:
    :attr:`group_overage_limit` and :attr:`graph_page_size`. :meth:`reset_faults`
    restores both.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        certificate_dir: str | os.PathLike[str] | None = None,
        browser_port: int | None = None,
    ) -> None:
        self._temporary_directory: tempfile.TemporaryDirectory[str] | None = None
        if certificate_dir is None:
            self._temporary_directory = tempfile.TemporaryDirectory(prefix="fake-idp-")
            certificate_dir = self._temporary_directory.name
        self._browser_server: HttpServer | None = None
        try:
            certificates = ensure_certificates(certificate_dir)
            self._keys = KeyRing()
            self._server = HttpsServer(
                host,
                port,
                certificate_file=str(certificates.server_certificate),
                key_file=str(certificates.server_key),
                application=self._handle,
            )
            if browser_port is not None:
                try:
                    self._browser_server = HttpServer(host, browser_port, application=self._handle)
                except BaseException:
                    self._server.server_close()
                    raise
        except BaseException:
            if self._temporary_directory is not None:
                self._temporary_directory.cleanup()
            raise
        self._ca_bundle = str(certificates.ca_certificate)
        netloc_host = f"[{host}]" if ":" in host else host
        self._base_url = f"https://{netloc_host}:{self._server.port}"
        self._browser_base_url = (
            f"http://{netloc_host}:{self._browser_server.port}"
            if self._browser_server is not None
            else self._base_url
        )
        #: The misbehaviour switches; see :class:`~sso_api.testing.Faults`.
        self.faults = Faults()
        #: A user in more groups than this (direct and nested) gets an overage indicator
        #: instead of the ``groups`` claim (Entra: 200 in a JWT).
        self.group_overage_limit: int = GROUP_OVERAGE_LIMIT
        #: At most this many members on a Graph page, whatever ``$top`` asks (None:
        #: ``$top``, or Graph's default of 100), so a few groups can fill several pages.
        self.graph_page_size: int | None = None
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._state: Literal["created", "serving", "stopped"] = "created"
        self._tenants: dict[str, FakeTenant] = {}  # by lower-cased tenant id
        self._users: dict[str, FakeUser] = {}  # by object id
        self._groups: dict[str, FakeGroup] = {}  # by lower-cased object id
        # The uti of every access token issued: Graph serves only those.
        self._access_token_ids: set[str] = set()
        self._skip_tokens = graph.SkipTokens()
        self._apps: dict[str, FakeApp] = {}  # by client id
        self._codes: dict[str, _AuthorizationCode] = {}
        self._refresh_tokens: dict[str, _Grant] = {}
        self._sessions: dict[str, _Session] = {}  # by sid
        self._requests: list[RecordedRequest] = []

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Begin serving in a background thread; raises ``RuntimeError`` if already used."""
        with self._lock:
            if self._state != "created":
                raise RuntimeError(f"the platform is {self._state}; create a new one")
            self._state = "serving"
        self._server.start()
        if self._browser_server is not None:
            self._browser_server.start()

    def stop(self) -> None:
        """Stop serving and release the port and temporary files. Idempotent."""
        with self._lock:
            if self._state == "stopped":
                return
            self._state = "stopped"
        # Wakes token requests sleeping in a delay fault so their threads end promptly.
        self._stopped.set()
        self._server.stop()
        if self._browser_server is not None:
            self._browser_server.stop()
        if self._temporary_directory is not None:
            self._temporary_directory.cleanup()

    def __enter__(self) -> FakeIdentityPlatform:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``https://HOST:PORT``, the stand-in for ``https://login.microsoftonline.com``."""
        return self._base_url

    @property
    def browser_base_url(self) -> str:
        """Where the authorize and logout pages are: ``http://HOST:BROWSER_PORT``.

        Equal to :attr:`base_url` unless ``browser_port`` was given.
        """
        return self._browser_base_url

    @property
    def ca_bundle(self) -> str:
        """Path of the PEM CA certificate clients must trust to reach the platform."""
        return self._ca_bundle

    @property
    def graph_url(self) -> str:
        """``{base_url}/graph``, the stand-in for ``https://graph.microsoft.com``.

        HTTPS only, behind :attr:`ca_bundle`, even with a ``browser_port``. Use it as
        ``MICROSOFT_SSO_GRAPH_URL``.
        """
        return f"{self._base_url}{GRAPH_PATH}"

    def authority(self, tenant: FakeTenant | str) -> str:
        """The authority URL for msal: ``{base_url}/{tenant}``.

        ``tenant`` is a :class:`FakeTenant` (its id is used) or any string: a tenant
        id, a domain, ``common`` or ``organizations``. Strings are not checked, so a
        test can build the authority of a tenant that does not exist.
        """
        segment = tenant.tenant_id if isinstance(tenant, FakeTenant) else tenant
        return f"{self._base_url}/{segment}"

    # -- directory -------------------------------------------------------------------

    def add_tenant(self, name: str, domain: str, tenant_id: str | None = None) -> FakeTenant:
        """Create a tenant; ``tenant_id`` defaults to a random UUID.

        Raises ``ValueError`` when the id or domain is taken, is one of the
        multi-tenant segments, or is ``graph`` (where the fake's Graph is).
        """
        tenant_id = tenant_id or str(uuid.uuid4())
        for value in (tenant_id, domain):
            reserved = (*MULTI_TENANT_SEGMENTS, GRAPH_PATH.strip("/"))
            if value.lower() in reserved or not value or "/" in value:
                raise ValueError(f"{value!r} cannot name a tenant")
        tenant = FakeTenant(
            tenant_id=tenant_id,
            name=name,
            domain=domain,
            issuer=f"{self._base_url}/{tenant_id}/v2.0",
        )
        with self._lock:
            if self._find_tenant(tenant_id) or self._find_tenant(domain):
                raise ValueError(f"a tenant with id {tenant_id!r} or domain {domain!r} exists")
            self._tenants[tenant_id.lower()] = tenant
        return tenant

    def add_group(
        self,
        tenant: FakeTenant | str,
        name: str,
        member_of: Sequence[FakeGroup | str] = (),
        object_id: str | None = None,
    ) -> FakeGroup:
        """Create a security group in ``tenant`` (a tenant, its id or its domain).

        ``member_of`` are the groups (objects or object ids) this group is a member of,
        which must exist in the same tenant. ``object_id`` defaults to a random UUID.
        Raises ``ValueError`` for an unknown tenant, an unknown or foreign parent group,
        or a taken object id.
        """
        with self._lock:
            resource_tenant = self._find_tenant(
                tenant.tenant_id if isinstance(tenant, FakeTenant) else tenant
            )
            if resource_tenant is None:
                raise ValueError(f"no tenant {tenant!r}; add it first")
            parents = []
            for parent in member_of:
                parent_id = parent.object_id if isinstance(parent, FakeGroup) else parent
                known = self._groups.get(parent_id.lower())
                if known is None or known.tenant_id != resource_tenant.tenant_id:
                    raise ValueError(f"no group {parent_id!r} in tenant {resource_tenant.name!r}")
                parents.append(known.object_id)
            object_id = object_id or str(uuid.uuid4())
            self._claim_object_id(object_id)
            group = FakeGroup(
                object_id=object_id,
                tenant_id=resource_tenant.tenant_id,
                name=name,
                member_of=tuple(dict.fromkeys(parents)),
            )
            self._groups[object_id.lower()] = group
        return group

    def add_user(
        self,
        tenant: FakeTenant | str,
        name: str,
        email: str | None = None,
        email_verified: bool | None = True,
        guest: bool = False,
        home_tenant: FakeTenant | None = None,
        disabled: bool = False,
        given_name: str | None = None,
        family_name: str | None = None,
        preferred_username: str | None = None,
        roles: Sequence[str] = (),
        groups: Sequence[FakeGroup | str] = (),
        object_id: str | None = None,
        directory_roles: Sequence[str] = (),
    ) -> FakeUser:
        """Create a user object in ``tenant`` (a tenant, its id or its domain).

        ``preferred_username`` defaults to ``email``, or to a name-based address in the
        tenant's domain when there is no email. ``object_id`` defaults to a random UUID.
        ``groups`` are the groups the user is a direct member of: :class:`FakeGroup`
        objects of the same tenant, or object ids (kept as given; ids of groups the
        platform knows bring their nesting). ``directory_roles`` are directory role
        names, listed by Graph only. Raises ``ValueError`` for an unknown tenant, a taken
        object id, a group of another tenant, or a ``home_tenant`` on a non-guest.
        """
        if home_tenant is not None and not guest:
            raise ValueError("home_tenant is only meaningful for guests")
        with self._lock:
            resource_tenant = self._find_tenant(
                tenant.tenant_id if isinstance(tenant, FakeTenant) else tenant
            )
            if resource_tenant is None:
                raise ValueError(f"no tenant {tenant!r}; add it first")
            group_ids = []
            for group in groups:
                if isinstance(group, FakeGroup):
                    if group.tenant_id != resource_tenant.tenant_id:
                        raise ValueError(f"group {group.name!r} is not in the user's tenant")
                    group_ids.append(group.object_id)
                else:
                    group_ids.append(group)
            object_id = object_id or str(uuid.uuid4())
            self._claim_object_id(object_id)
            user = FakeUser(
                object_id=object_id,
                tenant_id=resource_tenant.tenant_id,
                name=name,
                email=email,
                email_verified=email_verified,
                guest=guest,
                home_tenant=home_tenant,
                disabled=disabled,
                given_name=given_name,
                family_name=family_name,
                preferred_username=preferred_username
                or email
                or f"{'.'.join(name.lower().split()) or 'user'}@{resource_tenant.domain}",
                roles=tuple(roles),
                groups=tuple(dict.fromkeys(group_ids)),
                directory_roles=tuple(directory_roles),
            )
            self._users[object_id] = user
        return user

    def _claim_object_id(self, object_id: str) -> None:
        # Caller holds the lock. Users and groups share one directory, so one id space.
        if object_id in self._users or object_id.lower() in self._groups:
            raise ValueError(f"object id {object_id!r} is taken")

    def register_app(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        redirect_uris: tuple[str, ...] | list[str] = (),
        front_channel_logout_url: str | None = None,
        require_consent: bool = False,
        public_client: bool = False,
        spa_redirect_uris: Sequence[str] = (),
    ) -> FakeApp:
        """Register a client; the id is random when not given.

        A confidential client (the default) gets ``client_secret``, or a random one. A
        public client (``public_client``: a single-page, mobile or desktop app) has no
        secret (``client_secret`` is empty) and redeems its codes with PKCE alone; the
        token endpoint refuses any secret it sends.

        ``spa_redirect_uris`` are redirect URIs of the "Single-page application"
        platform, absolute http(s) URLs, for a public client (Entra also allows them on
        a web app, for its hybrid flow, which the fake does not play). A code issued to
        one is redeemed from the browser: the token endpoint then answers requests from
        the origins of these URIs with CORS headers, and refuses the same request
        without an ``Origin`` (AADSTS9002327).

        Raises ``ValueError`` when the client id is taken, for a secret given to a
        public client, or for SPA redirect URIs on a confidential client, not absolute
        http(s) URLs, or also listed in ``redirect_uris``.
        """
        if public_client and client_secret is not None:
            raise ValueError("a public client has no client secret")
        if spa_redirect_uris and not public_client:
            raise ValueError("only a public client has single-page application redirect URIs")
        for uri in spa_redirect_uris:
            if _origin_of(uri) is None:
                raise ValueError(f"{uri!r} is not an absolute http or https URL")
            if uri in redirect_uris:
                raise ValueError(f"{uri!r} cannot be a redirect URI of two platforms")
        app = FakeApp(
            client_id=client_id or str(uuid.uuid4()),
            client_secret="" if public_client else client_secret or secrets.token_urlsafe(30),
            redirect_uris=list(redirect_uris),
            front_channel_logout_url=front_channel_logout_url,
            require_consent=require_consent,
            public_client=public_client,
            spa_redirect_uris=list(spa_redirect_uris),
        )
        with self._lock:
            if app.client_id in self._apps or self._find_api(app.client_id) is not None:
                raise ValueError(f"client id {app.client_id!r} is taken")
            self._apps[app.client_id] = app
        return app

    def expose_api(
        self,
        app: FakeApp,
        identifier_uri: str | None = None,
        scopes: Sequence[str] = ("access_as_user",),
        access_token_version: AccessTokenVersion = 1,
        app_roles: Sequence[str] = (),
        optional_claims: Sequence[str] = ("idtyp",),
    ) -> FakeApi:
        """Make the registration ``app`` expose a web API, as Entra's "Expose an API" does.

        ``identifier_uri`` is the Application ID URI, ``api://<client id>`` by default.
        ``scopes`` are the delegated permissions clients may ask for.
        ``access_token_version`` is ``accessTokenAcceptedVersion``: 1 (Entra's default)
        or 2. ``app_roles`` are the roles applications can be granted
        (:meth:`grant_app_roles`). ``optional_claims`` are among ``idtyp``, ``email`` and
        ``xms_edov``. Exposing again replaces the previous settings; the returned
        :class:`FakeApi` (also ``app.api``) may be changed between requests.

        Raises ``ValueError`` for an app this platform did not register, an identifier
        URI another app uses, an unknown version or optional claim, or a scope name that
        is empty, ``.default``, or holds a blank or a ``/``.
        """
        identifier_uri = identifier_uri or f"api://{app.client_id}"
        if access_token_version not in (1, 2):
            raise ValueError("access_token_version is 1 or 2")
        unknown_claims = set(optional_claims) - OPTIONAL_ACCESS_TOKEN_CLAIMS
        if unknown_claims:
            raise ValueError(f"unknown optional claims {sorted(unknown_claims)}")
        if not scopes:
            raise ValueError("an API exposes at least one scope")
        for scope in scopes:
            if scope == DEFAULT_SCOPE or not _PERMISSION_NAME.fullmatch(scope):
                raise ValueError(f"{scope!r} cannot name a scope")
        api = FakeApi(
            identifier_uri=identifier_uri,
            scopes=tuple(dict.fromkeys(scopes)),
            access_token_version=access_token_version,
            app_roles=tuple(dict.fromkeys(app_roles)),
            optional_claims=tuple(dict.fromkeys(optional_claims)),
        )
        with self._lock:
            if self._apps.get(app.client_id) is not app:
                raise ValueError(f"the app {app.client_id!r} is not registered here")
            holder = self._find_api(identifier_uri) or self._apps.get(identifier_uri)
            if holder is not None and holder is not app:
                raise ValueError(f"the identifier URI {identifier_uri!r} is taken")
            app.api = api
        return api

    def grant_app_roles(self, client: FakeApp, api: FakeApp, roles: Sequence[str]) -> None:
        """Grant ``client`` the app roles ``roles`` of the API ``api`` exposes.

        What an administrator does by consenting to application permissions: the
        client's app-only tokens for ``api`` (client credentials) then carry them in
        ``roles``. Adds to earlier grants. Raises ``ValueError`` when ``api`` exposes no
        API or does not define one of the roles for applications.
        """
        if api.api is None:
            raise ValueError(f"the app {api.client_id!r} exposes no API; call expose_api")
        undefined = [role for role in roles if role not in api.api.app_roles]
        if undefined:
            raise ValueError(f"the API defines no app roles {undefined} for applications")
        with self._lock:
            granted = client.app_role_grants.get(api.client_id, ())
            client.app_role_grants[api.client_id] = tuple(dict.fromkeys([*granted, *roles]))

    def service_principal_id(self, app: FakeApp, tenant: FakeTenant) -> str:
        """The object id of ``app``'s service principal in ``tenant``.

        The ``oid`` and ``sub`` of the app-only tokens ``app`` gets there; the same for
        the same client id and tenant id, on any platform.
        """
        return service_principal_id(app.client_id, tenant.tenant_id)

    def _find_api(self, name: str) -> FakeApp | None:
        # Caller holds the lock.
        return self._apis_by_name().get(name)

    def _api_finder(self) -> Callable[[str], FakeApp | None]:
        """A lookup of APIs by name over a snapshot of the registrations."""
        with self._lock:
            return self._apis_by_name().get

    def _apis_by_name(self) -> dict[str, FakeApp]:
        # Caller holds the lock. An API is named by its Application ID URI or client id.
        return {
            name: app
            for app in self._apps.values()
            if app.api is not None
            for name in (app.api.identifier_uri, app.client_id)
        }

    @property
    def tenants(self) -> list[FakeTenant]:
        """The tenants, in the order they were added."""
        with self._lock:
            return list(self._tenants.values())

    @property
    def users(self) -> list[FakeUser]:
        """The users of every tenant, in the order they were added."""
        with self._lock:
            return list(self._users.values())

    @property
    def groups(self) -> list[FakeGroup]:
        """The groups of every tenant, in the order they were added."""
        with self._lock:
            return list(self._groups.values())

    def transitive_group_ids(self, user: FakeUser) -> tuple[str, ...]:
        """The object ids of every group ``user`` is in, directly or through nesting.

        Direct groups first, in the user's order, then the groups they are in, and so
        on, each id once (a cycle of groups ends too). What the ``groups`` claim and
        Graph's ``transitiveMemberOf`` carry.
        """
        with self._lock:
            return self._transitive_group_ids(user)

    def _transitive_group_ids(self, user: FakeUser) -> tuple[str, ...]:
        # Caller holds the lock. Breadth first, so nearer groups come first.
        found: dict[str, str] = {}  # lower-cased id -> id as listed
        pending = list(user.groups)
        while pending:
            group_id = pending.pop(0)
            if group_id.lower() in found:
                continue
            group = self._groups.get(group_id.lower())
            found[group_id.lower()] = group.object_id if group is not None else group_id
            if group is not None:
                pending.extend(group.member_of)
        return tuple(found.values())

    @property
    def apps(self) -> list[FakeApp]:
        """The app registrations, in the order they were registered."""
        with self._lock:
            return list(self._apps.values())

    # -- test controls ---------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request served so far (a copy), oldest first."""
        with self._lock:
            return list(self._requests)

    def count(self, endpoint: Endpoint) -> int:
        """How many requests the endpoint has served since the last :meth:`clear_requests`."""
        with self._lock:
            return sum(1 for recorded in self._requests if recorded.endpoint == endpoint)

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._requests.clear()

    def reset_faults(self) -> None:
        """Turn every misbehaviour switch off (in place; see :meth:`Faults.reset`).

        Also restores :attr:`group_overage_limit` (200) and :attr:`graph_page_size`
        (None), so a test that changed them leaves the next one Entra's behaviour.
        """
        with self._lock:
            self.faults.reset()
            self.group_overage_limit = GROUP_OVERAGE_LIMIT
            self.graph_page_size = None

    def rotate_signing_key(self, keep_old: bool = False) -> str:
        """Sign with a new key (new kid) from now on; return the new kid.

        The previous keys leave the JWKS unless ``keep_old``.
        """
        return self._keys.rotate(keep_old=keep_old)

    def mint_access_token(
        self,
        user: FakeUser,
        *,
        api: FakeApp,
        client: FakeApp | None = None,
        scopes: Sequence[str] | None = None,
        version: AccessTokenVersion | None = None,
        issued_at: float | None = None,
        overrides: Mapping[str, object] | None = None,
        remove: Collection[str] = (),
        signing: SigningFault = "valid",
    ) -> str:
        """A delegated access token for ``api``, as the token endpoint would issue it, but
        without a sign-in and shaped as a test needs.

        By default it is exactly what ``client`` (default: ``api`` itself) would get for
        ``user`` asking for ``scopes`` (default: every scope the API exposes) by the
        Application ID URI, in the API's ``access_token_version`` (or ``version``),
        signed with the current published key. ``issued_at`` (default: the platform's
        clock) sets ``iat`` and ``nbf``, and ``exp`` an hour later, so a past or future
        time makes an expired or not yet valid token. ``overrides`` sets claims or
        replaces them (another ``aud``, ``iss`` or ``uti``), ``remove`` drops claims
        (``scp``), and ``signing`` forges the signature as the id_token fault of the
        same name does; ``"hs256_client_secret"`` keys HS256 with the API's secret.

        Raises ``ValueError`` when ``api`` exposes no API, or for a scope it does not
        expose.
        """
        exposed = _exposed_api(api)
        unknown = [scope for scope in scopes or () if scope not in exposed.scopes]
        if unknown:
            raise ValueError(f"the API exposes no scopes {unknown}")
        with self._lock:
            tenant = self._tenants[user.tenant_id.lower()]
        claims = api_access_token_claims(
            user,
            tenant=tenant,
            api_app=api,
            api=exposed,
            resource=exposed.identifier_uri,
            client=client or api,
            scopes=exposed.scopes if scopes is None else tuple(scopes),
            version=version or exposed.access_token_version,
            now=int(self._now() if issued_at is None else issued_at),
        )
        apply_claim_changes(claims, overrides or {}, remove)
        return self._keys.sign(claims, signing=signing, client_secret=api.client_secret)

    def mint_app_token(
        self,
        client: FakeApp,
        *,
        api: FakeApp,
        tenant: FakeTenant,
        version: AccessTokenVersion | None = None,
        issued_at: float | None = None,
        overrides: Mapping[str, object] | None = None,
        remove: Collection[str] = (),
        signing: SigningFault = "valid",
    ) -> str:
        """An app-only access token for ``api``, as ``client`` would get it in ``tenant``
        with the client credentials grant, without the request.

        ``roles`` are the app roles granted to ``client`` (:meth:`grant_app_roles`);
        ``version``, ``issued_at``, ``overrides``, ``remove`` and ``signing`` work as for
        :meth:`mint_access_token`. Raises ``ValueError`` when ``api`` exposes no API.
        """
        exposed = _exposed_api(api)
        claims = app_only_access_token_claims(
            client,
            tenant=tenant,
            api_app=api,
            api=exposed,
            resource=exposed.identifier_uri,
            roles=client.app_role_grants.get(api.client_id, ()),
            version=version or exposed.access_token_version,
            now=int(self._now() if issued_at is None else issued_at),
        )
        apply_claim_changes(claims, overrides or {}, remove)
        return self._keys.sign(claims, signing=signing, client_secret=api.client_secret)

    def authorize(
        self,
        authorization_url: str,
        user: FakeUser | None = None,
        cancel: bool = False,
        consent: bool = True,
    ) -> AuthorizationResponse:
        """Play the browser leg of a sign-in for ``authorization_url``.

        Over HTTPS, like a browser: loads the sign-in page, picks ``user`` (or presses
        Cancel when ``cancel``), accepts the consent page if one appears (declines it
        when ``consent`` is false) and returns how the answer would reach the redirect
        URI, without following it. A fresh sign-in each time: no session cookie is
        sent, so each call gets a new ``sid``.

        Raises :class:`AuthorizationRejected` when the platform shows an error page
        (malformed request, unknown client, unregistered redirect URI, a user of
        another tenant...) and ``ValueError`` when neither ``user`` nor ``cancel`` is
        given.
        """
        return drive_authorization(
            authorization_url,
            ca_bundle=self._ca_bundle,
            user_object_id=user.object_id if user is not None else None,
            cancel=cancel,
            consent=consent,
        )

    def front_channel_logout_requests(self, sid: str) -> list[str]:
        """The front-channel logout URLs a sign-out of session ``sid`` would load.

        One per app the session signed into that has a front-channel logout URL, each
        with ``sid`` and ``iss`` appended; empty for an unknown or ended session. It
        ends nothing: tests call the URLs themselves.
        """
        with self._lock:
            session = self._sessions.get(sid)
            return self._front_channel_urls(session) if session is not None else []

    # -- request dispatch ------------------------------------------------------------

    def _handle(self, request: HttpRequest) -> HttpResponse:
        endpoint, authority = _route(request.path)
        trace = Trace.for_request(request)
        if request.path == _FAVICON_PATH:
            response = _favicon(request)
        elif not request.secure and not _served_over_plain_http(endpoint, request):
            message = f"Not served over plain HTTP; use {self._base_url}."
            response = HttpResponse(404, message.encode())
        elif endpoint == "metadata":
            response = self._serve_metadata(request, authority, trace)
        elif endpoint == "keys":
            response = self._serve_keys(request, authority, trace)
        elif endpoint == "authorize":
            response = self._serve_authorize(request, authority, trace)
        elif endpoint == "token":
            response = self._serve_token(request, authority, trace)
        elif endpoint == "logout":
            response = self._serve_logout(request, authority, trace)
        elif endpoint == "graph":
            response = self._serve_graph(request, trace)
        else:
            response = HttpResponse(404, b"Not found.")
        # Recorded before the response leaves, so a test counting requests right after
        # its call returns never misses the one it just made.
        recorded = RecordedRequest(request.method, request.path, endpoint, response.status)
        with self._lock:
            self._requests.append(recorded)
        return response

    def _now(self) -> float:
        return time.time() + self.faults.clock_skew

    def _json(self, status: int, document: object) -> HttpResponse:
        return HttpResponse(
            status, json.dumps(document).encode(), "application/json; charset=utf-8"
        )

    def _json_error(self, error: EntraError, trace: Trace) -> HttpResponse:
        return self._json(error.status, trace.document(error, self._base_url))

    def _fault_error(self, status: int, trace: Trace) -> HttpResponse:
        kind = "temporarily_unavailable" if status in (429, 503) else "server_error"
        message = "The fake identity platform was told to fail this request."
        return self._json_error(EntraError(kind, 50000, message, status), trace)

    # -- discovery -------------------------------------------------------------------

    def _serve_metadata(self, request: HttpRequest, authority: str, trace: Trace) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return _method_not_allowed("GET, HEAD")
        if self.faults.metadata_status is not None:
            return self._fault_error(self.faults.metadata_status, trace)
        try:
            segment, tenant = self._resolve_authority(authority)
        except EntraError as error:
            return self._json_error(error, trace)
        # Like Entra, the endpoints of a tenant named by its domain use its id.
        endpoints = f"{self._base_url}/{segment}"
        # msal builds the authorization URL from this document, and the API the
        # end-session URL: the pages the browser goes to.
        pages = f"{self._browser_base_url}/{segment}"
        document = {
            "token_endpoint": f"{endpoints}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "jwks_uri": f"{endpoints}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": self._issuer_template(tenant),
            "request_uri_parameter_supported": False,
            "authorization_endpoint": f"{pages}/oauth2/v2.0/authorize",
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "frontchannel_logout_session_supported": True,
            "end_session_endpoint": f"{pages}/oauth2/v2.0/logout",
            "claims_supported": _CLAIMS_SUPPORTED,
            # Entra names a tenant's region, and none for the multi-tenant authorities.
            "tenant_region_scope": "EU" if tenant is not None else None,
            "cloud_instance_name": urlsplit(self._base_url).hostname,
        }
        return self._json(200, document)

    def _serve_keys(self, request: HttpRequest, authority: str, trace: Trace) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return _method_not_allowed("GET, HEAD")
        if self.faults.keys_endpoint_status is not None:
            return self._fault_error(self.faults.keys_endpoint_status, trace)
        try:
            _, tenant = self._resolve_authority(authority)
        except EntraError as error:
            return self._json_error(error, trace)
        return self._json(200, self._keys.jwks(self._issuer_template(tenant)))

    def _issuer_template(self, tenant: FakeTenant | None) -> str:
        # The multi-tenant metadata names no single issuer: Entra publishes this
        # template, and validators substitute the token's tid.
        return tenant.issuer if tenant is not None else f"{self._base_url}/{{tenantid}}/v2.0"

    def _resolve_authority(self, authority: str) -> tuple[str, FakeTenant | None]:
        """("common" | "organizations" | tenant id, tenant) for a URL's tenant segment."""
        if authority.lower() in MULTI_TENANT_SEGMENTS:
            return authority.lower(), None
        with self._lock:
            tenant = self._find_tenant(authority)
        if tenant is None:
            raise EntraError(
                "invalid_tenant",
                90002,
                f"Tenant '{echo(authority)}' not found. Check the tenant id or domain, "
                "and that you sign in to the right cloud.",
            )
        return tenant.tenant_id, tenant

    def _find_tenant(self, id_or_domain: str) -> FakeTenant | None:
        # Caller holds the lock.
        key = id_or_domain.lower()
        if key in self._tenants:
            return self._tenants[key]
        return next((t for t in self._tenants.values() if t.domain.lower() == key), None)

    def _issuer_of(self, user: FakeUser) -> str:
        # Caller holds the lock. Users only exist in tenants that exist.
        return self._tenants[user.tenant_id.lower()].issuer

    # -- authorize -------------------------------------------------------------------

    def _serve_authorize(self, request: HttpRequest, authority: str, trace: Trace) -> HttpResponse:
        if request.method not in ("GET", "HEAD", "POST"):
            return _method_not_allowed("GET, HEAD, POST")
        try:
            params = parameters(request, include_query=True)
            auth = self._validate_authorization_request(authority, params)
            session = self._session_for_cookie(request.cookies.get(SESSION_COOKIE))
            action = params.get(ACTION_FIELD)
            if action is not None:
                if action != CANCEL_ACTION:
                    raise malformed(f"unknown {ACTION_FIELD} value.")
                return self._redirect_error(auth, trace, _USER_CANCELED)
            chosen = params.get(USER_FIELD)
            if chosen is None and auth.prompt == "none":
                return self._sign_in_silently(auth, session, trace, request.secure)
            if chosen is None:
                return self._sign_in_page(auth, session, request.path)
            user = self._user_allowed(auth, chosen)
        except EntraError as error:
            page = error_page(error=error.error, description=trace.describe(error))
            return _html(error.status, page)
        if user.disabled:
            return self._redirect_error(auth, trace, _USER_DISABLED)
        if self.faults.require_consent or auth.app.require_consent:
            answer = params.get(CONSENT_FIELD)
            if answer is None:
                page = consent_page(
                    action=request.path,
                    hidden_fields=[*auth.original, (USER_FIELD, user.object_id)],
                    user=user,
                    client_id=auth.app.client_id,
                    redirect_uri=auth.redirect_uri,
                    scopes=auth.scopes,
                )
                return _html(200, page)
            if answer != "accept":
                return self._redirect_error(auth, trace, _CONSENT_DECLINED)
        return self._complete_sign_in(auth, user, session, int(self._now()), request.secure)

    def _validate_authorization_request(
        self, authority: str, params: dict[str, str]
    ) -> _AuthorizeRequest:
        segment, tenant = self._resolve_authority(authority)
        client_id = required(params, "client_id")
        with self._lock:
            app = self._apps.get(client_id)
        if app is None:
            raise _unknown_client(client_id)
        redirect_uri = params.get("redirect_uri")
        registered = [*app.redirect_uris, *app.spa_redirect_uris]
        if redirect_uri is None and len(registered) == 1:
            # Entra falls back to the registered URI when there is exactly one.
            redirect_uri = registered[0]
        if redirect_uri is None:
            raise missing_parameter("redirect_uri")
        if redirect_uri not in registered:
            raise EntraError(
                "invalid_request",
                50011,
                f"The redirect URI '{echo(redirect_uri)}' of the request does not match the "
                f"redirect URIs configured for the application '{client_id}'. The comparison "
                "is exact: scheme, host, port, path and trailing slash must all match.",
            )
        response_type = required(params, "response_type")
        if response_type != "code":
            raise EntraError(
                "unsupported_response_type",
                9002313,
                f"response_type '{echo(response_type)}' is not supported; only the "
                "authorization code flow (response_type=code) is.",
            )
        response_mode = params.get("response_mode", "query")
        if response_mode not in _RESPONSE_MODES:
            raise malformed(f"unknown response_mode '{echo(response_mode)}'.")
        scopes = tuple(required(params, "scope").split())
        if "openid" not in scopes:
            raise EntraError("invalid_scope", 70011, "The scope must include 'openid' to sign in.")
        # Every resource must exist; several may be named here, to consent to them at
        # once. The token request then picks one.
        requested_resources(scopes, self._api_finder())
        code_challenge = required(params, "code_challenge")
        if params.get("code_challenge_method") != "S256":
            raise malformed("PKCE is required, with code_challenge_method 'S256'.")
        if not _S256_CHALLENGE.fullmatch(code_challenge):
            raise malformed("code_challenge is not a base64url SHA-256 digest.")
        prompt = params.get("prompt")
        if prompt is not None and prompt not in _PROMPTS:
            raise malformed(f"unsupported prompt '{echo(prompt)}'.")
        max_age = params.get("max_age")
        if max_age is not None and not _SECONDS.fullmatch(max_age):
            raise malformed("max_age must be a number of seconds.")
        return _AuthorizeRequest(
            authority=segment,
            tenant=tenant,
            app=app,
            redirect_uri=redirect_uri,
            response_mode=response_mode,
            scopes=scopes,
            state=params.get("state"),
            nonce=params.get("nonce"),
            code_challenge=code_challenge,
            prompt=prompt,
            login_hint=params.get("login_hint"),
            domain_hint=params.get("domain_hint"),
            client_info=params.get("client_info") == "1",
            max_age=int(max_age) if max_age is not None else None,
            original=tuple(
                (name, value)
                for name, value in params.items()
                if name not in (USER_FIELD, ACTION_FIELD, CONSENT_FIELD)
            ),
        )

    def _sign_in_page(
        self, auth: _AuthorizeRequest, session: _Session | None, action: str
    ) -> HttpResponse:
        with self._lock:
            candidates = list(self._users.values())
            tenants = {tenant.tenant_id: tenant for tenant in self._tenants.values()}
            hinted = self._find_tenant(auth.domain_hint) if auth.domain_hint else None
        directory_tenant = auth.tenant or hinted
        if directory_tenant is not None:
            candidates = [u for u in candidates if u.tenant_id == directory_tenant.tenant_id]
        if auth.login_hint:
            hint = auth.login_hint.casefold()
            # Stable sort: the hinted account first, the others in directory order.
            candidates.sort(
                key=lambda u: (
                    hint not in (u.preferred_username.casefold(), (u.email or "").casefold())
                )
            )
        page = sign_in_page(
            action=action,
            hidden_fields=auth.original,
            users=candidates,
            tenants=tenants,
            client_id=auth.app.client_id,
            redirect_uri=auth.redirect_uri,
            directory=(
                f"{auth.tenant.name} ({auth.tenant.domain})"
                if auth.tenant is not None
                else f"{auth.authority} (any organization)"
            ),
            signed_in_object_id=session.user_object_id if session is not None else None,
        )
        return _html(200, page)

    def _sign_in_silently(
        self, auth: _AuthorizeRequest, session: _Session | None, trace: Trace, secure: bool
    ) -> HttpResponse:
        if session is None:
            return self._redirect_error(auth, trace, _LOGIN_REQUIRED)
        user = self._user_allowed(auth, session.user_object_id)
        if user.disabled:
            return self._redirect_error(auth, trace, _USER_DISABLED)
        if self.faults.require_consent or auth.app.require_consent:
            return self._redirect_error(auth, trace, _CONSENT_REQUIRED)
        return self._complete_sign_in(auth, user, session, session.auth_time, secure)

    def _user_allowed(self, auth: _AuthorizeRequest, object_id: str) -> FakeUser:
        """The user with ``object_id`` if they may sign in at this authority.

        Raises :class:`EntraError` (an error page, as at Entra) for an unknown account
        or an account of another tenant.
        """
        with self._lock:
            user = self._users.get(object_id)
        if user is None:
            raise EntraError("invalid_request", 50034, "The user account does not exist.")
        if auth.tenant is not None and user.tenant_id != auth.tenant.tenant_id:
            raise EntraError(
                "access_denied",
                50020,
                f"User account '{user.preferred_username}' does not exist in tenant "
                f"'{auth.tenant.name}' and cannot access the application '{auth.app.client_id}'.",
            )
        return user

    def _complete_sign_in(
        self,
        auth: _AuthorizeRequest,
        user: FakeUser,
        session: _Session | None,
        auth_time: int,
        secure: bool,
    ) -> HttpResponse:
        """Issue a code to the app, within the cookie's session when it is this user's.

        ``secure``: the request came over TLS, so the session cookie may be ``Secure``.
        """
        now = self._now()
        code = secrets.token_urlsafe(48)
        with self._lock:
            if (
                session is None
                or session.user_object_id != user.object_id
                # Signed out (in another tab) between loading the page and choosing.
                or session.sid not in self._sessions
            ):
                session = _Session(
                    sid=str(uuid.uuid4()),
                    session_state=str(uuid.uuid4()),
                    cookie=secrets.token_urlsafe(32),
                    user_object_id=user.object_id,
                    auth_time=auth_time,
                )
                self._sessions[session.sid] = session
            session.auth_time = auth_time
            session.sign_ins[auth.app.client_id] = self._issuer_of(user)
            # Expired codes are dropped here rather than by a timer thread.
            for stale in [key for key, item in self._codes.items() if item.expires_at <= now]:
                del self._codes[stale]
            self._codes[code] = _AuthorizationCode(
                grant=_Grant(
                    client_id=auth.app.client_id,
                    user_object_id=user.object_id,
                    scopes=auth.scopes,
                    sid=session.sid,
                    nonce=auth.nonce,
                    auth_time=auth_time if auth.max_age is not None else None,
                    spa_redirect=auth.redirect_uri in auth.app.spa_redirect_uris,
                ),
                authority=auth.authority,
                redirect_uri=auth.redirect_uri,
                code_challenge=auth.code_challenge,
                expires_at=now + AUTHORIZATION_CODE_LIFETIME,
            )
        answer = {"code": code}
        if auth.client_info:
            answer["client_info"] = client_info(user)
        answer["session_state"] = session.session_state
        response = self._answer(auth, answer)
        response.headers.append(("Set-Cookie", _session_cookie(session.cookie, secure=secure)))
        return response

    def _redirect_error(
        self, auth: _AuthorizeRequest, trace: Trace, error: EntraError
    ) -> HttpResponse:
        return self._answer(
            auth, {"error": error.error, "error_description": trace.describe(error)}
        )

    def _answer(self, auth: _AuthorizeRequest, params: dict[str, str]) -> HttpResponse:
        """Send ``params`` and the request's state to the redirect URI per response_mode."""
        if auth.state is not None:
            params = {**params, "state": auth.state}
        if auth.response_mode == "form_post":
            return _html(200, form_post_page(redirect_uri=auth.redirect_uri, fields=params.items()))
        if auth.response_mode == "fragment":
            location = f"{auth.redirect_uri.split('#', 1)[0]}#{urlencode(params)}"
        else:
            location = with_query(auth.redirect_uri, params)
        return HttpResponse(302, headers=[("Location", location)])

    def _session_for_cookie(self, cookie: str | None) -> _Session | None:
        if not cookie:
            return None
        with self._lock:
            sessions = list(self._sessions.values())
        # Bytes: compare_digest refuses str with non-ASCII characters, which a client
        # can put in a cookie.
        presented = cookie.encode()
        return next(
            (s for s in sessions if hmac.compare_digest(s.cookie.encode(), presented)), None
        )

    # -- token -----------------------------------------------------------------------

    def _serve_token(self, request: HttpRequest, authority: str, trace: Trace) -> HttpResponse:
        """The token endpoint's answer, with CORS headers for a single-page app's origin.

        A cross-origin request (one with an ``Origin`` header) gets
        ``Access-Control-Allow-Origin`` when its origin is that of one of the SPA redirect
        URIs of the client it names, whatever the answer, so the app can read its errors
        too; an ``OPTIONS`` with an ``Origin`` is a preflight (:meth:`_token_preflight`).
        """
        origin = request.header("Origin")
        if origin is not None and request.method == "OPTIONS":
            return self._token_preflight(request, origin)
        response = self._token_answer(request, authority, trace)
        if origin is not None and origin in _spa_origins(self._named_client(request)):
            response.headers.extend(_cors_headers(origin))
        return response

    def _token_preflight(self, request: HttpRequest, origin: str) -> HttpResponse:
        """A CORS preflight of the token endpoint (Fetch standard, "CORS-preflight fetch").

        A preflight carries no body, so it names no client: it is allowed (POST, the
        headers it asks for, when they are a list of header names) for the origin of an
        SPA redirect URI of any registered app, and answered without CORS headers, which
        the browser reads as a refusal, for any other origin or method.
        """
        with self._lock:
            apps = list(self._apps.values())
        response = HttpResponse(204)
        allowed = any(origin in _spa_origins(app) for app in apps)
        if not allowed or request.header("Access-Control-Request-Method") != "POST":
            return response
        response.headers.extend(_cors_headers(origin))
        response.headers.append(("Access-Control-Allow-Methods", "POST"))
        requested = request.header("Access-Control-Request-Headers")
        if requested is not None and _REQUESTED_HEADERS.fullmatch(requested.strip()):
            response.headers.append(("Access-Control-Allow-Headers", requested.strip()))
        response.headers.append(("Access-Control-Max-Age", _PREFLIGHT_MAX_AGE))
        return response

    def _named_client(self, request: HttpRequest) -> FakeApp | None:
        """The registration a token request names (HTTP Basic, or the form's
        ``client_id``), unauthenticated; None when it names none or cannot be read."""
        try:
            basic = basic_credentials(request.header("Authorization"))
            if basic is not None:
                named: str | None = basic[0]
            else:
                named = parameters(request, include_query=False).get("client_id")
        except EntraError:
            return None
        with self._lock:
            return self._apps.get(named) if named is not None else None

    def _token_answer(self, request: HttpRequest, authority: str, trace: Trace) -> HttpResponse:
        if request.method != "POST":
            error = EntraError("invalid_request", 900561, "The endpoint only accepts POST.")
            return self._json_error(error, trace)
        faulted = self._take_token_fault(trace)
        if faulted is not None:
            return faulted
        try:
            params = parameters(request, include_query=False)
            segment, tenant = self._resolve_authority(authority)
            app = self._authenticate_client(request, params)
            grant_type = required(params, "grant_type")
            if grant_type == "client_credentials":
                _check_origin(request, app, spa_redirect=False)
                return self._json(200, self._client_credentials_response(app, tenant, params))
            if grant_type == "authorization_code":
                # Checked before the code is looked at, so a refused request spends none.
                spa_redirect = params.get("redirect_uri") in app.spa_redirect_uris
                _check_origin(request, app, spa_redirect=spa_redirect)
                grant = self._redeem_code(app, segment, params)
            elif grant_type == "refresh_token":
                grant = self._redeem_refresh_token(app, params)
                _check_origin(request, app, spa_redirect=grant.spa_redirect)
            else:
                raise EntraError(
                    "unsupported_grant_type",
                    70003,
                    f"Grant type '{echo(grant_type)}' is unsupported.",
                )
            # The token request's scope picks the resource; without one, the scopes the
            # code or refresh token was granted for. Either way, one resource only.
            requested = params["scope"].split() if "scope" in params else grant.scopes
            resource = single_resource(requested, self._api_finder())
            with_client_info = params.get("client_info") == "1"
            return self._json(
                200, self._token_response(app, grant, requested, resource, with_client_info)
            )
        except EntraError as error:
            return self._json_error(error, trace)

    def _take_token_fault(self, trace: Trace) -> HttpResponse | None:
        """Apply the token endpoint faults to this request, counting it against them.

        Returns the faulted response, or None when the request should be processed
        normally (no fault set, or only a delay, which has then been waited out).
        """
        with self._lock:
            faults = self.faults
            if (
                faults.token_endpoint_fault_count is not None
                and faults.token_endpoint_fault_count <= 0
            ):
                faults.clear_token_endpoint_faults()
            if not faults.token_endpoint_faulted():
                return None
            applied = replace(faults)
            if faults.token_endpoint_fault_count is not None:
                faults.token_endpoint_fault_count -= 1
                if faults.token_endpoint_fault_count <= 0:
                    faults.clear_token_endpoint_faults()
        if applied.token_endpoint_delay > 0:
            # Interruptible: stop() wakes it, so a long delay never holds up shutdown.
            self._stopped.wait(applied.token_endpoint_delay)
        response: HttpResponse | None = None
        if applied.token_endpoint_body is not None:
            response = HttpResponse(
                applied.token_endpoint_status or 200,
                applied.token_endpoint_body.encode(),
                "text/html; charset=utf-8",
            )
        elif applied.token_endpoint_status is not None:
            response = self._fault_error(applied.token_endpoint_status, trace)
        if response is not None and applied.token_endpoint_retry_after is not None:
            response.headers.append(("Retry-After", str(applied.token_endpoint_retry_after)))
        return response

    def _authenticate_client(self, request: HttpRequest, params: dict[str, str]) -> FakeApp:
        """The app whose credentials the request carries, as HTTP Basic or form fields.

        RFC 6749 §2.3: a client uses one authentication method per request. A public
        client only names itself (``client_id``) and must present no secret at all.
        """
        basic = basic_credentials(request.header("Authorization"))
        form_id, form_secret = params.get("client_id"), params.get("client_secret")
        if basic is not None and form_secret is not None:
            raise malformed("use one client authentication method, not two.")
        client_id = basic[0] if basic is not None else form_id
        if client_id is None:
            raise missing_parameter("client_id")
        if form_id is not None and form_id != client_id:
            raise malformed("client_id does not match the authenticated client.")
        with self._lock:
            app = self._apps.get(client_id)
        if app is None:
            raise _unknown_client(client_id)
        secret = basic[1] if basic is not None else form_secret
        if app.public_client:
            if secret is not None:
                raise EntraError(
                    "invalid_client",
                    700025,
                    "Client is public so neither 'client_assertion' nor 'client_secret' "
                    "should be presented.",
                    401,
                )
            return app
        if secret is None:
            raise EntraError(
                "invalid_client", 7000218, "The request must contain 'client_secret'.", 401
            )
        if not hmac.compare_digest(secret.encode(), app.client_secret.encode()):
            raise EntraError(
                "invalid_client",
                7000215,
                "Invalid client secret provided. Send the secret's value, not its id.",
                401,
            )
        return app

    def _redeem_code(self, app: FakeApp, authority: str, params: dict[str, str]) -> _Grant:
        """The grant of a valid code, which can never be redeemed again afterwards.

        A code presented by its own client is spent even when the redirect URI or the
        PKCE verifier is wrong: a holder without the right verifier probably
        intercepted it.
        """
        code = required(params, "code")
        redirect_uri = required(params, "redirect_uri")
        verifier = required(params, "code_verifier")
        now = self._now()
        with self._lock:
            pending = self._codes.get(code)
            if (
                pending is None
                or pending.grant.client_id != app.client_id
                or pending.authority != authority
            ):
                raise EntraError(
                    "invalid_grant",
                    70000,
                    "The authorization code is not valid for this client and authority.",
                )
            if pending.redeemed:
                raise EntraError(
                    "invalid_grant", 54005, "The authorization code was already redeemed."
                )
            if now >= pending.expires_at:
                del self._codes[code]
                raise EntraError("invalid_grant", 70008, "The authorization code has expired.")
            pending.redeemed = True
        if redirect_uri != pending.redirect_uri:
            raise EntraError(
                "invalid_grant",
                500112,
                "The redirect_uri does not match the one the authorization code was issued for.",
            )
        if not pkce_matches(verifier, pending.code_challenge):
            raise EntraError(
                "invalid_grant",
                501481,
                "The code_verifier does not match the code_challenge of the authorization request.",
            )
        return pending.grant

    def _redeem_refresh_token(self, app: FakeApp, params: dict[str, str]) -> _Grant:
        refresh_token = required(params, "refresh_token")
        with self._lock:
            grant = self._refresh_tokens.get(refresh_token)
        if grant is None or grant.client_id != app.client_id:
            raise EntraError(
                "invalid_grant", 70000, "The refresh token is not valid for this client."
            )
        # A refreshed id_token answers no authorization request, so it carries no nonce.
        return replace(grant, nonce=None)

    def _client_credentials_response(
        self, app: FakeApp, tenant: FakeTenant | None, params: dict[str, str]
    ) -> dict[str, object]:
        """An app-only access token for the API the ``/.default`` scope names.

        Only confidential clients, and only at a tenant's authority: the token's subject
        is the client's service principal there.
        """
        if app.public_client:
            raise EntraError(
                "invalid_client",
                7000218,
                "The request body must contain 'client_assertion' or 'client_secret': the "
                "client credentials grant is for confidential clients.",
                401,
            )
        if tenant is None:
            raise malformed(
                "the client credentials grant needs a tenant's authority, not 'common' or "
                "'organizations'."
            )
        api_app, api, name = client_credentials_resource(
            required(params, "scope"), self._api_finder()
        )
        claims = app_only_access_token_claims(
            app,
            tenant=tenant,
            api_app=api_app,
            api=api,
            resource=name,
            roles=app.app_role_grants.get(api_app.client_id, ()),
            version=api.access_token_version,
            now=int(self._now()),
        )
        return {
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME - 1,
            "ext_expires_in": TOKEN_LIFETIME - 1,
            "access_token": self._keys.sign(claims),
        }

    def _token_response(
        self,
        app: FakeApp,
        grant: _Grant,
        scopes: Sequence[str],
        resource: RequestedResource,
        with_client_info: bool,
    ) -> dict[str, object]:
        """The token response to a user's grant: the access token for ``resource`` (what
        ``scopes``, the request's, ask for), the id_token, and a new refresh token when
        the grant allows it."""
        now = int(self._now())
        with self._lock:
            user = self._users.get(grant.user_object_id)
            if user is None or user.disabled:
                raise EntraError(
                    "invalid_grant", 50057, "The user account is disabled or does not exist."
                )
            issuer = self._issuer_of(user)
            tenant = self._tenants[user.tenant_id.lower()]
            faults = replace(self.faults)
            group_claims = group_membership_claims(
                self._transitive_group_ids(user),
                limit=self.group_overage_limit,
                overage_claim=faults.overage_claim,
                graph_url=self.graph_url,
                object_id=user.object_id,
            )
        claims = id_token_claims(
            user,
            issuer=issuer,
            client_id=app.client_id,
            sid=grant.sid,
            nonce=grant.nonce,
            auth_time=grant.auth_time,
            now=now,
            group_claims=group_claims,
        )
        apply_claim_changes(claims, faults.id_token_claims_override, faults.id_token_claims_remove)
        if resource.app is not None and resource.api is not None:
            access_claims = api_access_token_claims(
                user,
                tenant=tenant,
                api_app=resource.app,
                api=resource.api,
                resource=resource.name,
                client=app,
                scopes=resource.scopes,
                version=resource.api.access_token_version,
                now=now,
            )
        else:
            access_claims = access_token_claims(
                user, issuer=issuer, client_id=app.client_id, scopes=resource.scopes, now=now
            )
            with self._lock:
                self._access_token_ids.add(str(access_claims["uti"]))
        granted = [scope for scope in scopes if scope in OIDC_SCOPES and scope != "offline_access"]
        response: dict[str, object] = {
            "token_type": "Bearer",
            "scope": " ".join([*granted, *resource.requested]),
            "expires_in": TOKEN_LIFETIME - 1,
            "ext_expires_in": TOKEN_LIFETIME - 1,
            "access_token": self._keys.sign(access_claims),
            "id_token": self._keys.sign(
                claims, signing=faults.id_token_signing, client_secret=app.client_secret
            ),
        }
        if "offline_access" in grant.scopes:
            refresh_token = secrets.token_urlsafe(64)
            with self._lock:
                self._refresh_tokens[refresh_token] = grant
            response["refresh_token"] = refresh_token
        if with_client_info:
            response["client_info"] = client_info(user)
        return response

    # -- Microsoft Graph ---------------------------------------------------------------

    def _serve_graph(self, request: HttpRequest, trace: Trace) -> HttpResponse:
        """Graph's two membership calls; anything else under ``/graph`` is a 404."""
        segments = [unquote(segment).lower() for segment in request.path.split("/")[2:]]
        try:
            if segments == ["v1.0", "me", "transitivememberof"]:
                return self._serve_transitive_member_of(request)
            if segments[:2] == ["v1.0", "users"] and segments[3:] == ["getmemberobjects"]:
                return self._serve_member_objects(request, segments[2])
            raise graph.GraphError(
                404,
                "Request_ResourceNotFound",
                "The fake Microsoft Graph serves /v1.0/me/transitiveMemberOf and "
                "/v1.0/users/{id}/getMemberObjects only.",
            )
        except graph.GraphError as error:
            response = self._json(error.status, graph.error_document(error, trace))
            response.headers.extend(error.headers)
            return response

    def _serve_transitive_member_of(self, request: HttpRequest) -> HttpResponse:
        """One page of the caller's groups (direct and nested) and directory roles."""
        if request.method not in ("GET", "HEAD"):
            raise _graph_method_not_allowed("GET, HEAD")
        options = graph.query_options(request.query)
        position = (
            self._skip_tokens.read(options.skiptoken) if options.skiptoken is not None else None
        )
        page = position.page if position is not None else 1
        applied = self._take_graph_fault(page)
        user = self._graph_caller(request)
        if position is not None and position.object_id != user.object_id:
            raise graph.bad_request("The $skiptoken belongs to another user's list.")
        members = self._directory_objects(user)
        offset = position.offset if position is not None else 0
        size = options.page_size(self.graph_page_size)
        resource_url = f"{self.graph_url}/v1.0/me/transitiveMemberOf"
        next_link = None
        if offset + size < len(members):
            resume = graph.SkipPosition(user.object_id, offset + size, page + 1)
            next_link = graph.next_link(resource_url, options, self._skip_tokens.issue(resume))
        document = graph.page_document(
            self.graph_url, members[offset : offset + size], options.select, next_link
        )
        return self._graph_answer(request, document, applied)

    def _serve_member_objects(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """``getMemberObjects`` of the caller itself: every membership id at once."""
        if request.method != "POST":
            raise _graph_method_not_allowed("POST")
        applied = self._take_graph_fault(1)
        user = self._graph_caller(request)
        if object_id != user.object_id.lower():
            raise graph.GraphError(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation: the fake lets a user "
                "read only their own memberships.",
            )
        try:
            body = json.loads(request.body)
        except (ValueError, RecursionError) as exc:
            raise graph.bad_request("The body must be JSON.") from exc
        security_only = body.get("securityEnabledOnly") if isinstance(body, dict) else None
        if not isinstance(security_only, bool):
            raise graph.bad_request("securityEnabledOnly (true or false) is required.")
        object_ids = [
            member.object_id
            for member in self._directory_objects(user)
            if member.odata_type == graph.GROUP_TYPE or not security_only
        ]
        return self._graph_answer(
            request, graph.member_objects_document(self.graph_url, object_ids), applied
        )

    def _take_graph_fault(self, page: int) -> Faults | None:
        """The Graph switches that apply to page ``page``, or None when none does.

        Waits out a delay first; raises the status fault's :class:`GraphError` when no
        malformed answer was asked for (an outage answers before any token is read).
        """
        with self._lock:
            if not self.faults.graph_faulted(page):
                return None
            applied = replace(self.faults)
        if applied.graph_delay > 0:
            # Interruptible: stop() wakes it, so a long delay never holds up shutdown.
            self._stopped.wait(applied.graph_delay)
        if applied.graph_status is not None and applied.graph_malformed is None:
            error = graph.fault_error(applied.graph_status)
            if applied.graph_retry_after is not None:
                error.headers.append(("Retry-After", str(applied.graph_retry_after)))
            raise error
        return applied

    def _graph_answer(
        self, request: HttpRequest, document: dict[str, object], applied: Faults | None
    ) -> HttpResponse:
        """``document`` as the answer, or malformed as the applied faults say."""
        if applied is None or applied.graph_malformed is None:
            return self._json(200, document)
        request_url = f"{self._base_url}{request.path}" + (
            f"?{request.query}" if request.query else ""
        )
        body, content_type = graph.malformed_answer(applied.graph_malformed, document, request_url)
        response = HttpResponse(applied.graph_status or 200, body, content_type)
        if applied.graph_retry_after is not None:
            response.headers.append(("Retry-After", str(applied.graph_retry_after)))
        return response

    def _graph_caller(self, request: HttpRequest) -> FakeUser:
        """The user of the request's bearer token, an access token this platform issued.

        The token must carry a published key's signature, the Graph audience and the
        ``uti`` of a token response, and be within its lifetime on the platform's clock.
        Raises :class:`GraphError` (401, ``InvalidAuthenticationToken``) otherwise.
        """
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _invalid_graph_token("Access token is empty.")
        claims = self._keys.verified_claims(token)
        if claims is None:
            raise _invalid_graph_token("Access token validation failure: invalid signature.")
        with self._lock:
            unique_id = claims.get("uti")
            issued = isinstance(unique_id, str) and unique_id in self._access_token_ids
            user = self._users.get(str(claims.get("oid")))
            issuer = self._issuer_of(user) if user is not None else None
        if not issued or claims.get("aud") != GRAPH_APP_ID:
            raise _invalid_graph_token(
                "Access token validation failure: not an access token for Microsoft Graph."
            )
        now = self._now()
        expires, not_before = claims.get("exp"), claims.get("nbf")
        if not isinstance(expires, int) or not isinstance(not_before, int):
            raise _invalid_graph_token("Access token validation failure: no lifetime.")
        if now >= expires:
            raise _invalid_graph_token("Lifetime validation failed, the token is expired.")
        if now < not_before:
            raise _invalid_graph_token("Lifetime validation failed, the token is not yet valid.")
        if user is None or claims.get("iss") != issuer or claims.get("tid") != user.tenant_id:
            raise _invalid_graph_token("The token's user does not exist in its tenant.")
        return user

    def _directory_objects(self, user: FakeUser) -> list[graph.DirectoryObject]:
        """What ``user`` is a member of, as Graph lists it: groups, then directory roles."""
        with self._lock:
            group_ids = self._transitive_group_ids(user)
            names = {
                group_id: group.name if (group := self._groups.get(group_id.lower())) else None
                for group_id in group_ids
            }
        members = [
            graph.DirectoryObject(graph.GROUP_TYPE, group_id, names[group_id])
            for group_id in group_ids
        ]
        members += [
            graph.DirectoryObject(
                graph.DIRECTORY_ROLE_TYPE, graph.directory_role_id(user.tenant_id, role), role
            )
            for role in dict.fromkeys(user.directory_roles)
        ]
        return members

    # -- logout ----------------------------------------------------------------------

    def _serve_logout(self, request: HttpRequest, authority: str, trace: Trace) -> HttpResponse:
        if request.method not in ("GET", "HEAD", "POST"):
            return _method_not_allowed("GET, HEAD, POST")
        try:
            params = parameters(request, include_query=True)
            self._resolve_authority(authority)
        except EntraError as error:
            page = error_page(error=error.error, description=trace.describe(error))
            return _html(error.status, page)
        ending = self._sessions_to_end(request, params)
        with self._lock:
            front_channel_urls = [url for s in ending for url in self._front_channel_urls(s)]
            for session in ending:
                self._sessions.pop(session.sid, None)
        page = signed_out_page(
            front_channel_urls=front_channel_urls, continue_url=_post_logout_target(params)
        )
        response = _html(200, page)
        expired = _session_cookie("", secure=request.secure) + "; Max-Age=0"
        response.headers.append(("Set-Cookie", expired))
        return response

    def _sessions_to_end(self, request: HttpRequest, params: dict[str, str]) -> list[_Session]:
        """The sessions a logout request ends: the cookie's, and the hinted ones.

        ``id_token_hint`` names its session by ``sid`` (only a token the fake signed
        counts, expired or not); ``logout_hint`` (an id_token's ``login_hint``) names a
        user whose sessions all end, and only counts when nothing else named one.
        """
        found: dict[str, _Session] = {}
        cookie_session = self._session_for_cookie(request.cookies.get(SESSION_COOKIE))
        if cookie_session is not None:
            found[cookie_session.sid] = cookie_session
        hint = params.get("id_token_hint")
        hinted_sid = (self._keys.verified_claims(hint) or {}).get("sid") if hint else None
        logout_hint = params.get("logout_hint")
        with self._lock:
            if isinstance(hinted_sid, str) and hinted_sid in self._sessions:
                found[hinted_sid] = self._sessions[hinted_sid]
            if not found and logout_hint:
                object_id = object_id_from_login_hint(logout_hint)
                for session in self._sessions.values():
                    if session.user_object_id == object_id:
                        found[session.sid] = session
        return list(found.values())

    def _front_channel_urls(self, session: _Session) -> list[str]:
        # Caller holds the lock.
        urls = []
        for client_id, issuer in session.sign_ins.items():
            app = self._apps.get(client_id)
            if app is not None and app.front_channel_logout_url:
                params = {"sid": session.sid, "iss": issuer}
                urls.append(with_query(app.front_channel_logout_url, params))
        return urls


def _served_over_plain_http(endpoint: Endpoint, request: HttpRequest) -> bool:
    """Whether the plain-HTTP listener answers ``request`` for ``endpoint``.

    The pages a browser is sent to, and the token endpoint for a browser's own
    cross-origin calls: only those carry an ``Origin`` header, so a server (the API,
    msal) is still made to call it over TLS, trusting the fake's CA.
    """
    if endpoint in (*_BROWSER_ENDPOINTS, "other"):
        return True
    return endpoint == "token" and request.header("Origin") is not None


def _origin_of(uri: str) -> str | None:
    """The origin of an absolute http(s) URL, spelled as a browser's ``Origin`` header
    spells it (RFC 6454: scheme, host, and the port unless it is the scheme's default);
    None for anything else."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default_port = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default_port) else "")


def _spa_origins(app: FakeApp | None) -> set[str]:
    """The origins of ``app``'s SPA redirect URIs: those its token requests may come from."""
    if app is None:
        return set()
    return {origin for uri in app.spa_redirect_uris if (origin := _origin_of(uri)) is not None}


def _check_origin(request: HttpRequest, app: FakeApp, *, spa_redirect: bool) -> None:
    """Entra's rule for single-page apps at the token endpoint.

    ``spa_redirect``: the grant was (or is being) issued at one of ``app``'s SPA
    redirect URIs. Such a grant is redeemed only cross-origin, from the browser
    (AADSTS9002327 without an ``Origin``); any other grant, a confidential client's
    or a native app's, never is (AADSTS9002326 with one), and neither is an SPA grant
    from an origin none of the app's SPA redirect URIs has.
    """
    origin = request.header("Origin")
    if origin is None:
        if spa_redirect:
            raise EntraError(
                "invalid_request",
                9002327,
                "Tokens issued for the 'Single-Page Application' client-type may only be "
                "redeemed via cross-origin requests.",
            )
        return
    if not spa_redirect or origin not in _spa_origins(app):
        raise EntraError(
            "invalid_request",
            9002326,
            "Cross-origin token redemption is permitted only for the 'Single-Page "
            "Application' client-type, from the origin of one of its redirect URIs. "
            f"Request origin: '{echo(origin)}'.",
        )


def _cors_headers(origin: str) -> list[tuple[str, str]]:
    # No Access-Control-Allow-Credentials: a token request carries no cookie, and the
    # answer names the one origin allowed, never "*".
    return [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]


def _route(path: str) -> tuple[Endpoint, str]:
    """(endpoint, tenant segment) of a request path; ("other", "") when unknown."""
    if path == GRAPH_PATH or path.startswith(f"{GRAPH_PATH}/"):
        return "graph", ""
    segments = path.split("/")
    if len(segments) < 3 or segments[0] != "":
        return "other", ""
    endpoint = _ROUTES.get(tuple(segments[2:]), "other")
    return endpoint, unquote(segments[1]) if endpoint != "other" else ""


def _post_logout_target(params: dict[str, str]) -> str | None:
    """Where the signed-out page continues to: any absolute http(s) URL, plus ``state``."""
    target = params.get("post_logout_redirect_uri")
    if target is None:
        return None
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return with_query(target, {"state": params["state"]}) if "state" in params else target


def _invalid_graph_token(message: str) -> graph.GraphError:
    return graph.GraphError(401, "InvalidAuthenticationToken", message, _GRAPH_UNAUTHENTICATED)


def _graph_method_not_allowed(allowed: str) -> graph.GraphError:
    message = f"The method is not allowed here; use {allowed}."
    return graph.GraphError(405, "Request_BadRequest", message, [("Allow", allowed)])


def _exposed_api(app: FakeApp) -> FakeApi:
    if app.api is None:
        raise ValueError(f"the app {app.client_id!r} exposes no API; call expose_api first")
    return app.api


def _unknown_client(client_id: str) -> EntraError:
    return EntraError(
        "unauthorized_client",
        700016,
        f"Application with identifier '{echo(client_id)}' was not found in the directory.",
    )


def _session_cookie(value: str, *, secure: bool) -> str:
    """The ``Set-Cookie`` value of the fake's browser session.

    SameSite=Lax: the cookie must come along on the top-level navigation to logout.
    ``Secure`` only over TLS: over plain HTTP a browser may drop a Secure cookie.
    """
    return f"{SESSION_COOKIE}={value}; Path=/;{' Secure;' if secure else ''} HttpOnly; SameSite=Lax"


def _favicon(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed("GET, HEAD")
    return HttpResponse(200, _FAVICON, "image/svg+xml")


def _html(status: int, page: str) -> HttpResponse:
    return HttpResponse(status, page.encode(), "text/html; charset=utf-8")


def _method_not_allowed(allowed: str) -> HttpResponse:
    return HttpResponse(405, b"Method not allowed.", headers=[("Allow", allowed)])
