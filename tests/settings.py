"""Django settings for the test suite.

Two legs share this file:

* default: SQLite (a file, so threads get real concurrent connections) and the database
  cache, the embedded set-up the demo uses;
* ``SSO_TEST_BACKEND=production``: PostgreSQL and Redis on 127.0.0.1, as deployed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

SECRET_KEY = "tests-only-not-secret-0123456789abcdef0123456789abcdef"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1", "api.example.com", "sso.example.com"]
USE_TZ = True

INSTALLED_APPS = [
    # The admin, with what it needs, for the admin pages sso_api registers.
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Installed without SITE_ID: the callback netloc comes from the request host unless a
    # test picks a site (see tests/test_callback_uri.py).
    "django.contrib.sites",
    "rest_framework",
    "sso_api",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PRODUCTION_LEG = os.environ.get("SSO_TEST_BACKEND") == "production"
# Parallel runs (xdist workers, or two checkouts on one machine) must not share keys.
_RUN_ID = os.environ.get("PYTEST_XDIST_WORKER", "main") + f"-{os.getpid()}"

CACHES: dict[str, dict[str, Any]]
if PRODUCTION_LEG:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": "127.0.0.1",
            "PORT": "5432",
            "USER": os.environ.get("SSO_TEST_PGUSER", "postgres"),
            "NAME": "sso_api",
            "TEST": {"NAME": f"test_sso_api_{_RUN_ID}".replace("-", "_")},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ.get("SSO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
            "KEY_PREFIX": f"sso-tests-{_RUN_ID}",
        }
    }
else:
    _db_dir = Path(tempfile.gettempdir())
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(_db_dir / f"sso_api_tests_{_RUN_ID}.sqlite3"),
            "TEST": {"NAME": str(_db_dir / f"sso_api_tests_{_RUN_ID}_test.sqlite3")},
            # IMMEDIATE transactions take the write lock up front, so concurrent writers
            # wait (up to the timeout) instead of failing with "database is locked".
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 30},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "sso_api_cache",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
}

# The suite configures the identity platform per test (see tests/conftest.py); these
# make the configuration checks pass for the rest of the project.
MICROSOFT_SSO_APPLICATION_ID = "00000000-0000-0000-0000-000000000000"
MICROSOFT_SSO_CLIENT_SECRET = "tests-only"
MICROSOFT_SSO_TENANT_ID = "organizations"
MICROSOFT_SSO_ALLOWABLE_DOMAINS = ["*"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"sso_api": {"handlers": ["console"], "level": "INFO"}},
}
