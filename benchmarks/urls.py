"""The benchmark's URLs: the API, reference endpoints to compare it with, and counters.

Only ``benchmarks/settings.py`` uses this module, as its ``ROOT_URLCONF``; that settings
module also lists :func:`install_worker_counters` first in ``MIDDLEWARE``, which is what
turns the counters on. Without it (any other settings), ``/bench/counters/`` answers 404.
"""

from __future__ import annotations

import functools
import hmac
import os
import pickle
import re
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, cast

import redis
from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import MiddlewareNotUsed
from django.db import DEFAULT_DB_ALIAS
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import include, path
from django.utils import timezone
from django.utils.crypto import get_random_string
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication
from rest_framework_simplejwt.tokens import RefreshToken

from benchmarks.routes import FLOOR, FLOOR_CALLBACK_PATH
from sso_api.authentication import EntraAccessTokenAuthentication
from sso_api.conf import sso_settings
from sso_api.entra.client import entra_client
from sso_api.flows import s256
from sso_api.models import MicrosoftIdentity, RefreshSession

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

    authentication_classes: Sequence[type[BaseAuthentication]] = (JWTStatelessUserAuthentication,)
    permission_classes = (IsAuthenticated,)

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class EntraView(SimpleJWTView):
    """The same view, for an Entra access token issued for this API (an app using MSAL)."""

    authentication_classes = (EntraAccessTokenAuthentication,)


# --- The floor under a sign-in: its unavoidable work, and nothing else -------------------
#
# The same three requests as a sign-in, on the same server, against the same identity
# platform, doing only what no implementation on this stack can skip: msal's flow (state,
# nonce, PKCE), the flow taken from the cache once, the code redeemed through msal over
# HTTPS, the id_token's RS256 signature and claims checked, the account's identity and
# user read and its last sign-in written, a hand-off code stored and taken, the PKCE
# verifier checked, a session row inserted and a pair of simplejwt tokens signed. No
# request validation, no sign-in rules, no roles, no audit, no error handling: a refusal
# is a 400 or a 500, which the benchmark counts as a failed sign-in.

_FLOOR_FLOW = "sso-bench:floor-flow:"
_FLOOR_HANDOFF = "sso-bench:floor-handoff:"


def _take_once(name: str, key: str) -> Any:
    """The record under ``key`` if this caller's delete removed it (as OneTimeStore)."""
    cache = caches[name]
    record = cache.get(key)
    return record if cache.delete(key) else None


class FloorStart(Bare):
    """``POST``: /start/'s unavoidable work, then the authorization URL as JSON."""

    def post(self, request: Request) -> Response:
        conf = sso_settings(request)
        state = secrets.token_urlsafe(32)
        authorization = entra_client(conf).initiate(
            scopes=conf.scopes,
            redirect_uri=request.build_absolute_uri(FLOOR_CALLBACK_PATH),
            state=state,
            response_mode=conf.response_mode,
        )
        body = cast(dict[str, str], request.data)
        record = {"flow": authorization.flow, "challenge": body["code_challenge"]}
        lifetime = int(conf.flow_lifetime.total_seconds())
        caches[conf.callback_cache_name].set(_FLOOR_FLOW + state, record, lifetime)
        return Response({"authorization_url": authorization.url})


class FloorCallback(APIView):
    """Microsoft's answer (GET or POST): the callback's unavoidable work, then a 302."""

    authentication_classes = ()
    permission_classes = ()

    def get(self, request: Request) -> HttpResponse:
        return self._complete(request.query_params)

    def post(self, request: Request) -> HttpResponse:
        return self._complete(request.POST)

    def _complete(self, params: Any) -> HttpResponse:
        conf = sso_settings(self.request)
        state = params["state"]
        record = _take_once(conf.callback_cache_name, _FLOOR_FLOW + state)
        client = entra_client(conf)
        claims = client.redeem(
            record["flow"], {"code": params["code"], "state": state}, conf.scopes
        ).claims
        identity = MicrosoftIdentity.objects.select_related("user").get(
            tenant_id=claims.tenant_id, object_id=claims.object_id
        )
        MicrosoftIdentity.objects.filter(pk=identity.pk).update(last_login_at=timezone.now())
        code = secrets.token_urlsafe(32)
        caches[conf.callback_cache_name].set(
            _FLOOR_HANDOFF + code,
            {"identity_id": identity.pk, "challenge": record["challenge"]},
            60,
        )
        return HttpResponseRedirect(f"https://spa.example.com/?sso_code={code}")


class FloorToken(Bare):
    """``POST``: /token/'s unavoidable work, then the token pair as JSON."""

    def post(self, request: Request) -> Response:
        conf = sso_settings(request)
        body = cast(dict[str, str], request.data)
        record = _take_once(conf.callback_cache_name, _FLOOR_HANDOFF + body["sso_code"])
        if not hmac.compare_digest(s256(body["code_verifier"]), record["challenge"]):
            return Response(status=400)
        identity = MicrosoftIdentity.objects.select_related("user").get(pk=record["identity_id"])
        if not identity.user.is_active:
            return Response(status=400)
        session = RefreshSession.objects.create(
            user=identity.user,
            identity=identity,
            current_jti=secrets.token_hex(16),
            expires_at=timezone.now() + conf.session_lifetime,
            scopes=conf.api_scope,
        )
        refresh = RefreshToken.for_user(identity.user)
        refresh["jti"] = session.current_jti
        return Response({"access": str(refresh.access_token), "refresh": str(refresh)})


# --- What the worker process does with its database --------------------------------------

# The table a write names first: Django quotes table names on PostgreSQL.
_WRITTEN_TABLE = re.compile(r'\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?([\w.]+)"?', re.I)


class WorkerCounters:
    """Running totals of this process's database work, since the process started.

    Totals only grow; whoever reads them takes the difference of two readings, so readers
    never reset each other's measurements. Every database connection of the process
    (one per gthread thread) adds to the same totals, under a lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.enabled = False
        # Keyed by the statement's first keyword ("SELECT", "INSERT", "SAVEPOINT", ...),
        # with "SELECT FOR UPDATE" apart: it locks rows until the transaction ends.
        self.statements: Counter[str] = Counter()
        # Keyed by "<keyword> <table>", from the driver's row count of each write.
        self.rows_written: Counter[str] = Counter()
        self.health_checks = 0
        self.commits = 0
        self.connections_opened = 0

    def add(self, name: str, amount: int = 1) -> None:
        """Add ``amount`` to the total called ``name`` (health_checks, commits, ...)."""
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)

    def count_statement(self, sql: str, rows: int | None) -> None:
        """Count one statement; ``rows`` is the driver's row count, None when it failed."""
        keyword = sql.split(None, 1)[0].upper() if sql.strip() else "?"
        if keyword == "SELECT" and " FOR UPDATE" in sql.upper():
            keyword = "SELECT FOR UPDATE"
        written = _WRITTEN_TABLE.match(sql)
        with self._lock:
            self.statements[keyword] += 1
            if written and rows is not None and rows > 0:
                self.rows_written[f"{keyword} {written.group(2)}"] += rows

    def reading(self) -> dict[str, Any]:
        """The totals as JSON, with this process's id and its database connection settings."""
        database = cast(dict[str, Any], settings.DATABASES[DEFAULT_DB_ALIAS])
        with self._lock:
            return {
                "pid": os.getpid(),
                "totals": {
                    "statements": dict(self.statements),
                    "rows_written": dict(self.rows_written),
                    "health_checks": self.health_checks,
                    "commits": self.commits,
                    "connections_opened": self.connections_opened,
                },
                "database": {
                    "conn_max_age": database.get("CONN_MAX_AGE", 0),
                    "conn_health_checks": bool(database.get("CONN_HEALTH_CHECKS", False)),
                    "pool": bool(database.get("OPTIONS", {}).get("pool")),
                },
            }


WORKER_COUNTERS = WorkerCounters()


def _count_statement(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    """An execute wrapper (Django's database instrumentation) that counts what it runs."""
    try:
        result = execute(sql, params, many, context)
    except Exception:
        WORKER_COUNTERS.count_statement(str(sql), None)
        raise
    WORKER_COUNTERS.count_statement(str(sql), context["cursor"].rowcount)
    return result


def _counted(method: Callable[..., Any], total: str) -> Callable[..., Any]:
    """``method``, adding one to the total called ``total`` at each call."""

    @functools.wraps(method)
    def counted(*args: Any, **kwargs: Any) -> Any:
        WORKER_COUNTERS.add(total)
        return method(*args, **kwargs)

    return counted


def _instrument_connection(sender: object, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """Count the statements, health checks and commits of ``connection`` from now on.

    Called for every new connection (``connection_created``). The wrapper object of a
    thread's connection outlives reconnections, so it is instrumented once. Health checks
    (``is_usable``: a ``SELECT 1`` on the raw connection) and commits do not pass through
    execute wrappers, hence the two method wrappers.
    """
    WORKER_COUNTERS.add("connections_opened")
    if getattr(connection, "_sso_bench_counted", False):
        return
    connection.execute_wrappers.append(_count_statement)
    connection.is_usable = _counted(connection.is_usable, "health_checks")  # type: ignore[method-assign]
    connection.commit = _counted(connection.commit, "commits")  # type: ignore[method-assign]
    connection._sso_bench_counted = True  # type: ignore[attr-defined]


def install_worker_counters(get_response: Callable[[HttpRequest], HttpResponse]) -> NoReturn:
    """A start-up hook in the shape of a middleware: counts from the first connection on.

    Django builds the middleware chain once per process, when the WSGI application is
    loaded and before any request, so every connection the process opens is counted.
    Raising ``MiddlewareNotUsed`` then drops it from the chain: requests pay nothing for
    it, and the reference endpoints stay what they are in production.
    """
    connection_created.connect(_instrument_connection, dispatch_uid="sso-bench-counters")
    WORKER_COUNTERS.enabled = True
    raise MiddlewareNotUsed()


class WorkerCountersView(Bare):
    """``GET``: :meth:`WorkerCounters.reading` of the process that answers.

    404 unless :func:`install_worker_counters` ran in this process (benchmark settings).
    """

    def get(self, request: Request) -> Response:
        if not WORKER_COUNTERS.enabled:
            raise Http404()
        return Response(WORKER_COUNTERS.reading())


urlpatterns: list[Any] = [
    path("api/sso/", include("sso_api.urls")),
    path("bench/bare/", Bare.as_view()),
    path("bench/one-cache-write/", OneCacheWrite.as_view()),
    path("bench/one-redis-set/", OneRedisSet.as_view()),
    path(FLOOR.start.lstrip("/"), FloorStart.as_view()),
    path(FLOOR_CALLBACK_PATH.lstrip("/"), FloorCallback.as_view()),
    path(FLOOR.redeem.lstrip("/"), FloorToken.as_view()),
    path("bench/simplejwt/", SimpleJWTView.as_view()),
    path("bench/entra/", EntraView.as_view()),
    path("bench/counters/", WorkerCountersView.as_view()),
]
