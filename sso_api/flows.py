"""The use cases behind each endpoint; views only translate HTTP to these and back.

A sign-in, end to end:

1. :func:`start_sign_in`: the client sends where it wants to land (``next``) and the S256
   challenge of a PKCE verifier only it knows. We create a flow (fresh ``state``, msal's
   PKCE and nonce), keep it in the cache under the state's hash for the flow lifetime, and
   return Microsoft's authorization URL.
2. :func:`complete_sign_in`: Microsoft sends the browser back with a code. We take the
   flow out of the cache (once), exchange the code, validate the id_token, apply the sign-in
   policy, and send the browser to ``next`` with a one-time ``sso_code``. Every failure
   sends it there with ``sso_error`` instead.
3. :func:`redeem_handoff_code`: the client trades ``sso_code`` plus its PKCE verifier for our
   tokens. Only the client that started the flow knows the verifier, so a callback URL
   replayed elsewhere, or an attacker's callback pushed into a victim's browser, gets
   nothing.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import re
import secrets
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from sso_api import audit, policy, tokens
from sso_api.callback_uri import build_callback_uri, callback_netloc, request_scheme
from sso_api.conf import SSOSettings, sso_settings
from sso_api.destinations import add_query_params, validate_next_url
from sso_api.entra.access_token import (
    CLOCK_SKEW_SECONDS,
    EntraAccessToken,
    unverified_entra_parts,
)
from sso_api.entra.client import entra_client
from sso_api.exceptions import (
    AccessDenied,
    CodeChallengeRequired,
    CodeVerifierMismatch,
    EntraTokenReused,
    ExchangeDisabled,
    InteractionRequired,
    InvalidCodeChallenge,
    InvalidHandoffCode,
    InvalidState,
    NotConfigured,
    ProviderError,
    ResponseModeMismatch,
    SessionNotFound,
    SSODisabled,
    SSOError,
    cause_names,
    from_database_error,
)
from sso_api.models import (
    USER_AGENT_MAX_LENGTH,
    MicrosoftIdentity,
    RevocationReason,
    SignInMethod,
)
from sso_api.store import EXCHANGED_PREFIX, FLOW_PREFIX, HANDOFF_PREFIX, OneTimeStore

logger = logging.getLogger("sso_api")

# The hand-off code is a bearer credential in a URL: it must die quickly (at most 60 s).
HANDOFF_TTL_SECONDS = 60
# 32 random bytes = 256 bits, well above the 128 bits OAuth asks of unguessable values.
_RANDOM_BYTES = 32
_STATE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{20,128}$")
_HANDOFF_PATTERN = _STATE_PATTERN
# RFC 7636: an S256 challenge is 43 base64url characters; a verifier 43-128 unreserved ones.
_CHALLENGE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
_VERIFIER_PATTERN = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
# OAuth errors Microsoft returns when it needed to show the user something (prompt=none).
_INTERACTION_ERRORS = frozenset(
    {"interaction_required", "login_required", "consent_required", "account_selection_required"}
)


#: What /token/ and /me/ show: the profile fields, the Microsoft identity (or None for
#: each) and the app roles.
UserProfile = dict[str, Any]


@dataclass(frozen=True)
class StartedSignIn:
    authorization_url: str
    state: str
    expires_in: int


@dataclass(frozen=True)
class SignedIn:
    """The result of redeeming a hand-off code."""

    user: AbstractBaseUser
    identity: MicrosoftIdentity
    tokens: tokens.TokenPair


def _enabled_settings(request: HttpRequest) -> SSOSettings:
    conf = sso_settings(request)
    if not conf.enabled:
        raise SSODisabled()
    return conf


def _store(conf: SSOSettings) -> OneTimeStore:
    return OneTimeStore(conf.callback_cache_name)


def s256(code_verifier: str) -> str:
    """The RFC 7636 S256 transformation: base64url(SHA-256(verifier)) without padding."""
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _checked_challenge(
    conf: SSOSettings, code_challenge: str | None, method: str | None
) -> str | None:
    if not code_challenge and not method:
        if conf.require_code_challenge:
            raise CodeChallengeRequired()
        return None
    if method != "S256" or not code_challenge or not _CHALLENGE_PATTERN.match(code_challenge):
        raise InvalidCodeChallenge()
    return code_challenge


def start_sign_in(
    request: HttpRequest,
    *,
    next_url: str | None,
    code_challenge: str | None,
    code_challenge_method: str | None,
    login_hint: str | None = None,
    domain_hint: str | None = None,
    prompt: str | None = None,
) -> StartedSignIn:
    """Create a flow and return where to send the browser.

    Raises :class:`InvalidNextURL`, :class:`CodeChallengeRequired`,
    :class:`InvalidCodeChallenge`, :class:`NotConfigured`, :class:`ProviderUnavailable`
    (the authority's metadata cannot be loaded) or :class:`CacheUnavailable`.
    """
    conf = _enabled_settings(request)
    next_url = validate_next_url(next_url or conf.next_url, conf)
    challenge = _checked_challenge(conf, code_challenge, code_challenge_method)
    client = entra_client(conf)
    state = secrets.token_urlsafe(_RANDOM_BYTES)
    response_mode = conf.response_mode
    authorization = client.initiate(
        scopes=conf.scopes,
        redirect_uri=build_callback_uri(request, conf),
        state=state,
        response_mode=response_mode,
        prompt=prompt or None,
        login_hint=login_hint or None,
        domain_hint=domain_hint or None,
    )
    lifetime = max(1, int(conf.flow_lifetime.total_seconds()))
    _store(conf).put(
        FLOW_PREFIX,
        state,
        {
            "msal_flow": authorization.flow,
            "next": next_url,
            "response_mode": response_mode,
            "code_challenge": challenge,
        },
        lifetime,
    )
    return StartedSignIn(authorization_url=authorization.url, state=state, expires_in=lifetime)


def _refusal_from_microsoft(error: str) -> SSOError:
    if error == "access_denied":
        return AccessDenied(f"authorization response error {error}")
    if error in _INTERACTION_ERRORS:
        return InteractionRequired(f"authorization response error {error}")
    return ProviderError(f"authorization response error {error[:64]!r}")


def _refused(exc: BaseException, request: HttpRequest) -> None:
    """Report a failed sign-in (audit signal and log line), without any secret."""
    audit.emit(
        audit.sign_in_refused,
        "sign_in_refused",
        level=logging.WARNING,
        code=exc.code if isinstance(exc, SSOError) else "server_error",
        reason=exc.reason if isinstance(exc, SSOError) else type(exc).__name__,
        causes=cause_names(exc),
        request=request,
    )


def complete_sign_in(request: HttpRequest, params: Mapping[str, str]) -> str:
    """Finish a sign-in from Microsoft's answer; returns the URL to send the browser to.

    ``params`` are the authorization response parameters (query string for GET, form for
    POST). Never raises: failures become ``sso_error`` on the flow's ``next`` (or on
    ``MICROSOFT_SSO_LOGIN_FAILED_URL`` when no valid flow is known).
    """
    conf = sso_settings(request)
    flow_record: dict[str, object] | None = None
    try:
        if not conf.enabled:
            raise SSODisabled()
        state = params.get("state", "")
        if not _STATE_PATTERN.match(state):
            raise InvalidState("missing or malformed state")
        flow_record = _store(conf).take(
            FLOW_PREFIX, state, check=functools.partial(_check_callback_method, request)
        )
        if flow_record is None:
            raise InvalidState("unknown, expired or already used state")
        if params.get("error"):
            raise _refusal_from_microsoft(params["error"])
        if not params.get("code"):
            raise ProviderError("authorization response without code")
        client = entra_client(conf)
        msal_flow = flow_record["msal_flow"]
        assert isinstance(msal_flow, dict)
        # Only what the exchange needs goes to msal: it would otherwise decode other
        # browser-supplied fields (client_info) into request headers.
        auth_response = {"code": params["code"], "state": state}
        redeemed = client.redeem(msal_flow, auth_response, conf.scopes)
        claims = redeemed.claims
        single_tenant_app = policy.app_is_single_tenant(client.metadata().issuer, claims.tenant_id)
        signed_in = policy.sign_in(
            claims,
            request,
            conf,
            single_tenant_app=single_tenant_app,
            # On group overage only: the one case with a second outbound call. Any failure
            # refuses the sign-in before anything is written.
            resolve_groups=lambda: client.transitive_group_ids(
                conf.graph_url, redeemed.access_token
            ),
        )
        handoff_code = secrets.token_urlsafe(_RANDOM_BYTES)
        _store(conf).put(
            HANDOFF_PREFIX,
            handoff_code,
            {
                "user_id": signed_in.user.pk,
                "identity_id": signed_in.identity.pk,
                "microsoft_session_id": claims.session_id,
                "code_challenge": flow_record["code_challenge"],
            },
            HANDOFF_TTL_SECONDS,
        )
        audit.emit(
            audit.sign_in_succeeded,
            "sign_in_succeeded",
            user=signed_in.user,
            identity=signed_in.identity,
            created=signed_in.created,
            tenant_id=claims.tenant_id,
            request=request,
        )
        return add_query_params(str(flow_record["next"]), {"sso_code": handoff_code})
    except Exception as exc:
        target = str(flow_record["next"]) if flow_record else conf.login_failed_url
        return _failed_sign_in(request, exc, target)


def refuse_callback(request: HttpRequest, exc: BaseException) -> str:
    """Where to send a browser whose callback request could not even be read.

    For what the HTTP layer refuses before :func:`complete_sign_in` runs (a method other
    than GET or POST, a body or query Django will not parse). No flow is consumed: the
    browser goes to ``MICROSOFT_SSO_LOGIN_FAILED_URL`` with ``sso_error``.
    """
    return _failed_sign_in(request, exc, sso_settings(request).login_failed_url)


def _failed_sign_in(request: HttpRequest, exc: BaseException, target: str) -> str:
    """Report a failed sign-in and return ``target`` with ``sso_error`` added.

    Nothing a browser sends may produce a 500 at the callback: unexpected errors are
    logged with their traceback frames (no message text) and reported as server_error.
    """
    exc = from_database_error(exc) or exc
    _refused(exc, request)
    if not isinstance(exc, SSOError):
        logger.error(
            "unexpected sign-in error:\n%s", "".join(traceback.format_tb(exc.__traceback__))
        )
    code = exc.code if isinstance(exc, SSOError) else "server_error"
    detail = exc.detail if isinstance(exc, SSOError) else "Sign-in failed unexpectedly."
    return add_query_params(target, {"sso_error": code, "sso_error_description": detail})


def _check_callback_method(request: HttpRequest, flow_record: dict[str, object]) -> None:
    """A form_post flow is answered by POST, a query flow by GET; anything else keeps it.

    Raises :class:`ResponseModeMismatch` before the flow is consumed, so a stray request
    (a link scanner, a replayed URL) cannot use up someone's sign-in.
    """
    expected_method = "POST" if flow_record.get("response_mode") == "form_post" else "GET"
    if request.method != expected_method:
        raise ResponseModeMismatch(f"flow expects {expected_method}, got {request.method}")


def redeem_handoff_code(request: HttpRequest, sso_code: str, code_verifier: str | None) -> SignedIn:
    """Trade a hand-off code (and the PKCE verifier) for our tokens.

    The code is burned by the first attempt, whether it succeeds or not. Raises
    :class:`InvalidHandoffCode`, :class:`CodeVerifierMismatch`, :class:`UserInactive` or
    :class:`CacheUnavailable`.
    """
    conf = _enabled_settings(request)
    if not _HANDOFF_PATTERN.match(sso_code or ""):
        raise InvalidHandoffCode("malformed sso_code")
    record = _store(conf).take(HANDOFF_PREFIX, sso_code)
    if record is None:
        raise InvalidHandoffCode("unknown, expired or already used sso_code")
    challenge = record.get("code_challenge")
    if challenge:
        if not code_verifier or not _VERIFIER_PATTERN.match(code_verifier):
            raise CodeVerifierMismatch("missing or malformed code_verifier")
        if not hmac.compare_digest(s256(code_verifier), str(challenge)):
            raise CodeVerifierMismatch("code_verifier does not match")
    identity = policy.signed_in_identity(record.get("identity_id"), record.get("user_id"))
    pair = tokens.issue_tokens(
        identity.user,
        identity=identity,
        microsoft_session_id=record.get("microsoft_session_id"),
        conf=conf,
        method=SignInMethod.BROWSER,
        user_agent=_user_agent(request),
    )
    return SignedIn(user=identity.user, identity=identity, tokens=pair)


def refresh_tokens(request: HttpRequest, raw_refresh: str) -> tokens.TokenPair:
    """Rotate a refresh token; see :func:`sso_api.tokens.rotate_refresh_token`."""
    _enabled_settings(request)
    return tokens.rotate_refresh_token(raw_refresh)


def _post_logout_redirect_uri(request: HttpRequest, conf: SSOSettings, next_url: str | None) -> str:
    """Where Microsoft sends the browser after signing out: the client's ``next`` (already
    validated), else ``MICROSOFT_SSO_LOGOUT_REDIRECT_PATH`` made absolute (a path, a URL
    name or an allowed URL)."""
    if next_url and "://" in next_url:
        return next_url
    target = next_url or conf.logout_redirect_path
    if "://" in target:
        return validate_next_url(target, conf)
    if not target.startswith("/"):
        try:
            target = reverse(target)
        except NoReverseMatch:
            target = "/"
    return f"{request_scheme(request)}://{callback_netloc(request, conf)}{target}"


def sign_out(request: HttpRequest, raw_refresh: str, next_url: str | None = None) -> str | None:
    """Revoke the refresh family; return Microsoft's end-session URL when SLO is on.

    ``next_url`` is where this client wants the browser back after Microsoft signed it out
    (a native app's ``myapp://signed-out``, say); it obeys the same rule as ``next`` at
    :func:`start_sign_in` and is checked before anything is revoked. Raises
    :class:`InvalidNextURL` for a destination that is not allowed and
    :class:`InvalidRefreshToken` for a token that is not ours. The family is revoked
    before Microsoft is consulted, so an unreachable Microsoft only costs the URL.
    """
    conf = _enabled_settings(request)
    if next_url:
        next_url = validate_next_url(next_url, conf)
    tokens.revoke_refresh_family(raw_refresh)
    if not conf.slo_enabled:
        return None
    try:
        post_logout = _post_logout_redirect_uri(request, conf, next_url)
        return entra_client(conf).end_session_url(post_logout)
    except SSOError as exc:
        logger.warning(
            "no end-session URL: code=%s reason=%s causes=%s",
            exc.code,
            exc.reason,
            cause_names(exc),
        )
        return None


def front_channel_logout(request: HttpRequest, microsoft_session_id: str, issuer: str) -> int:
    """Revoke every family of a Microsoft session; returns how many were revoked.

    ``issuer`` is the ``iss`` parameter Microsoft sends along (OpenID Connect Front-Channel
    Logout 1.0, section 2), or empty. When given, it must be this app's issuer for a tenant
    that may sign in here, and only that tenant's sessions are revoked; any other issuer
    revokes nothing, since a session id is only unique within its issuer.
    """
    conf = sso_settings(request)
    tenant_id: str | None = None
    if issuer:
        try:
            tenant_id = _tenant_of_issuer(conf, issuer[:512])
        except SSOError as exc:
            logger.warning(
                "front-channel logout not verified: code=%s reason=%s", exc.code, exc.reason
            )
            return 0
        if tenant_id is None or not policy.tenant_allowed(tenant_id, conf):
            logger.warning("front-channel logout from a foreign issuer ignored")
            return 0
    return tokens.revoke_microsoft_session(microsoft_session_id[:128], tenant_id=tenant_id)


def front_channel_frame_ancestors(request: HttpRequest) -> list[str]:
    """The origins that may frame the front-channel logout page: Microsoft's sign-out page.

    The authority's origin, and the discovery document's ``end_session_endpoint`` origin
    when that differs (a test platform may serve its browser pages elsewhere; for Entra
    they are the same). When the discovery document cannot be loaded, the authority alone.
    """
    conf = sso_settings(request)
    origins = [_origin(conf.authority)]
    try:
        end_session = entra_client(conf).metadata().end_session_endpoint
    except SSOError:
        end_session = None
    if end_session and _origin(end_session) not in origins:
        origins.append(_origin(end_session))
    return origins


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _tenant_of_issuer(conf: SSOSettings, issuer: str) -> str | None:
    """The tenant ``issuer`` speaks for, if it is this app's issuer for that tenant.

    Entra's v2.0 issuers name the tenant in their first path segment
    (``https://login.microsoftonline.com/{tid}/v2.0``); the discovery document's issuer,
    with ``{tenantid}`` filled in, must then give back exactly ``issuer``. Raises
    :class:`ProviderUnavailable` when the discovery document cannot be loaded.
    """
    try:
        segments = urlsplit(issuer).path.split("/")
    except ValueError:  # an unclosed IPv6 bracket, a host that does not normalise
        return None
    tenant_id = segments[1].lower() if len(segments) > 1 else ""
    if not tenant_id or entra_client(conf).metadata().issuer_for_tenant(tenant_id) != issuer:
        return None
    return tenant_id


def describe_signed_in(signed_in: SignedIn) -> UserProfile:
    """The user as ``/token/`` shows them: what their new access token says."""
    return describe_tokens(signed_in.tokens)


def describe_tokens(pair: tokens.TokenPair) -> UserProfile:
    """The user as a new token pair's access token describes them (``/token/``,
    ``/token/exchange/`` and ``/token/refresh/`` answer it)."""
    identity = pair.session.identity
    return _described(
        pair.profile, (identity.tenant_id, identity.object_id), list(identity.roles or [])
    )


def describe_user(
    user: AbstractBaseUser | tokens.TokenProfileUser, token_claims: Mapping[str, object] | None
) -> UserProfile:
    """What ``/me/`` shows for the user of a verified access token.

    For a token of ours, the profile and identity it carries (no query). For an access
    token minted elsewhere in the project, the user's fields and the identity they last
    signed in with.
    """
    identity = tokens.identity_from_claims(token_claims)
    roles = tokens.roles_from_claims(token_claims)
    if isinstance(user, tokens.TokenProfileUser):
        return _described(user.profile, identity, roles)
    if identity is None:
        # An access token minted elsewhere in the project: the identity of the user's
        # last sign-in; no roles, since that token grants none (see HasAppRole).
        last = policy.last_identity(user)
        identity = (last.tenant_id, last.object_id) if last is not None else None
    return _described(tokens.user_profile(user), identity, roles)


def _described(
    profile: tokens.Profile, identity: tuple[str, str] | None, roles: list[str]
) -> UserProfile:
    tenant_id, object_id = identity if identity else (None, None)
    return {**profile, "tenant_id": tenant_id, "object_id": object_id, "roles": roles}


def entra_bearer_user(
    request: HttpRequest, raw_token: str
) -> tuple[AbstractBaseUser, EntraAccessToken]:
    """The user and validated claims of an Entra access token sent as a bearer token.

    No outbound call once the authority's metadata and keys are cached, at most one
    query for a known account. Raises :class:`NotAnEntraToken` for a token that is not
    Microsoft's at all (checked first, so that other bearer tokens go through even while
    sign-in with Microsoft is off), :class:`SSODisabled`, :class:`NotConfigured`, the
    token's other refusals (:class:`InvalidEntraToken`, :class:`EntraScopeMissing`,
    :class:`EntraClientNotAllowed`), the user policy's refusals, or
    :class:`ProviderUnavailable`.
    """
    try:
        conf = _enabled_settings(request)
        client = entra_client(conf)
    except (SSODisabled, NotConfigured):
        unverified_entra_parts(raw_token)
        raise
    # Tokens that are not Microsoft's are told apart by the validation itself, which
    # parses each token once and remembers the ones that pass.
    token = client.validate_access_token(raw_token, conf)
    single_tenant_app = policy.app_is_single_tenant(
        client.metadata().issuer, token.claims.tenant_id
    )
    user = policy.user_for_access_token(
        token.claims, request, conf, single_tenant_app=single_tenant_app
    )
    return user, token


def exchange_entra_token(request: HttpRequest, raw_token: str) -> SignedIn:
    """Trade an Entra access token for this API for our tokens, once.

    The token is validated as for direct bearer use, then marked used under its ``uti``
    until it expires (in the shared cache, so once across every worker), and its account
    goes through the whole sign-in policy, as a browser sign-in does. Raises
    :class:`ExchangeDisabled`, :class:`EntraTokenReused`, the token's refusals, the
    policy's refusals, :class:`ProviderUnavailable` or :class:`CacheUnavailable`.
    """
    conf = _enabled_settings(request)
    if not conf.exchange_enabled:
        raise ExchangeDisabled()
    client = entra_client(conf)
    token = client.validate_access_token(raw_token, conf)
    remaining = token.expires_at - int(time.time()) + CLOCK_SKEW_SECONDS
    if not _store(conf).claim(EXCHANGED_PREFIX, token.token_id, max(1, remaining)):
        raise EntraTokenReused("uti already exchanged")
    single_tenant_app = policy.app_is_single_tenant(
        client.metadata().issuer, token.claims.tenant_id
    )
    signed_in = policy.sign_in(token.claims, request, conf, single_tenant_app=single_tenant_app)
    pair = tokens.issue_tokens(
        signed_in.user,
        identity=signed_in.identity,
        # With the sid optional claim, Microsoft's front-channel logout reaches it too.
        microsoft_session_id=str(token.raw.get("sid") or "") or None,
        conf=conf,
        scopes=token.scopes,
        method=SignInMethod.EXCHANGE,
        user_agent=_user_agent(request),
    )
    audit.emit(
        audit.sign_in_succeeded,
        "sign_in_succeeded",
        user=signed_in.user,
        identity=signed_in.identity,
        created=signed_in.created,
        tenant_id=token.claims.tenant_id,
        method="exchange",
        request=request,
    )
    return SignedIn(user=signed_in.user, identity=signed_in.identity, tokens=pair)


# --- Sessions people can see and end -------------------------------------------------------

# Control characters have no place in a label people read (and could upset a log viewer).
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def _user_agent(request: HttpRequest) -> str:
    """The request's User-Agent, as a session keeps it: printable, and cut short."""
    agent = str(request.META.get("HTTP_USER_AGENT", ""))[:USER_AGENT_MAX_LENGTH]
    return _CONTROL_CHARACTERS.sub("", agent)


@dataclass(frozen=True)
class SessionSummary:
    """One session as its user sees it in their list."""

    id: str
    started_at: datetime
    last_refreshed_at: datetime | None
    expires_at: datetime
    user_agent: str
    method: str
    current: bool


def list_sessions(
    user_id: object, access_claims: Mapping[str, object] | None
) -> list[SessionSummary]:
    """The caller's live sessions, newest first, marking the one of the calling token.

    One query. ``access_claims`` are the calling access token's claims (ours name their
    session; an Entra token names none, so no session is then current).
    """
    current = tokens.session_of_access_token(access_claims or {})
    return [
        SessionSummary(
            id=str(session.pk),
            started_at=session.created_at,
            last_refreshed_at=session.last_refreshed_at,
            expires_at=session.expires_at,
            user_agent=session.user_agent,
            method=session.method,
            current=str(session.pk) == current,
        )
        for session in tokens.live_sessions(user_id)
    ]


def _user_pk(user_id: object) -> Any:
    """``user_id`` as the user model's primary key type: an access token of ours names the
    user as a string, and the audit trail should name them as the database does."""
    return get_user_model()._meta.pk.to_python(user_id)


def end_own_session(user_id: object, session_id: str) -> None:
    """End one of the caller's live sessions.

    Raises :class:`SessionNotFound` for an id that is not one of the caller's live
    sessions, whether it is unknown, malformed, ended or another user's: the answer must
    not tell anyone whether a session id exists.
    """
    user_pk = _user_pk(user_id)
    if not tokens.end_session(user_pk, session_id, RevocationReason.USER, actor_id=user_pk):
        raise SessionNotFound()


def end_all_own_sessions(user_id: object) -> int:
    """End every live session of the caller, the calling one included; how many ended."""
    user_pk = _user_pk(user_id)
    return tokens.end_sessions_of_user(user_pk, RevocationReason.USER, actor_id=user_pk)
