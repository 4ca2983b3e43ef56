"""The HTTP layer: validate the request, call a flow, render the answer.

Every error leaves as ``{"detail": ..., "code": ...}`` with a 4xx (or 503) status, whatever
the project's own DRF settings are: these views carry their own parsers, renderer, content
negotiation and exception handler. The callback is the exception: a browser lands there, so
every outcome, error or not, is a redirect.

Response bodies are rendered by the serializers that define them in the OpenAPI schema
(``sso_api.serializers``), so the two cannot drift apart.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpResponse, HttpResponseRedirect
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions as drf_exceptions
from rest_framework import views as drf_views
from rest_framework.authentication import BaseAuthentication
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser, FormParser, JSONParser
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from sso_api import flows, schema
from sso_api.authentication import AccessTokenAuthentication
from sso_api.conf import sso_settings
from sso_api.cookies import (
    clear_planted_cookies,
    clear_refresh_cookies,
    refresh_from_cookie,
    set_refresh_cookies,
    uses_refresh_cookie,
)
from sso_api.exceptions import (
    DuplicateRefreshCookie,
    InvalidRefreshToken,
    InvalidRequest,
    MethodNotAllowed,
    SSOError,
    cause_names,
    from_database_error,
)
from sso_api.request_errors import request_error
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
from sso_api.throttling import SSORateThrottle
from sso_api.tokens import TokenPair, TokenProfileUser

logger = logging.getLogger("sso_api")


class _JSONOnlyNegotiation(BaseContentNegotiation):
    """Always JSON: browsers landing on the callback send ``Accept: text/html``."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        for parser in parsers:
            if parser.media_type.split(";")[0] == (request.content_type or "").split(";")[0]:
                return parser
        return None

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


def error_body(code: str, detail: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON body of every error: ``detail`` and ``code``, and ``fields`` when given."""
    body: dict[str, Any] = {"detail": detail, "code": code}
    if fields:
        body["fields"] = fields
    return body


def _drf_error_body(exc: drf_exceptions.APIException) -> dict[str, Any]:
    """Our error shape for what DRF and simplejwt raise themselves (401, 429).

    Their texts are fixed strings; the cases that quote the request (parse errors, 405,
    415) were translated to our own errors before this is reached.
    """
    detail = exc.detail
    if isinstance(detail, dict) and "detail" in detail:
        return error_body(str(detail.get("code", exc.default_code)), str(detail["detail"]))
    if isinstance(detail, (list, dict)):
        return error_body(str(exc.default_code), str(exc.default_detail))
    return error_body(str(getattr(detail, "code", None) or exc.default_code), str(detail))


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """A DRF ``EXCEPTION_HANDLER`` that gives a project's own views our error shape.

    ``REST_FRAMEWORK = {"EXCEPTION_HANDLER": "sso_api.views.exception_handler"}`` makes the
    401s of the bearer authentications, the 403 of ``HasAppRole`` and DRF's other errors
    answer ``{"detail": ..., "code": ...}`` as this app's endpoints do (and as
    ``sso_api.schema.app_role_responses`` documents). Validation errors keep DRF's
    per-field shape, which a project's clients rely on. Refusals whose DRF text quotes the
    request (parse errors, 405, 415) get the same fixed texts as this app's endpoints.
    """
    translated = request_error(exc)
    if translated is not None:
        return Response(
            error_body(translated.code, translated.detail), status=translated.status_code
        )
    response = drf_views.exception_handler(exc, context)
    if (
        response is not None
        and isinstance(exc, drf_exceptions.APIException)
        and not isinstance(exc, drf_exceptions.ValidationError)
    ):
        response.data = _drf_error_body(exc)
    return response


_Response = TypeVar("_Response", bound=HttpResponse)


def _no_store(response: _Response) -> _Response:
    # Tokens and codes must never sit in a shared or browser cache (RFC 6749, 5.1).
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


# What a client is told about a field it got wrong, by DRF's error code.
_FIELD_MESSAGES = {
    "required": "This field is required.",
    "blank": "This field may not be blank.",
    "null": "This field may not be null.",
    "max_length": "This value is too long.",
    "invalid_choice": "This is not one of the allowed values.",
    "invalid": "This value has the wrong type or format.",
}
_INVALID_FIELD = "This value is not valid."


class SSOView(APIView):
    """Base view: public, JSON in and out, errors in our shape, responses never cached."""

    authentication_classes: Sequence[type[BaseAuthentication]] = ()
    permission_classes: Sequence[type[BasePermission]] = (AllowAny,)
    parser_classes: Sequence[type[BaseParser]] = (JSONParser,)
    renderer_classes: Sequence[type[BaseRenderer]] = (JSONRenderer,)
    content_negotiation_class = _JSONOnlyNegotiation
    throttle_classes: Sequence[type[BaseThrottle]] = (SSORateThrottle,)

    def handle_exception(self, exc: Exception) -> Response:
        # A database that is down, or a request Django refused: a stable code, not a 500.
        exc = from_database_error(exc) or request_error(exc) or exc
        if isinstance(exc, SSOError):
            if exc.status_code >= 500:
                # Operators need to see outages: the code, our reason and the causes' classes.
                logger.warning(
                    "%s failed: code=%s reason=%s causes=%s",
                    self.request.path,
                    exc.code,
                    exc.reason,
                    cause_names(exc),
                )
            fields = exc.fields if isinstance(exc, InvalidRequest) else None
            response = Response(error_body(exc.code, exc.detail, fields), status=exc.status_code)
            if exc.status_code == 405:
                response["Allow"] = ", ".join(self.allowed_methods)
            return response
        if isinstance(exc, drf_exceptions.APIException):
            response = super().handle_exception(exc)
            response.data = _drf_error_body(exc)
            return response
        return super().handle_exception(exc)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        return _no_store(super().finalize_response(request, response, *args, **kwargs))

    def validated(self, serializer_class: type[Serializer[Any]], data: Any) -> dict[str, Any]:
        """Run a request serializer; raises :class:`InvalidRequest` with per-field messages.

        The messages are fixed texts chosen by the error's code: some of DRF's own quote
        the value sent (``"<input>" is not a valid choice.``).
        """
        serializer = serializer_class(data=data)
        if not serializer.is_valid():
            fields = {
                name: [_FIELD_MESSAGES.get(getattr(messages[0], "code", ""), _INVALID_FIELD)]
                for name, messages in serializer.errors.items()
            }
            raise InvalidRequest("request failed validation", fields=fields)
        return dict(serializer.validated_data)


class ValidatedRedirect(HttpResponseRedirect):
    """A 302 to a URL this app already validated, custom app schemes included.

    Django's redirect refuses schemes other than http, https and ftp; ``next`` may be a
    mobile app's ``myapp://auth`` once ``MICROSOFT_SSO_ALLOWED_REDIRECT_URLS`` lists it.
    """

    def __init__(self, url: str) -> None:
        scheme = urlsplit(url).scheme
        self.allowed_schemes = [*HttpResponseRedirect.allowed_schemes, scheme]
        super().__init__(url)
        # The URL may carry a one-time code: keep it out of Referer headers and caches.
        self["Referrer-Policy"] = "no-referrer"


class StartView(SSOView):
    """Begin a sign-in: answers Microsoft's authorization URL (or redirects to it)."""

    throttle_scope = "sso_start"
    parser_classes = (JSONParser, FormParser)

    @extend_schema(**schema.START_GET)
    def get(self, request: Request) -> HttpResponse:
        return self._start(request, request.query_params)

    @extend_schema(**schema.START_POST)
    def post(self, request: Request) -> HttpResponse:
        return self._start(request, request.data)

    def _start(self, request: Request, data: Any) -> HttpResponse:
        params = self.validated(StartRequestSerializer, data)
        started = flows.start_sign_in(
            request,
            next_url=params.get("next"),
            code_challenge=params.get("code_challenge"),
            code_challenge_method=params.get("code_challenge_method"),
            login_hint=params.get("login_hint"),
            domain_hint=params.get("domain_hint"),
            prompt=params.get("prompt"),
        )
        if params["redirect"]:
            return HttpResponseRedirect(started.authorization_url)
        return Response(StartResponseSerializer(started).data)


class CallbackView(SSOView):
    """The redirect URI registered at Microsoft (query GET or form_post POST).

    CSRF-exempt by construction (no session authentication): the POST comes cross-site
    from Microsoft and is authenticated by its single-use ``state`` instead. Exactly GET
    and POST are served (Django would answer HEAD with GET, and a link scanner's HEAD
    would then use up the sign-in): other methods get ``405``. A GET or POST that cannot
    be read is a redirect with ``sso_error``. Neither touches a pending flow.
    """

    http_method_names = ("get", "post")
    # Microsoft's form_post is urlencoded; nothing else (no multipart uploads) is parsed.
    parser_classes = (FormParser,)
    throttle_classes = ()

    @extend_schema(**schema.CALLBACK_GET)
    def get(self, request: Request) -> HttpResponse:
        return ValidatedRedirect(flows.complete_sign_in(request, request.query_params.dict()))

    @extend_schema(**schema.CALLBACK_POST)
    def post(self, request: Request) -> HttpResponse:
        form = request.data.dict() if hasattr(request.data, "dict") else {}
        return ValidatedRedirect(flows.complete_sign_in(request, form))

    def handle_exception(self, exc: Exception) -> Response:
        converted = request_error(exc) or exc
        if isinstance(converted, MethodNotAllowed):
            # No browser is on the other end (they send GET or POST): a plain 405.
            return super().handle_exception(converted)
        # DRF's finalize_response accepts any HttpResponse; the annotation says Response.
        return ValidatedRedirect(  # type: ignore[return-value]
            flows.refuse_callback(self.request, converted)
        )


def _tokens_response(
    request: Request,
    pair: TokenPair,
    serializer_class: type[Serializer[Any]],
    *,
    via_cookie: bool,
    user: flows.UserProfile | None = None,
) -> Response:
    """The token pair as JSON, with the refresh token in cookies instead when asked."""
    body: dict[str, Any] = {
        "access": pair.access,
        "token_type": "Bearer",
        "expires_in": pair.access_expires_in,
    }
    if not via_cookie:
        body["refresh"] = pair.refresh
    if user is not None:
        body["user"] = user
    response = Response(serializer_class(body).data)
    if via_cookie:
        set_refresh_cookies(response, sso_settings(request), pair.refresh, pair.session.expires_at)
    return response


def _signed_in_response(request: Request, signed_in: flows.SignedIn) -> Response:
    """What /token/ and /token/exchange/ answer: the new pair and the user; the refresh
    token in cookies instead when the request proves a trusted origin in cookie mode."""
    return _tokens_response(
        request,
        signed_in.tokens,
        TokenResponseSerializer,
        via_cookie=uses_refresh_cookie(request, sso_settings(request)),
        user=flows.describe_signed_in(signed_in),
    )


class _RefreshTokenView(SSOView):
    """Shared by refresh and logout: where the refresh token comes from, and what happens
    to the cookies when it is refused."""

    #: Whether this request's refresh token came from the cookie.
    from_cookie = False

    def presented_refresh_token(self, request: Request, params: dict[str, Any]) -> str:
        """The refresh token of the body, else of the (CSRF-checked) cookie.

        A token in the body wins: that client manages its tokens itself, and the cookie is
        left alone whatever happens to that token.
        """
        conf = sso_settings(request)
        if params.get("refresh"):
            return str(params["refresh"])
        if not conf.refresh_cookie:
            raise InvalidRequest(
                "no refresh token", fields={"refresh": ["This field is required."]}
            )
        token = refresh_from_cookie(request, conf)
        if not token:
            # A browser without the cookie is simply not signed in (e.g. a first visit).
            raise InvalidRefreshToken("no refresh cookie")
        self.from_cookie = True
        return token

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        conf = sso_settings(self.request)
        if isinstance(exc, DuplicateRefreshCookie):
            clear_planted_cookies(response, self.request, conf)
        elif response.status_code == 401 and self.from_cookie:
            # A dead cookie would only fail again.
            clear_refresh_cookies(response, conf)
        return response


class TokenView(SSOView):
    """Trade the one-time ``sso_code`` and the PKCE verifier for our tokens."""

    throttle_scope = "sso_token"

    @extend_schema(**schema.TOKEN)
    def post(self, request: Request) -> Response:
        params = self.validated(TokenRequestSerializer, request.data)
        signed_in = flows.redeem_handoff_code(
            request, params["sso_code"], params.get("code_verifier")
        )
        return _signed_in_response(request, signed_in)


class ExchangeView(SSOView):
    """Trade an Entra access token for this API (from an app using MSAL) for our tokens."""

    throttle_scope = "sso_exchange"

    @extend_schema(**schema.EXCHANGE)
    def post(self, request: Request) -> Response:
        params = self.validated(ExchangeRequestSerializer, request.data)
        signed_in = flows.exchange_entra_token(request, params["access_token"])
        return _signed_in_response(request, signed_in)


class RefreshView(_RefreshTokenView):
    """Rotate a refresh token (from the body, or from the cookie in cookie mode)."""

    throttle_scope = "sso_refresh"

    @extend_schema(**schema.REFRESH)
    def post(self, request: Request) -> Response:
        params = self.validated(RefreshRequestSerializer, request.data)
        token = self.presented_refresh_token(request, params)
        pair = flows.refresh_tokens(request, token)
        return _tokens_response(
            request,
            pair,
            TokenPairSerializer,
            via_cookie=self.from_cookie,
            user=flows.describe_tokens(pair),
        )


class LogoutView(_RefreshTokenView):
    """Revoke a refresh token's family; returns Microsoft's logout URL when SLO is on."""

    throttle_scope = "sso_logout"

    @extend_schema(**schema.LOGOUT)
    def post(self, request: Request) -> Response:
        params = self.validated(LogoutRequestSerializer, request.data)
        token = self.presented_refresh_token(request, params)
        logout_url = flows.sign_out(request, token, params.get("next"))
        response = Response(LogoutResponseSerializer({"logout_url": logout_url}).data)
        if self.from_cookie:
            clear_refresh_cookies(response, sso_settings(request))
        return response


class FrontChannelLogoutView(SSOView):
    """Microsoft's front-channel logout: revoke every session of the given ``sid``.

    Microsoft loads this URL in a hidden iframe on its own sign-out page, so the response
    must be frameable by the authority's host (and only by it) and must not be cached.
    """

    throttle_scope = "sso_frontchannel_logout"

    @extend_schema(**schema.FRONT_CHANNEL_LOGOUT)
    def get(self, request: Request) -> HttpResponse:
        sid = request.query_params.get("sid", "")
        if sid:
            flows.front_channel_logout(request, sid, request.query_params.get("iss", ""))
        response = HttpResponse(
            "<!doctype html><title>Signed out</title>", content_type="text/html"
        )
        framing = " ".join(flows.front_channel_frame_ancestors(request))
        response["Content-Security-Policy"] = f"frame-ancestors 'self' {framing}"
        # Lets the frame-ancestors policy above decide instead of X-Frame-Options: DENY.
        response.xframe_options_exempt = True
        return response


class MeView(SSOView):
    """The signed-in user, for a bearer access token.

    For our own access tokens this is the user as of the token's minting (the sign-in or
    the last refresh), without a query: a change to the user shows after the next refresh,
    and a deactivated user's access token answers here until it expires (refresh refuses
    them at once).
    """

    authentication_classes = (AccessTokenAuthentication,)
    permission_classes = (IsAuthenticated,)
    throttle_classes = ()

    @extend_schema(**schema.ME)
    def get(self, request: Request) -> Response:
        # AccessTokenAuthentication puts the validated access token in request.auth, and
        # its user in request.user: a TokenProfileUser, or the user model's instance.
        claims = getattr(request.auth, "payload", None)
        user = cast("AbstractBaseUser | TokenProfileUser", request.user)
        return Response(UserSerializer(flows.describe_user(user, claims)).data)


class _SignedInView(SSOView):
    """A view for the bearer of one of our access tokens, about their own sessions."""

    authentication_classes = (AccessTokenAuthentication,)
    permission_classes = (IsAuthenticated,)
    throttle_scope = "sso_sessions"


class SessionsView(_SignedInView):
    """The caller's live sessions."""

    @extend_schema(**schema.SESSIONS)
    def get(self, request: Request) -> Response:
        claims = getattr(request.auth, "payload", None)
        sessions = flows.list_sessions(request.user.pk, claims)
        return Response(SessionSerializer(sessions, many=True).data)


class SessionView(_SignedInView):
    """One of the caller's sessions, which they may end."""

    @extend_schema(**schema.SESSION_DELETE)
    def delete(self, request: Request, session_id: str) -> Response:
        flows.end_own_session(request.user.pk, session_id)
        return Response(status=204)


class LogoutAllView(_SignedInView):
    """Sign the caller out of every session."""

    throttle_scope = "sso_logout"

    @extend_schema(**schema.LOGOUT_ALL)
    def post(self, request: Request) -> Response:
        ended = flows.end_all_own_sessions(request.user.pk)
        response = Response(LogoutAllResponseSerializer({"ended": ended}).data)
        conf = sso_settings(request)
        if conf.refresh_cookie:
            # The calling session's cookie is dead now; leaving it would only fail later.
            clear_refresh_cookies(response, conf)
        return response
