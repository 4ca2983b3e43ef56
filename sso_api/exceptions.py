"""Every way a sign-in can fail, one class per failure.

Each class carries a stable snake_case ``code`` that clients may branch on, an HTTP
``status_code`` for the JSON endpoints and a short, generic ``detail`` that is safe to show
to anyone. The optional ``reason`` given when raising is for the server log only, and so is
the chained library exception (``raise ... from exc``), which may quote tokens or
Microsoft's own error text: neither ever reaches a response.

Nothing here imports Django REST framework: the HTTP layer maps these to responses.
"""

from __future__ import annotations

from django.db import InterfaceError, OperationalError


class SSOError(Exception):
    """Base class: a failure with a stable code and a message safe for clients."""

    code: str = "sso_error"
    status_code: int = 400
    default_detail: str = "Sign-in failed."

    def __init__(self, reason: str | None = None) -> None:
        self.detail = self.default_detail
        self.reason = reason or self.default_detail
        super().__init__(self.reason)


# --- Configuration and availability -------------------------------------------------------


class SSODisabled(SSOError):
    code = "sso_disabled"
    status_code = 403
    default_detail = "Sign-in with Microsoft is disabled."


class NotConfigured(SSOError):
    code = "sso_not_configured"
    status_code = 503
    default_detail = "Sign-in with Microsoft is not configured on this server."


class DatabaseUnavailable(SSOError):
    code = "database_unavailable"
    status_code = 503
    default_detail = "The sign-in service is temporarily unavailable. Try again shortly."


class CacheUnavailable(SSOError):
    code = "cache_unavailable"
    status_code = 503
    default_detail = "The sign-in service is temporarily unavailable. Try again shortly."


# --- Starting a flow ----------------------------------------------------------------------


class InvalidNextURL(SSOError):
    code = "invalid_next_url"
    default_detail = (
        "The 'next' URL is not allowed: the server lists allowed destinations in "
        "MICROSOFT_SSO_ALLOWED_REDIRECT_URLS."
    )


class CodeChallengeRequired(SSOError):
    code = "code_challenge_required"
    default_detail = "A PKCE code_challenge with code_challenge_method=S256 is required."


class InvalidCodeChallenge(SSOError):
    code = "invalid_code_challenge"
    default_detail = (
        "code_challenge must be a base64url S256 challenge (43 characters) and "
        "code_challenge_method must be S256."
    )


class AppRoleRequired(SSOError):
    """A view protected by ``sso_api.permissions.HasAppRole`` and a token without the role."""

    code = "app_role_required"
    status_code = 403
    default_detail = "Your account does not hold the app role this requires."


class ScopeRequired(SSOError):
    """A view protected by ``sso_api.permissions.HasScope`` and a token without the scope."""

    code = "scope_required"
    status_code = 403
    default_detail = "Your access token was not granted the scope this requires."


class CSRFFailed(SSOError):
    code = "csrf_failed"
    status_code = 403
    default_detail = (
        "Cookie-authenticated requests need the X-SSO-CSRF header and a trusted Origin."
    )


class InvalidRequest(SSOError):
    code = "invalid_request"
    default_detail = "The request is malformed."

    def __init__(self, reason: str | None = None, *, fields: dict[str, list[str]] | None = None):
        super().__init__(reason)
        # Per-field messages come from the serializer's generic texts, never from input.
        self.fields = fields or {}


class MalformedBody(SSOError):
    """The body is not JSON (or not a form) we can read, nested too deep included."""

    code = "parse_error"
    default_detail = "The request body could not be parsed."


class RequestTooLarge(SSOError):
    """The body is over Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``."""

    code = "request_too_large"
    status_code = 413
    default_detail = "The request is too large."


class TooManyFields(SSOError):
    """The query string or form has more fields than ``DATA_UPLOAD_MAX_NUMBER_FIELDS``."""

    code = "too_many_fields"
    default_detail = "The request has too many fields."


class UnsupportedMediaType(SSOError):
    code = "unsupported_media_type"
    status_code = 415
    default_detail = "The request's content type is not supported here."


class MethodNotAllowed(SSOError):
    code = "method_not_allowed"
    status_code = 405
    default_detail = "This HTTP method is not allowed here."


# --- The callback from Microsoft -----------------------------------------------------------


class InvalidState(SSOError):
    code = "invalid_state"
    default_detail = "This sign-in link is unknown, expired or already used. Start again."


class ResponseModeMismatch(SSOError):
    code = "response_mode_mismatch"
    default_detail = "The sign-in answer arrived in a different way than it was requested."


class AccessDenied(SSOError):
    code = "access_denied"
    default_detail = "Sign-in was cancelled or access was denied at Microsoft."


class InteractionRequired(SSOError):
    code = "interaction_required"
    default_detail = "Microsoft needs the user to sign in interactively (prompt=none failed)."


class ProviderError(SSOError):
    code = "provider_error"
    default_detail = "Microsoft could not complete the sign-in."


class ProviderUnavailable(SSOError):
    code = "provider_unavailable"
    status_code = 503
    default_detail = "Microsoft's sign-in service could not be reached. Try again shortly."


class TokenExchangeFailed(SSOError):
    code = "token_exchange_failed"
    default_detail = "Microsoft refused to complete the sign-in."


class InvalidIdToken(SSOError):
    code = "invalid_id_token"
    default_detail = "Microsoft's answer could not be verified."


# --- Who may sign in ------------------------------------------------------------------------


class TenantNotAllowed(SSOError):
    code = "tenant_not_allowed"
    status_code = 403
    default_detail = "Accounts from this organization may not sign in here."


class DomainNotAllowed(SSOError):
    code = "domain_not_allowed"
    status_code = 403
    default_detail = "Accounts from this email domain may not sign in here."


class EmailNotVerified(SSOError):
    code = "email_not_verified"
    status_code = 403
    default_detail = "This account's email address is not verified by Microsoft."


class UserNotFound(SSOError):
    code = "user_not_found"
    status_code = 403
    default_detail = "There is no account for this user here."


class UserInactive(SSOError):
    code = "user_inactive"
    status_code = 403
    default_detail = "This account is disabled."


class GroupsUnavailable(SSOError):
    """Entra said the groups are in Microsoft Graph, and Graph could not give them."""

    code = "groups_unavailable"
    status_code = 503
    default_detail = (
        "Your group memberships could not be read from Microsoft right now. Try again shortly."
    )


class LoginRefused(SSOError):
    code = "login_refused"
    status_code = 403
    default_detail = "This account may not sign in here."


# --- Entra access tokens for this API (apps that use MSAL) --------------------------------


class InvalidEntraToken(SSOError):
    """Not an Entra access token for this API: bad signature or algorithm, another audience
    (Microsoft Graph, an id_token's client), another issuer, expired, or malformed."""

    code = "invalid_entra_token"
    status_code = 401
    default_detail = "The Microsoft access token is invalid, expired or not meant for this API."


class NotAnEntraToken(InvalidEntraToken):
    """A bearer token not shaped like Microsoft's at all: not a JWT, or no ``tid`` and
    ``ver`` claims. Bearer authentication leaves it to the next class (our own JWTs look
    like this); everywhere else it is an :class:`InvalidEntraToken` like any other."""


class EntraScopeMissing(SSOError):
    """A valid token without this API's delegated scope: app-only, or not consented."""

    code = "entra_scope_missing"
    status_code = 403
    default_detail = "The Microsoft access token does not carry this API's scope."


class ExchangeDisabled(SSOError):
    code = "exchange_disabled"
    status_code = 403
    default_detail = "Exchanging Microsoft access tokens is not enabled on this server."


class EntraTokenReused(SSOError):
    """An Entra access token presented to the exchange a second time."""

    code = "entra_token_reused"
    status_code = 401
    default_detail = "This Microsoft access token was already exchanged."


class EntraClientNotAllowed(SSOError):
    """A valid token obtained by an app not in ``MICROSOFT_SSO_API_CLIENT_IDS``."""

    code = "entra_client_not_allowed"
    status_code = 403
    default_detail = "The app that obtained this Microsoft access token may not call this API."


# --- The hand-off code and our own tokens ---------------------------------------------------


class InvalidHandoffCode(SSOError):
    code = "invalid_sso_code"
    default_detail = "The sign-in code is unknown, expired or already used. Start again."


class CodeVerifierMismatch(SSOError):
    code = "invalid_code_verifier"
    default_detail = "The code_verifier does not match the challenge given at start."


class DuplicateRefreshCookie(SSOError):
    """The refresh cookie's name came twice: one of them was planted by a sibling site.

    Browsers send every cookie whose domain and path match, so a sibling subdomain can set
    a cookie of the same name for the parent domain; which one a server reads is then up
    to the order the browser chose. Neither is trusted.
    """

    code = "duplicate_refresh_cookie"
    status_code = 401
    default_detail = "The request carries the refresh cookie twice; neither was used."


class InvalidRefreshToken(SSOError):
    code = "invalid_refresh_token"
    status_code = 401
    default_detail = "The refresh token is invalid or expired."


class RefreshTokenReused(SSOError):
    code = "refresh_token_reused"
    status_code = 401
    default_detail = "This refresh token was already used; the session has been revoked."


class SessionRevoked(SSOError):
    code = "session_revoked"
    status_code = 401
    default_detail = "This session has been signed out."


class SessionNotFound(SSOError):
    """No live session of the caller has this id (whoever else's it may be)."""

    code = "session_not_found"
    status_code = 404
    default_detail = "No such session."


class SessionExpired(SSOError):
    code = "session_expired"
    status_code = 401
    default_detail = "This session has expired. Sign in again."


# --- Shared by every layer that reports failures ------------------------------------------


def from_database_error(exc: BaseException) -> DatabaseUnavailable | None:
    """:class:`DatabaseUnavailable` (caused by ``exc``) when ``exc`` is Django's error for
    a database that is down or unreachable; None for anything else."""
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return None
    error = DatabaseUnavailable(f"database error {type(exc).__name__}")
    error.__cause__ = exc
    return error


def cause_names(exc: BaseException) -> list[str]:
    """Class names of the exceptions chained behind ``exc`` (at most five).

    Only names: a library's message may quote a token or Microsoft's error text.
    """
    causes: list[str] = []
    cause = exc.__cause__
    while cause is not None and len(causes) < 5:
        causes.append(type(cause).__name__)
        cause = cause.__cause__
    return causes
