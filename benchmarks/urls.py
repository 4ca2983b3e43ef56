"""The benchmark's URLs: the API, reference endpoints to compare it with, and counters.

Only ``benchmarks/settings.py`` uses this module, as its ``ROOT_URLCONF``; that settings
module also lists :func:`install_worker_counters` first in ``MIDDLEWARE``, which is what
turns the counters on. Without it (any other settings), ``/bench/counters/`` answers 404.
"""

from __future__ import annotations

import functools
import os
import pickle
import re
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
from django.http import Http404, HttpRequest, HttpResponse
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

    authentication_classes: Sequence[type[BaseAuthentication]] = (JWTStatelessUserAuthentication,)
    permission_classes = (IsAuthenticated,)

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class EntraView(SimpleJWTView):
    """The same view, for an Entra access token issued for this API (an app using MSAL)."""

    authentication_classes = (EntraAccessTokenAuthentication,)


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
    path("bench/simplejwt/", SimpleJWTView.as_view()),
    path("bench/entra/", EntraView.as_view()),
    path("bench/counters/", WorkerCountersView.as_view()),
]
