import functools
import pickle
from collections.abc import Sequence
from typing import Any

import redis
from django.conf import settings
from django.core.cache import caches
from django.urls import include, path
from django.utils.crypto import get_random_string
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication

from sso_api.authentication import EntraAccessTokenAuthentication
from sso_api.conf import sso_settings

# A record of the size and shape /start/ stores for a flow.
_FLOW_SIZED_RECORD = {
    "msal_flow": {
        "state": get_random_string(43),
        "redirect_uri": "http://127.0.0.1:8000/api/sso/callback/",
        "scope": ["email", "openid", "profile", "offline_access"],
        "code_verifier": get_random_string(43),
        "nonce": get_random_string(22),
    },
    "next": "/",
    "response_mode": "form_post",
    "code_challenge": get_random_string(43),
}


class Bare(APIView):
    """The baseline: a DRF view with no authentication, returning a small JSON body."""

    authentication_classes = ()
    permission_classes = ()

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class OneCacheWrite(Bare):
    """The floor under /start/: the baseline plus the one thing /start/ cannot skip.

    That is one write of a flow-sized record to the flow cache, for the flow's lifetime.
    """

    def get(self, request: Request) -> Response:
        conf = sso_settings(request)
        key = "sso-bench:" + get_random_string(32)
        lifetime = int(conf.flow_lifetime.total_seconds())
        caches[conf.callback_cache_name].set(key, _FLOW_SIZED_RECORD, lifetime)
        return Response({"ok": True})


@functools.cache
def _flow_cache_client(location: str) -> redis.Redis:
    return redis.Redis.from_url(location)


class OneRedisSet(Bare):
    """The same write with nothing of Django's cache layer: one redis-py client, one SET."""

    def get(self, request: Request) -> Response:
        cache = settings.CACHES[sso_settings(request).callback_cache_name]
        record = pickle.dumps(_FLOW_SIZED_RECORD, pickle.HIGHEST_PROTOCOL)
        key = f"{cache['KEY_PREFIX']}:sso-bench:{get_random_string(32)}"
        _flow_cache_client(cache["LOCATION"]).set(key, record, ex=600)
        return Response({"ok": True})


class SimpleJWTView(APIView):
    """A view for a signed-in user, under simplejwt's stateless authentication."""

    authentication_classes: Sequence[type[BaseAuthentication]] = (
        JWTStatelessUserAuthentication,
    )
    permission_classes = (IsAuthenticated,)

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class EntraView(SimpleJWTView):
    """The same view, for an Entra access token issued for this API (an app using MSAL)."""

    authentication_classes = (EntraAccessTokenAuthentication,)


urlpatterns: list[Any] = [
    path("api/sso/", include("sso_api.urls")),
    path("bench/bare/", Bare.as_view()),
    path("bench/one-cache-write/", OneCacheWrite.as_view()),
    path("bench/one-redis-set/", OneRedisSet.as_view()),
    path("bench/simplejwt/", SimpleJWTView.as_view()),
    path("bench/entra/", EntraView.as_view()),
]
