"""Settings for API servers started by the multi-process tests: the example project on
PostgreSQL and, by default, Redis; configured through the environment by the test."""

import os
from typing import Any

from example_project.settings import *  # noqa: F403

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "127.0.0.1",
        "PORT": os.environ.get("SSO_SERVER_PGPORT", "5432"),
        "USER": os.environ.get("SSO_TEST_PGUSER", "postgres"),
        "NAME": os.environ["SSO_SERVER_DATABASE"],
    }
}
_PER_PROCESS_CACHE: dict[str, Any] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
_REDIS_CACHE: dict[str, Any] = {
    "BACKEND": "django.core.cache.backends.redis.RedisCache",
    "LOCATION": os.environ.get("SSO_SERVER_REDIS_URL", "redis://127.0.0.1:6379/0"),
    "KEY_PREFIX": os.environ["SSO_SERVER_CACHE_PREFIX"],
}
CACHES = {
    "default": _PER_PROCESS_CACHE
    if os.environ.get("SSO_SERVER_CACHE") == "locmem"
    else _REDIS_CACHE
}


def _response_mode_from_header(request: Any) -> bool:
    # Lets one set of servers serve both response modes: the test picks per sign-in.
    return request is not None and request.headers.get("X-Test-Response-Mode") == "form_post"


MICROSOFT_SSO_REQUIRE_SECURE_CALLBACK = _response_mode_from_header  # type: ignore[assignment]
MICROSOFT_SSO_ALLOWED_REDIRECT_URLS = ["https://spa.example.com"]
MICROSOFT_SSO_LOGIN_FAILED_URL = "https://spa.example.com/failed"
