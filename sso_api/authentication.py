"""Bearer authentication for our access tokens, usable on any DRF view of the project.

:class:`AccessTokenAuthentication` is simplejwt's ``JWTAuthentication`` with one saving: an
access token of ours carries the user's profile (``sso_user``), signed when it was minted,
so the request's user is built from the token with no database query. Any other access
token is looked up as simplejwt always does, and so is every token when simplejwt's
``CHECK_REVOKE_TOKEN`` is on: that check needs the stored password hash.
"""

from __future__ import annotations

from typing import Any

from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import Token

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
