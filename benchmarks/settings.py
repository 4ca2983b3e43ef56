"""The example project on PostgreSQL and Redis, plus reference endpoints and counters.

``benchmarks/run.py`` sets the environment variables read here. Database connections are
configured as production should configure them (docs/production.md, "What a sign-in
costs"), so that what the benchmark measures is what a deployment pays.
"""

import os

from example_project.settings import *  # noqa: F403

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
ROOT_URLCONF = "benchmarks.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "127.0.0.1",
        "USER": "postgres",
        "NAME": os.environ["SSO_BENCH_DATABASE"],
        # Persistent connections: each worker thread keeps its connection across requests
        # (for up to ten minutes) instead of connecting, which starts a PostgreSQL server
        # process and authenticates, at every request that uses the database.
        "CONN_MAX_AGE": 600,  # type: ignore[dict-item]
        # A kept connection may have been closed by the server or a proxy meanwhile: before
        # a request's first query Django checks it with a SELECT 1 and reconnects if it is
        # dead, rather than failing that request. The check is counted in the report.
        "CONN_HEALTH_CHECKS": True,  # type: ignore[dict-item]
    }
}
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["SSO_BENCH_REDIS_URL"],
        "KEY_PREFIX": os.environ["SSO_BENCH_CACHE_PREFIX"],
    }
}
# First, so that it runs when the worker loads the application; it removes itself from
# the chain (benchmarks/urls.py), so requests do not pass through it.
MIDDLEWARE = ["benchmarks.urls.install_worker_counters", *MIDDLEWARE]  # noqa: F405
MICROSOFT_SSO_ALLOWED_REDIRECT_URLS = ["https://spa.example.com"]
LOGGING = {"version": 1, "disable_existing_loggers": True}
