"""The OpenAPI description of every endpoint (drf-spectacular), kept apart from the views.

Every error body is one component, ``Error``, whose ``code`` is the enum of all codes
(``ErrorCodeEnum``, the callback's ``sso_error`` values included), so a generated client
has one error type. Each error status then names the exact codes it can carry, in its
description and with one example per code whose ``detail`` is the text the API really
sends.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    inline_serializer,
)
from rest_framework import serializers

from sso_api import exceptions as errors
from sso_api.conf import sso_settings
from sso_api.serializers import (
    ExchangeRequestSerializer,
    LogoutAllResponseSerializer,
    LogoutRequestSerializer,
    LogoutResponseSerializer,
    RefreshRequestSerializer,
    SessionSerializer,
    StartRequestSerializer,
    StartResponseSerializer,
    TokenPairSerializer,
    TokenRequestSerializer,
    TokenResponseSerializer,
    UserSerializer,
)
from sso_api.tokens import LISTED_SESSIONS


class _AccessTokenScheme(SimpleJWTScheme):  # type: ignore[no-untyped-call]
    """/me/'s authentication is simplejwt's bearer scheme: the same ``jwtAuth``."""

    target_class = "sso_api.authentication.AccessTokenAuthentication"


class _EntraAccessTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """Entra access tokens for this API: OAuth2 authorization code with PKCE at the
    authority, for the API's delegated scope (``entraOAuth2``).

    The flow's URLs are the authority's authorize and token endpoints, unless the project
    sets drf-spectacular's ``OAUTH2_AUTHORIZATION_URL`` and ``OAUTH2_TOKEN_URL``: Swagger
    UI's browser calls them, and it may have to reach the authority elsewhere than the
    API does (the demo's fake identity platform serves browsers over plain HTTP).
    """

    target_class = "sso_api.authentication.EntraAccessTokenAuthentication"
    name = "entraOAuth2"

    def get_security_requirement(self, auto_schema: AutoSchema) -> dict[str, list[Any]]:
        return {self.name: [_api_scope_uri()]}

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        authority = sso_settings().authority
        authorization_url = (
            spectacular_settings.OAUTH2_AUTHORIZATION_URL or f"{authority}/oauth2/v2.0/authorize"
        )
        token_url = spectacular_settings.OAUTH2_TOKEN_URL or f"{authority}/oauth2/v2.0/token"
        return {
            "type": "oauth2",
            "description": (
                "An Entra access token for this API, as MSAL gets it for a public client with "
                "PKCE (see the HTTP API docs: Entra access tokens, accepted directly)."
            ),
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": authorization_url,
                    "tokenUrl": token_url,
                    "scopes": {_api_scope_uri(): "Call this API as the signed-in user."},
                }
            },
        }


def _api_scope_uri() -> str:
    conf = sso_settings()
    audiences = [audience for audience in conf.api_audiences if "://" in audience]
    resource = audiences[0] if audiences else f"api://{conf.application_id}"
    return f"{resource}/{conf.api_scope}"


class _CodeChallengeMethodSchema(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    """``code_challenge_method`` as its one accepted value, so clients type it as "S256"."""

    target_class = "sso_api.serializers.CodeChallengeMethodField"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        # RFC 7636, 4.3: "plain" exists, but only S256 is accepted here (sso_api.flows).
        return {"type": "string", "enum": ["S256"]}


# Errors raised by Django REST framework or simplejwt rather than by sso_api.
_FRAMEWORK_ERRORS = {
    "not_authenticated": "Authentication credentials were not provided.",
    "token_not_valid": "Given token not valid for any token type",
    "bad_authorization_header": "Authorization header must contain two space-delimited values",
    "authentication_failed": "Incorrect authentication credentials.",
    "password_changed": "The user's password has been changed.",
    "throttled": "Request was throttled. Expected available in 42 seconds.",
}
# What the callback reports, in sso_error, for an unexpected exception (sso_api.flows).
_CALLBACK_ONLY_CODES = ("server_error",)
ErrorSource = type[errors.SSOError] | str


def _code_and_detail(error: ErrorSource) -> tuple[str, str]:
    if isinstance(error, str):
        return error, _FRAMEWORK_ERRORS[error]
    return error.code, error.default_detail


def _all_codes() -> list[str]:
    def subclasses(cls: type[errors.SSOError]) -> list[type[errors.SSOError]]:
        return [cls, *(sub for direct in cls.__subclasses__() for sub in subclasses(direct))]

    concrete = subclasses(errors.SSOError)[1:]  # the base class's code is never sent
    codes = {cls.code for cls in concrete} | set(_FRAMEWORK_ERRORS) | set(_CALLBACK_ONLY_CODES)
    return sorted(codes)


#: Every error code, for ``SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]`` (optional).
ERROR_CODE_CHOICES = _all_codes()


# The body of every error (sso_api.views.error_body): the one Error component. (Declared
# inline: a serializer class cannot declare a field named "fields".)
_ERROR_BODY = inline_serializer(
    name="Error",
    fields={
        "detail": serializers.CharField(help_text="Human-readable explanation, safe to show."),
        "code": serializers.ChoiceField(
            choices=ERROR_CODE_CHOICES, help_text="Stable snake_case error code to branch on."
        ),
        "fields": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            required=False,
            help_text="Per-field messages; only with invalid_request.",
        ),
    },
)


def _error(description: str, *sources: ErrorSource) -> OpenApiResponse:
    """An error status: the ``Error`` body, the codes it can carry, one example each."""
    pairs = [_code_and_detail(source) for source in sources]
    codes = ", ".join(f"`{code}`" for code in sorted({code for code, _ in pairs}))
    return OpenApiResponse(
        response=_ERROR_BODY,
        description=f"{description} Codes: {codes}.",
        examples=[
            OpenApiExample(code, value={"detail": detail, "code": code}) for code, detail in pairs
        ],
    )


def _throttled() -> OpenApiResponse:
    return _error(
        "Rate limit reached (only when the project sets a rate for this scope); "
        "retry after the Retry-After header's seconds.",
        "throttled",
    )


_UNAVAILABLE = (
    errors.NotConfigured,
    errors.ProviderUnavailable,
    errors.CacheUnavailable,
    errors.DatabaseUnavailable,
)


def _too_large() -> OpenApiResponse:
    return _error(
        "The body is over the project's DATA_UPLOAD_MAX_MEMORY_SIZE.", errors.RequestTooLarge
    )


def _not_json() -> OpenApiResponse:
    return _error("The body must be JSON.", errors.UnsupportedMediaType)


def _storage_down() -> OpenApiResponse:
    return _error(
        "The cache or the database cannot be reached; retry later.",
        errors.CacheUnavailable,
        errors.DatabaseUnavailable,
    )


def _database_down() -> OpenApiResponse:
    return _error("The database cannot be reached; retry later.", errors.DatabaseUnavailable)


_TOKENS_EXAMPLE = {
    "access": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIn0.c2ln",
    "refresh": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoic3NvX3JlZnJlc2gifQ.c2ln",
    "token_type": "Bearer",
    "expires_in": 300,
}
_USER_EXAMPLE: dict[str, Any] = {
    "id": "42",
    "username": "ada@contoso.example",
    "email": "ada@contoso.example",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "tenant_id": "a529b78a-8139-50b6-9c20-deb65979fb7b",
    "object_id": "e13aebde-86f1-5375-a8b5-2871ecbb33a3",
    "roles": ["Reports.Read"],
    "groups": ["Readers"],
}


def _start_responses(*, with_body: bool) -> dict[int, Any]:
    """/start/'s answers; a GET (``with_body=False``) reads no body, so it cannot be
    unparsable, too large or of the wrong type."""
    body_errors: tuple[ErrorSource, ...] = (errors.MalformedBody,) if with_body else ()
    responses: dict[int, Any] = {
        200: OpenApiResponse(
            StartResponseSerializer,
            description="The flow is ready: navigate the browser to authorization_url.",
            examples=[
                OpenApiExample(
                    "started",
                    value={
                        "authorization_url": "https://login.microsoftonline.com/"
                        "a529b78a-8139-50b6-9c20-deb65979fb7b/oauth2/v2.0/authorize?"
                        "client_id=...&response_type=code&redirect_uri=https%3A%2F%2F"
                        "api.example.com%2Fapi%2Fsso%2Fcallback%2F&scope=email+openid+"
                        "profile+offline_access&state=...&code_challenge=...&"
                        "code_challenge_method=S256&nonce=...&response_mode=form_post",
                        "state": "l1Cq2hZ0bJmXkT3dQ8cQ6z5xgU9oVwYtR4sN7aLpE2M",
                        "expires_in": 600,
                    },
                )
            ],
        ),
        302: OpenApiResponse(
            description="With redirect=true: the same URL as a redirect to Microsoft.",
            response=None,
        ),
        400: _error(
            "The request was refused; nothing was stored.",
            errors.InvalidRequest,
            errors.InvalidNextURL,
            errors.CodeChallengeRequired,
            errors.InvalidCodeChallenge,
            *body_errors,
            errors.TooManyFields,
        ),
        403: _error("Sign-in is switched off.", errors.SSODisabled),
        429: _throttled(),
        503: _error(
            "Not configured, or Microsoft, the cache or the database cannot be reached; "
            "retry later.",
            *_UNAVAILABLE,
        ),
    }
    if with_body:
        responses[413] = _too_large()
        responses[415] = _error("The body must be JSON or a form.", errors.UnsupportedMediaType)
    return responses


START_GET: dict[str, Any] = {
    "operation_id": "sso_start_get",
    "summary": "Start a sign-in (query string)",
    "description": (
        "Creates a sign-in flow and answers Microsoft's authorization URL. Same parameters "
        "as the POST form, in the query string."
    ),
    "parameters": [StartRequestSerializer],
    "responses": _start_responses(with_body=False),
    "auth": [],
}

START_POST: dict[str, Any] = {
    "operation_id": "sso_start",
    "summary": "Start a sign-in",
    "description": (
        "Creates a sign-in flow (fresh state, PKCE and nonce towards Microsoft), binds it to "
        "the client's own PKCE challenge, and answers Microsoft's authorization URL."
    ),
    "request": StartRequestSerializer,
    "responses": _start_responses(with_body=True),
    "auth": [],
}

_CALLBACK_DESCRIPTION = (
    "The redirect URI registered in Entra. Microsoft sends the browser here; the API "
    "answers 302 to the flow's `next` with `sso_code` (a one-time code, 60 s) added to its "
    "query, or with `sso_error` (a stable code) and `sso_error_description`. When no valid "
    "flow is known the target is MICROSOFT_SSO_LOGIN_FAILED_URL. It never answers an error "
    "page: every outcome is a redirect."
)
_CALLBACK_RESPONSES = {
    302: OpenApiResponse(
        description=(
            "Redirect to next?sso_code=<code>, or to next (or the login-failed URL)"
            "?sso_error=<code>&sso_error_description=<text>. sso_error is one of: "
            + ", ".join(
                sorted(
                    {
                        cls.code
                        for cls in (
                            errors.SSODisabled,
                            errors.NotConfigured,
                            errors.CacheUnavailable,
                            errors.DatabaseUnavailable,
                            errors.InvalidState,
                            errors.ResponseModeMismatch,
                            errors.AccessDenied,
                            errors.InteractionRequired,
                            errors.ProviderError,
                            errors.ProviderUnavailable,
                            errors.TokenExchangeFailed,
                            errors.InvalidIdToken,
                            errors.TenantNotAllowed,
                            errors.DomainNotAllowed,
                            errors.EmailNotVerified,
                            errors.UserNotFound,
                            errors.UserInactive,
                            errors.LoginRefused,
                            errors.GroupsUnavailable,
                            errors.RequestTooLarge,
                            errors.TooManyFields,
                            errors.UnsupportedMediaType,
                            errors.InvalidRequest,
                        )
                    }
                    | set(_CALLBACK_ONLY_CODES)
                )
            )
            + "."
        ),
        response=None,
    )
}
# Query strings are bounded in practice (servers answer 414 beyond a few KB); saying so
# keeps generated requests realistic.
_BOUNDED_STRING = {"type": "string", "maxLength": 2048}

_AUTHORIZATION_RESPONSE_PARAMETERS = [
    OpenApiParameter(name, _BOUNDED_STRING, OpenApiParameter.QUERY, description=text)
    for name, text in (
        ("code", "Microsoft's authorization code."),
        ("state", "The flow's state."),
        ("session_state", "Microsoft's session state (ignored)."),
        ("error", "Microsoft's OAuth error code, when sign-in failed there."),
        ("error_description", "Microsoft's error text (never shown to users)."),
    )
]

CALLBACK_GET: dict[str, Any] = {
    "operation_id": "sso_callback_query",
    "summary": "Microsoft's answer (response_mode=query)",
    "description": _CALLBACK_DESCRIPTION,
    "parameters": _AUTHORIZATION_RESPONSE_PARAMETERS,
    "responses": _CALLBACK_RESPONSES,
    "auth": [],
}

CALLBACK_POST: dict[str, Any] = {
    "operation_id": "sso_callback_form_post",
    "summary": "Microsoft's answer (response_mode=form_post)",
    "description": _CALLBACK_DESCRIPTION,
    "request": {
        # Microsoft's authorization response; "Request" is added: CallbackRequest.
        "application/x-www-form-urlencoded": inline_serializer(
            name="Callback",
            fields={
                "code": serializers.CharField(required=False),
                "state": serializers.CharField(required=False),
                "session_state": serializers.CharField(required=False),
                "error": serializers.CharField(required=False),
                "error_description": serializers.CharField(required=False),
            },
        )
    },
    "responses": _CALLBACK_RESPONSES,
    "auth": [],
}

TOKEN: dict[str, Any] = {
    "operation_id": "sso_token",
    "summary": "Redeem the sso_code",
    "description": (
        "Trades the one-time sso_code and the PKCE verifier whose S256 challenge was sent to "
        "/start/ for an access token, a refresh token and the user. The code is burned by "
        "the first attempt, right or wrong. In cookie mode, a request carrying X-SSO-CSRF "
        "from a trusted origin gets the refresh token in HttpOnly cookies instead of JSON."
    ),
    "request": TokenRequestSerializer,
    "responses": {
        200: OpenApiResponse(
            TokenResponseSerializer,
            description="Signed in.",
            examples=[
                OpenApiExample("signed in", value={**_TOKENS_EXAMPLE, "user": _USER_EXAMPLE})
            ],
        ),
        400: _error(
            "The code or verifier was refused; start again.",
            errors.InvalidRequest,
            errors.InvalidHandoffCode,
            errors.CodeVerifierMismatch,
            errors.MalformedBody,
        ),
        403: _error("The user may not sign in.", errors.UserInactive, errors.SSODisabled),
        413: _too_large(),
        415: _not_json(),
        429: _throttled(),
        503: _storage_down(),
    },
    "auth": [],
}

EXCHANGE: dict[str, Any] = {
    "operation_id": "sso_token_exchange",
    "summary": "Exchange an Entra access token",
    "description": (
        "For apps that sign in with MSAL: trades an Entra access token issued for this API "
        "(delegated, with MICROSOFT_SSO_API_SCOPE) for our access and refresh tokens and "
        "the user, exactly as /token/ answers. Each Entra token can be exchanged once. The "
        "account goes through the same user policy as a browser sign-in. Off unless "
        "MICROSOFT_SSO_EXCHANGE_ENABLED."
    ),
    "request": ExchangeRequestSerializer,
    "responses": {
        200: OpenApiResponse(
            TokenResponseSerializer,
            description="Signed in.",
            examples=[
                OpenApiExample("signed in", value={**_TOKENS_EXAMPLE, "user": _USER_EXAMPLE})
            ],
        ),
        400: _error("The request is malformed.", errors.InvalidRequest, errors.MalformedBody),
        401: _error(
            "The Entra access token is not valid for this API, or was already exchanged.",
            errors.InvalidEntraToken,
            errors.EntraTokenReused,
        ),
        403: _error(
            "The token or its account may not sign in here.",
            errors.EntraScopeMissing,
            errors.EntraClientNotAllowed,
            errors.ExchangeDisabled,
            errors.SSODisabled,
            errors.TenantNotAllowed,
            errors.DomainNotAllowed,
            errors.EmailNotVerified,
            errors.UserNotFound,
            errors.UserInactive,
            errors.LoginRefused,
        ),
        413: _too_large(),
        415: _not_json(),
        429: _throttled(),
        503: _error(
            "Microsoft's keys, the cache or the database cannot be reached; retry later.",
            *_UNAVAILABLE,
        ),
    },
    "auth": [],
}

_SESSION_401 = (
    errors.InvalidRefreshToken,
    errors.DuplicateRefreshCookie,
    errors.RefreshTokenReused,
    errors.SessionRevoked,
    errors.SessionExpired,
)

REFRESH: dict[str, Any] = {
    "operation_id": "sso_token_refresh",
    "summary": "Rotate the refresh token",
    "description": (
        "Returns a new access and refresh token; the presented refresh token stops working. "
        "Presenting an already rotated token revokes its whole session. In cookie mode the "
        "body may be empty: the cookie carries the token and X-SSO-CSRF is required. The "
        "user is the session's, as the new access token describes them: a client compares "
        "it with the user it shows, since in cookie mode another tab of the browser may "
        "have signed in as someone else."
    ),
    "request": RefreshRequestSerializer,
    "responses": {
        200: OpenApiResponse(
            TokenPairSerializer,
            description="Rotated.",
            examples=[OpenApiExample("rotated", value={**_TOKENS_EXAMPLE, "user": _USER_EXAMPLE})],
        ),
        400: _error("The request is malformed.", errors.InvalidRequest, errors.MalformedBody),
        401: _error("Sign in again.", *_SESSION_401),
        403: _error(
            "Cookie request without proof of origin, or sign-in switched off.",
            errors.CSRFFailed,
            errors.SSODisabled,
        ),
        413: _too_large(),
        415: _not_json(),
        429: _throttled(),
        # Refresh tokens are database records; the cache plays no part.
        503: _database_down(),
    },
    "auth": [],
}

LOGOUT: dict[str, Any] = {
    "operation_id": "sso_logout",
    "summary": "Sign out",
    "description": (
        "Revokes the refresh token's whole session. With MICROSOFT_SSO_SLO_ENABLED, answers "
        "Microsoft's end-session URL for the browser to visit next; Microsoft then sends the "
        "browser to next (a native app can come back to itself) or to "
        "MICROSOFT_SSO_LOGOUT_REDIRECT_PATH."
    ),
    "request": LogoutRequestSerializer,
    "responses": {
        200: OpenApiResponse(
            LogoutResponseSerializer,
            description="Signed out.",
            examples=[
                OpenApiExample(
                    "single logout",
                    value={
                        "logout_url": "https://login.microsoftonline.com/a529b78a-8139-50b6-"
                        "9c20-deb65979fb7b/oauth2/v2.0/logout?post_logout_redirect_uri="
                        "https%3A%2F%2Fapp.example.com%2F"
                    },
                ),
                OpenApiExample("no single logout", value={"logout_url": None}),
            ],
        ),
        400: _error(
            "The request is malformed, or next is not an allowed destination.",
            errors.InvalidRequest,
            errors.MalformedBody,
            errors.InvalidNextURL,
        ),
        401: _error(
            "Not a refresh token of this API, or the refresh cookie came twice.",
            errors.InvalidRefreshToken,
            errors.DuplicateRefreshCookie,
        ),
        403: _error(
            "Cookie request without proof of origin, or sign-in switched off.",
            errors.CSRFFailed,
            errors.SSODisabled,
        ),
        413: _too_large(),
        415: _not_json(),
        429: _throttled(),
        503: _database_down(),
    },
    "auth": [],
}

FRONT_CHANNEL_LOGOUT: dict[str, Any] = {
    "operation_id": "sso_logout_frontchannel",
    "summary": "Front-channel logout from Microsoft",
    "description": (
        "Register this URL (https) as the app's front-channel logout URL in Entra. "
        "Microsoft loads it in a hidden frame with the session's sid and its issuer; every "
        "refresh token issued for that session is revoked. When iss is given it must be this "
        "app's issuer for a tenant allowed to sign in, and only that tenant's sessions are "
        "revoked; any other issuer revokes nothing. Answers 200 with an empty page."
    ),
    "parameters": [
        OpenApiParameter(
            "sid", _BOUNDED_STRING, OpenApiParameter.QUERY, description="Microsoft's session id."
        ),
        OpenApiParameter(
            "iss",
            _BOUNDED_STRING,
            OpenApiParameter.QUERY,
            description="The issuer of the session: this app's issuer for the user's tenant.",
        ),
    ],
    "responses": {
        (200, "text/html"): OpenApiResponse(OpenApiTypes.STR, description="Done."),
        400: _error("The query string is refused.", errors.TooManyFields),
        429: _throttled(),
        # The session's refresh tokens are revoked in the database.
        503: _database_down(),
    },
    "auth": [],
}

ME: dict[str, Any] = {
    "operation_id": "sso_me",
    "summary": "The signed-in user",
    "description": (
        "The user as the access token names them: the profile it carries was read when it "
        "was minted (the sign-in or the last refresh), so this makes no database query, and "
        "a change to the user shows after the next refresh. An access token minted elsewhere "
        "in the project is looked up as simplejwt does, and so is every token when "
        "simplejwt's CHECK_REVOKE_TOKEN is on (password_changed)."
    ),
    "responses": {
        200: OpenApiResponse(
            UserSerializer,
            description="The user of the bearer access token.",
            examples=[OpenApiExample("user", value=_USER_EXAMPLE)],
        ),
        401: _error(
            "No valid bearer access token: refresh, or sign in again.",
            "not_authenticated",
            "token_not_valid",
            "bad_authorization_header",
            "authentication_failed",
            "password_changed",
            errors.UserNotFound,
            errors.UserInactive,
        ),
        # Only for access tokens minted elsewhere in the project, looked up in the database.
        503: _database_down(),
    },
}

_BEARER_401 = (
    "not_authenticated",
    "token_not_valid",
    "bad_authorization_header",
    "authentication_failed",
)


def app_role_responses() -> dict[int, OpenApiResponse]:
    """The error answers of a view protected by :class:`sso_api.permissions.HasAppRole`.

    For a project's own views: ``@extend_schema(responses={200: ..., **app_role_responses()})``.
    The 403 always has this shape; the 401 has it with ``sso_api.views.exception_handler``
    as the project's ``EXCEPTION_HANDLER``.
    """
    return {
        401: _error("No valid bearer access token: refresh, or sign in again.", *_BEARER_401),
        403: _error(
            "The access token does not hold the app role(s) the view requires.",
            errors.AppRoleRequired,
        ),
    }


def scope_responses() -> dict[int, OpenApiResponse]:
    """The error answers of a view protected by :class:`sso_api.permissions.HasScope`."""
    return {
        401: _error("No valid bearer access token: refresh, or sign in again.", *_BEARER_401),
        403: _error(
            "The access token does not carry the scope(s) the view requires.",
            errors.ScopeRequired,
        ),
    }


_SESSIONS_401 = _error(
    "No valid bearer access token of this API: refresh, or sign in again.",
    *_BEARER_401,
    errors.UserNotFound,
    errors.UserInactive,
)

SESSIONS: dict[str, Any] = {
    "operation_id": "sso_sessions_list",
    "summary": "The caller's sessions",
    "description": (
        "Every live session of the signed-in user (one per sign-in, ended by sign-out, "
        "by the user, an administrator or deactivation, or when it expires), newest first, "
        f"at most {LISTED_SESSIONS}. current marks the session of the calling access token."
    ),
    "responses": {
        200: OpenApiResponse(SessionSerializer(many=True), description="The live sessions."),
        401: _SESSIONS_401,
        429: _throttled(),
        503: _database_down(),
    },
}

SESSION_DELETE: dict[str, Any] = {
    "operation_id": "sso_sessions_end",
    "summary": "End one of the caller's sessions",
    "description": (
        "Its refresh token stops working at once; access tokens already issued to it stay "
        "valid until they expire (minutes). An id that is not one of the caller's live "
        "sessions, another user's included, answers 404 like an unknown one."
    ),
    "responses": {
        204: OpenApiResponse(description="Ended."),
        401: _SESSIONS_401,
        404: _error("No live session of the caller has this id.", errors.SessionNotFound),
        429: _throttled(),
        503: _database_down(),
    },
}

LOGOUT_ALL: dict[str, Any] = {
    "operation_id": "sso_logout_all",
    "summary": "End every session of the caller",
    "description": (
        "Signs the user out everywhere: every refresh token of every session stops working, "
        "the calling one's too; access tokens stay valid until they expire (minutes). In "
        "cookie mode the refresh cookie is cleared."
    ),
    "request": None,
    "responses": {
        200: OpenApiResponse(
            LogoutAllResponseSerializer,
            description="How many sessions ended.",
            examples=[OpenApiExample("ended", value={"ended": 3})],
        ),
        401: _SESSIONS_401,
        429: _throttled(),
        503: _database_down(),
    },
}
