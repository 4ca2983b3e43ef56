"""Bearer authentication for DRF views of the project: our access tokens, and Entra's.

:class:`AccessTokenAuthentication` is simplejwt's ``JWTAuthentication`` with one saving: an
access token of ours carries the user's profile (``sso_user``), signed when it was minted,
so the request's user is built from the token with no database query. Any other access
token is looked up as simplejwt always does, and so is every token when simplejwt's
``CHECK_REVOKE_TOKEN`` is on: that check needs the stored password hash.

:class:`EntraAccessTokenAuthentication` accepts the access tokens Microsoft issues for this
API to apps that sign in with MSAL (see ``sso_api.entra.access_token``). It leaves every
other bearer token to the classes after it, so list it first::

    "DEFAULT_AUTHENTICATION_CLASSES": [
        "sso_api.authentication.EntraAccessTokenAuthentication",
        "sso_api.authentication.AccessTokenAuthentication",
    ]

Neither accepts the other's tokens: ours are not signed with Microsoft's keys, and
Microsoft's are not signed with our key.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions as drf_exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import Token

from sso_api import flows
from sso_api.entra.access_token import EntraAccessToken
from sso_api.exceptions import NotAnEntraToken, SSOError
from sso_api.tokens import profile_user


class AccessTokenAuthentication(JWTAuthentication):
    """simplejwt's bearer authentication, with no query for an access token of ours.

    ``request.user`` is then a :class:`sso_api.tokens.TokenProfileUser`; for other tokens
    it is the user model instance, as with ``JWTAuthentication``.
    """

    def get_user(self, validated_token: Token) -> Any:
        if not jwt_settings.CHECK_REVOKE_TOKEN:
            user = profile_user(validated_token)
            if user is not None:
                return user
        return super().get_user(validated_token)


class EntraRefused(drf_exceptions.APIException):
    """An Entra token refused, in our error shape and with the refusal's own status."""

    def __init__(self, error: SSOError) -> None:
        super().__init__({"detail": error.detail, "code": error.code})
        self.status_code = error.status_code


class EntraAccessTokenAuthentication(BaseAuthentication):
    """Accepts ``Authorization: Bearer <Entra access token for this API>``.

    ``request.user`` is the Django user bound to the token's ``(tid, oid)``, created on
    first sight when ``MICROSOFT_SSO_AUTO_CREATE_USERS`` is on; ``request.auth`` is the
    :class:`~sso_api.entra.access_token.EntraAccessToken` (its ``payload`` the claims).
    A bearer token that is not shaped like Microsoft's (not a JWT, or no ``tid`` and
    ``ver`` claims) is left to the next authentication class, which is how our own JWTs
    get through; one that is shaped like Microsoft's and fails validation is refused with
    our error body and a stable code. In steady state a request costs no outbound call,
    no signature check for a token already seen by this worker, and at most one query
    (none while the user is cached, see ``MICROSOFT_SSO_API_USER_CACHE_SECONDS``).
    """

    def authenticate(self, request: Request) -> tuple[Any, EntraAccessToken] | None:
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != b"bearer":
            return None
        try:
            raw_token = parts[1].decode("ascii")
        except UnicodeDecodeError:
            return None
        try:
            return flows.entra_bearer_user(request._request, raw_token)
        except NotAnEntraToken:
            return None
        except SSOError as exc:
            raise EntraRefused(exc) from exc

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
