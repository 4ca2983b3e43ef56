"""The HTTP layer: validate the request, call a flow, shape the response.

Every error leaves as ``{"detail": ..., "code": ...}`` with a 4xx (or 503) status, whatever
the project's own DRF settings are: these views carry their own parsers, renderer, content
negotiation and exception handler.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, HttpResponseRedirect
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions as drf_exceptions
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
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.models import TokenUser
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import Token

from sso_api import flows, schema
from sso_api.conf import sso_settings
from sso_api.cookies import (
    clear_refresh_cookies,
    refresh_from_cookie,
    set_refresh_cookies,
    uses_refresh_cookie,
)
from sso_api.exceptions import (
    DatabaseUnavailable,
    InvalidRefreshToken,
    InvalidRequest,
    SSOError,
)
from sso_api.serializers import (
    RefreshRequestSerializer,
    StartRequestSerializer,
    TokenRequestSerializer,
)
from sso_api.throttling import SSORateThrottle
from sso_api.tokens import (
    OBJECT_CLAIM,
    TENANT_CLAIM,
    USER_CLAIM,
    TokenPair,
    profile_from_claim,
    user_profile,
)

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
    body: dict[str, Any] = {"detail": detail, "code": code}
    if fields:
        body["fields"] = fields
    return body


def _drf_error_body(exc: drf_exceptions.APIException) -> dict[str, Any]:
    """Our error shape for DRF's own exceptions (parse errors, 405, 401 from simplejwt)."""
    if isinstance(exc, drf_exceptions.ParseError):
        # DRF's text quotes the JSON decoder's message about the client's bytes.
        return error_body("parse_error", "The request body could not be parsed.")
    detail = exc.detail
    if isinstance(detail, dict) and "detail" in detail:
        return error_body(str(detail.get("code", exc.default_code)), str(detail["detail"]))
    if isinstance(detail, (list, dict)):
        return error_body(str(exc.default_code), str(exc.default_detail))
    return error_body(str(getattr(detail, "code", None) or exc.default_code), str(detail))


_Response = TypeVar("_Response", bound=HttpResponse)


def _no_store(response: _Response) -> _Response:
    # Tokens and codes must never sit in a shared or browser cache (RFC 6749, 5.1).
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


class SSOView(APIView):
    """Base view: public, JSON in and out, errors in our shape, responses never cached."""

    authentication_classes: Sequence[type[BaseAuthentication]] = ()
    permission_classes: Sequence[type[BasePermission]] = (AllowAny,)
    parser_classes: Sequence[type[BaseParser]] = (JSONParser, FormParser)
    renderer_classes: Sequence[type[BaseRenderer]] = (JSONRenderer,)
    content_negotiation_class = _JSONOnlyNegotiation
    throttle_classes: Sequence[type[BaseThrottle]] = ()

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, (OperationalError, InterfaceError)):
            # The database is down or unreachable: a stable code, not a traceback.
            exc = DatabaseUnavailable(f"database error {type(exc).__name__}")
        if isinstance(exc, SSOError) and exc.status_code >= 500:
            # Operators need to see outages: the code, our reason and the cause's class.
            causes = [type(exc.__cause__).__name__] if exc.__cause__ else []
            logger.warning(
                "%s failed: code=%s reason=%s causes=%s",
                self.request.path,
                exc.code,
                exc.reason,
                causes,
            )
        if isinstance(exc, InvalidRequest):
            body = error_body(exc.code, exc.detail, exc.fields)
            return Response(body, status=exc.status_code)
        if isinstance(exc, SSOError):
            return Response(error_body(exc.code, exc.detail), status=exc.status_code)
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
        """Run a request serializer; raises :class:`InvalidRequest` with per-field messages."""
        serializer = serializer_class(data=data)
        if not serializer.is_valid():
            fields = {
                name: [str(message) for message in messages]
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


def user_payload(
    user: AbstractBaseUser, tenant_id: str | None, object_id: str | None
) -> dict[str, Any]:
    return {**user_profile(user), "tenant_id": tenant_id, "object_id": object_id}


def token_pair_payload(pair: TokenPair) -> dict[str, Any]:
    return {
        "access": pair.access,
        "refresh": pair.refresh,
        "token_type": "Bearer",
        "expires_in": pair.access_expires_in,
    }


class StartView(SSOView):
    """Begin a sign-in: answers Microsoft's authorization URL (or redirects to it)."""

    throttle_classes = (SSORateThrottle,)
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
        return Response(
            {
                "authorization_url": started.authorization_url,
                "state": started.state,
                "expires_in": started.expires_in,
            }
        )


class CallbackView(SSOView):
    """The redirect URI registered at Microsoft (query GET or form_post POST).

    CSRF-exempt by construction (no session authentication): the POST comes cross-site
    from Microsoft and is authenticated by its single-use ``state`` instead.
    """

    # Microsoft's form_post is urlencoded; nothing else (no multipart uploads) is parsed.
    parser_classes = (FormParser,)

    @extend_schema(**schema.CALLBACK_GET)
    def get(self, request: Request) -> HttpResponse:
        return ValidatedRedirect(flows.complete_sign_in(request, request.query_params.dict()))

    @extend_schema(**schema.CALLBACK_POST)
    def post(self, request: Request) -> HttpResponse:
        try:
            form = request.data.dict() if hasattr(request.data, "dict") else {}
        except drf_exceptions.APIException:
            # An unparsable body has no usable state: the flow reports invalid_state.
            form = {}
        return ValidatedRedirect(flows.complete_sign_in(request, form))


def _tokens_response(
    request: Request,
    pair: TokenPair,
    *,
    via_cookie: bool,
    extra: dict[str, Any] | None = None,
) -> Response:
    """The token pair as JSON, with the refresh token in cookies instead when asked."""
    body = token_pair_payload(pair)
    if via_cookie:
        del body["refresh"]
    response = Response({**body, **(extra or {})})
    if via_cookie:
        conf = sso_settings(request)
        set_refresh_cookies(response, conf, pair.refresh, pair.session.expires_at)
    return response


def _presented_refresh_token(request: Request, params: dict[str, Any]) -> tuple[str, bool]:
    """The refresh token and whether it came from the (CSRF-checked) cookie.

    A token in the body wins: that client manages its tokens itself.
    """
    conf = sso_settings(request)
    if params.get("refresh"):
        return str(params["refresh"]), False
    if not conf.refresh_cookie:
        raise InvalidRequest("no refresh token", fields={"refresh": ["This field is required."]})
    token = refresh_from_cookie(request, conf)
    if not token:
        # A browser without the cookie is simply not signed in (e.g. a first visit).
        raise InvalidRefreshToken("no refresh cookie")
    return token, True


class TokenView(SSOView):
    """Trade the one-time ``sso_code`` and the PKCE verifier for our tokens."""

    parser_classes = (JSONParser,)
    throttle_classes = (SSORateThrottle,)
    throttle_scope = "sso_token"

    @extend_schema(**schema.TOKEN)
    def post(self, request: Request) -> Response:
        params = self.validated(TokenRequestSerializer, request.data)
        signed_in = flows.redeem_handoff_code(
            request, params["sso_code"], params.get("code_verifier")
        )
        identity = signed_in.identity
        user = user_payload(signed_in.user, identity.tenant_id, identity.object_id)
        via_cookie = uses_refresh_cookie(request, sso_settings(request))
        return _tokens_response(
            request, signed_in.tokens, via_cookie=via_cookie, extra={"user": user}
        )


class RefreshView(SSOView):
    """Rotate a refresh token (from the body, or from the cookie in cookie mode)."""

    parser_classes = (JSONParser,)
    throttle_classes = (SSORateThrottle,)
    throttle_scope = "sso_refresh"

    @extend_schema(**schema.REFRESH)
    def post(self, request: Request) -> Response:
        params = self.validated(RefreshRequestSerializer, request.data)
        token, from_cookie = _presented_refresh_token(request, params)
        try:
            pair = flows.refresh_tokens(request, token)
        except SSOError as exc:
            response = self.handle_exception(exc)
            if exc.status_code == 401 and from_cookie:
                # A dead cookie would only fail again: drop it.
                clear_refresh_cookies(response, sso_settings(request))
            return response
        return _tokens_response(request, pair, via_cookie=from_cookie)


class LogoutView(SSOView):
    """Revoke a refresh token's family; returns Microsoft's logout URL when SLO is on."""

    parser_classes = (JSONParser,)

    @extend_schema(**schema.LOGOUT)
    def post(self, request: Request) -> Response:
        params = self.validated(RefreshRequestSerializer, request.data)
        token, from_cookie = _presented_refresh_token(request, params)
        response = Response({"logout_url": flows.sign_out(request, token)})
        if from_cookie:
            clear_refresh_cookies(response, sso_settings(request))
        return response


class FrontChannelLogoutView(SSOView):
    """Microsoft's front-channel logout: revoke every session of the given ``sid``.

    Microsoft loads this URL in a hidden iframe on its own sign-out page, so the response
    must be frameable by the authority's host (and only by it) and must not be cached.
    """

    @extend_schema(**schema.FRONT_CHANNEL_LOGOUT)
    def get(self, request: Request) -> HttpResponse:
        sid = request.query_params.get("sid", "")
        if sid:
            flows.front_channel_logout(request, sid)
        response = HttpResponse(
            "<!doctype html><title>Signed out</title>", content_type="text/html"
        )
        authority = urlsplit(sso_settings(request).authority)
        response["Content-Security-Policy"] = (
            f"frame-ancestors 'self' {authority.scheme}://{authority.netloc}"
        )
        # Lets the frame-ancestors policy above decide instead of X-Frame-Options: DENY.
        response.xframe_options_exempt = True
        return response


class _TokenProfileUser(TokenUser):
    """The user of an access token of ours: its signed profile, read without a query."""

    def __init__(self, token: Token, profile: dict[str, str]) -> None:
        super().__init__(token)
        self.profile = profile


class _AccessTokenAuthentication(JWTAuthentication):
    """simplejwt's bearer authentication, with no query for an access token of ours.

    Our access tokens carry the profile /me/ shows (``sso_user``), signed when they were
    minted, so the user is the token itself. Any other access token is looked up as
    simplejwt always does, and so is every token when ``CHECK_REVOKE_TOKEN`` is on: that
    check needs the stored password hash.
    """

    def get_user(self, validated_token: Token) -> Any:
        profile = profile_from_claim(validated_token.get(USER_CLAIM))
        if profile is not None and not jwt_settings.CHECK_REVOKE_TOKEN:
            return _TokenProfileUser(validated_token, profile)
        return super().get_user(validated_token)


class MeView(SSOView):
    """The signed-in user, for a bearer access token.

    For our own access tokens this is the user as of the token's minting (the sign-in or
    the last refresh), without a query: a change to the user shows after the next refresh,
    and a deactivated user's access token answers here until it expires (refresh refuses
    them at once).
    """

    authentication_classes = (_AccessTokenAuthentication,)
    permission_classes = (IsAuthenticated,)

    @extend_schema(**schema.ME)
    def get(self, request: Request) -> Response:
        # JWTAuthentication puts the validated access token in request.auth.
        claims: dict[str, Any] = getattr(request.auth, "payload", None) or {}
        user = request.user
        tenant_id, object_id = claims.get(TENANT_CLAIM), claims.get(OBJECT_CLAIM)
        if isinstance(user, _TokenProfileUser):
            return Response({**user.profile, "tenant_id": tenant_id, "object_id": object_id})
        assert isinstance(user, AbstractBaseUser)
        if not (tenant_id and object_id):
            # An access token from elsewhere in the project (plain simplejwt): look it up.
            identity = flows.user_identity(user)
            tenant_id = identity.tenant_id if identity else None
            object_id = identity.object_id if identity else None
        return Response(user_payload(user, tenant_id, object_id))
