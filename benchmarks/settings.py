"""The example project on PostgreSQL and Redis, plus a bare DRF endpoint for comparison."""

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
        "CONN_MAX_AGE": 60,  # type: ignore[dict-item]
    }
}
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["SSO_BENCH_REDIS_URL"],
        "KEY_PREFIX": os.environ["SSO_BENCH_CACHE_PREFIX"],
    }
}
MICROSOFT_SSO_ALLOWED_REDIRECT_URLS = ["https://spa.example.com"]
LOGGING = {"version": 1, "disable_existing_loggers": True}
