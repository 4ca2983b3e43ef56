"""An example project using sso_api, configured from the environment.

Embedded defaults, no server needed: SQLite and the database cache (which every worker
process shares, so the secure form_post callback works with several workers too).
``scripts/demo.sh`` sets the variables below to point at the fake identity platform, or
leaves the real ``MICROSOFT_SSO_*`` ones you exported to reach Microsoft Entra ID.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from corsheaders.defaults import default_headers

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret-change-me-0123456789")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = _env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc served locally, no CDN
    "sso_api",
]
MIDDLEWARE = [
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "example_project.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "example_project" / "templates"],
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
WSGI_APPLICATION = "example_project.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
STATIC_URL = "static/"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("EXAMPLE_DATABASE", str(BASE_DIR / "db.sqlite3")),
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
    }
}
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "sso_api_cache",
        # Every /start/ stores a flow; the default of 300 entries would let a burst of
        # them evict other people's pending sign-ins (check sso.W005).
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "sso_api",
    "DESCRIPTION": (
        "Sign in with Microsoft (Entra ID) for single-page and mobile apps: start a sign-in, "
        "take Microsoft's answer, redeem the one-time sso_code for JWTs, refresh, sign out."
    ),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Separate request and response components, so request constraints (non-blank
    # fields) are stated exactly.
    "COMPONENT_SPLIT_REQUEST": True,
    # One enum for every error code; without a name it would be called CodeEnum.
    "ENUM_NAME_OVERRIDES": {"ErrorCodeEnum": "sso_api.schema.ERROR_CODE_CHOICES"},
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(
        seconds=int(os.environ.get("SSO_ACCESS_TOKEN_SECONDS", "300"))
    ),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
}

# --- The single-page app on its own origin ------------------------------------------------
# Exactly the SPA origins may call the API from a browser, with credentials (the refresh
# cookie). The same origins may receive the browser after sign-in.
SPA_ORIGINS = _env_list("SSO_SPA_ORIGINS")
CORS_ALLOWED_ORIGINS = SPA_ORIGINS
CORS_ALLOW_CREDENTIALS = True
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = (*default_headers, "x-sso-csrf")

# --- Sign in with Microsoft ------------------------------------------------------------
MICROSOFT_SSO_APPLICATION_ID = os.environ.get("MICROSOFT_SSO_APPLICATION_ID", "")
MICROSOFT_SSO_CLIENT_SECRET = os.environ.get("MICROSOFT_SSO_CLIENT_SECRET", "")
MICROSOFT_SSO_TENANT_ID = os.environ.get("MICROSOFT_SSO_TENANT_ID", "")
MICROSOFT_SSO_AUTHORITY = os.environ.get("MICROSOFT_SSO_AUTHORITY") or None
MICROSOFT_SSO_CA_BUNDLE = os.environ.get("MICROSOFT_SSO_CA_BUNDLE") or None
MICROSOFT_SSO_REQUIRE_SECURE_CALLBACK = (
    os.environ.get("MICROSOFT_SSO_RESPONSE_MODE", "form_post") == "form_post"
)
MICROSOFT_SSO_ALLOWED_TENANTS = _env_list("MICROSOFT_SSO_ALLOWED_TENANTS")
MICROSOFT_SSO_ALLOWABLE_DOMAINS = _env_list("MICROSOFT_SSO_ALLOWABLE_DOMAINS", "*")
MICROSOFT_SSO_ALLOWED_REDIRECT_URLS = [
    *SPA_ORIGINS,
    *_env_list("MICROSOFT_SSO_ALLOWED_REDIRECT_URLS"),
]
MICROSOFT_SSO_REFRESH_COOKIE = os.environ.get("MICROSOFT_SSO_REFRESH_COOKIE", "1") == "1"
MICROSOFT_SSO_REFRESH_COOKIE_SECURE = (
    os.environ.get("MICROSOFT_SSO_REFRESH_COOKIE_SECURE", "1") == "1"
)
MICROSOFT_SSO_SLO_ENABLED = True
MICROSOFT_SSO_LOGOUT_REDIRECT_PATH = os.environ.get("MICROSOFT_SSO_LOGOUT_REDIRECT_PATH", "/")
# Where a browser goes with sso_error when no valid flow names a destination (expired or
# replayed sign-ins): the SPA, which explains the error.
MICROSOFT_SSO_LOGIN_FAILED_URL = SPA_ORIGINS[0] + "/" if SPA_ORIGINS else "/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"sso_api": {"handlers": ["console"], "level": "INFO"}},
}
