"""An example project using sso_api, configured from the environment.

Embedded defaults, no server needed: SQLite and the database cache (which every worker
process shares, so the secure form_post callback works with several workers too).
``scripts/demo.sh`` sets the variables below to point at the fake identity platform, or
leaves the real ``MICROSOFT_SSO_*`` ones you exported to reach Microsoft Entra ID.

Swagger UI (``/api/docs/``) authorizes with Entra itself too (the ``entraOAuth2`` scheme)
as an app of its own: ``SSO_SWAGGER_CLIENT_ID`` is its client id, a registration whose
"Single-page application" redirect URI is Swagger UI's ``oauth2-redirect.html`` (see
``SWAGGER_UI_OAUTH2_REDIRECT_PATH``). ``SSO_SWAGGER_AUTHORITY`` is the authority as a
browser reaches it, when that is not ``MICROSOFT_SSO_AUTHORITY`` (the demo's fake serves
browsers over plain HTTP); leave it unset against Microsoft.

DEBUG is off unless ``DJANGO_DEBUG=1``. Secrets come from the environment:
``DJANGO_SECRET_KEY``, and for the tokens either ``DJANGO_JWT_SIGNING_KEY`` (HS256; SECRET_KEY
when unset) or ``DJANGO_JWT_PRIVATE_KEY_FILE`` and ``DJANGO_JWT_PUBLIC_KEY_FILE`` (RS256).
With DEBUG off, a missing ``DJANGO_SECRET_KEY`` or the development key written below makes
these settings raise ``ImproperlyConfigured``: the project refuses to start. The demo
(``example/run_demo.py``) makes random keys of its own.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from corsheaders.defaults import default_headers
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _env_json_object(name: str) -> dict[str, Any]:
    """The JSON object in environment variable ``name``; ``{}`` when it is unset or empty.

    Raises ``ImproperlyConfigured`` when the value is not a JSON object.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ImproperlyConfigured(f"{name} must be a JSON object, not {type(value).__name__}.")
    return value


# --- Debug mode and secrets ---------------------------------------------------------------
# Off unless asked for: with DEBUG on, Django shows tracebacks and settings to whoever
# makes a request fail, and runserver serves static files without a web server.
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"

# Published in this repository, so it protects nothing: whoever reads this file can sign
# sessions, password reset links and (if simplejwt used it) access tokens with it. It is
# accepted only with DEBUG on, so that `DJANGO_DEBUG=1 manage.py runserver` works on a
# developer's machine without any set-up.
DEVELOPMENT_SECRET_KEY = "example-only-not-secret-change-me-0123456789"


def _secret_from_env(name: str) -> str | None:
    """The secret in environment variable ``name``, or None when it is unset or empty.

    Raises ``ImproperlyConfigured`` when it is the published ``DEVELOPMENT_SECRET_KEY``
    and DEBUG is off.
    """
    value = os.environ.get(name) or None
    if value == DEVELOPMENT_SECRET_KEY and not DEBUG:
        raise ImproperlyConfigured(
            f"{name} is the example project's published development key, which anybody can "
            "read in the repository. Set it to a long random value of your own, e.g. the "
            "output of: python -c 'import secrets; print(secrets.token_urlsafe(50))'."
        )
    return value


def _secret_key() -> str:
    """Django's SECRET_KEY: ``DJANGO_SECRET_KEY``, or the development key with DEBUG on.

    Raises ``ImproperlyConfigured`` when DEBUG is off and ``DJANGO_SECRET_KEY`` is unset,
    empty or the published development key.
    """
    value = _secret_from_env("DJANGO_SECRET_KEY")
    if value is not None:
        return value
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it to a long random value, e.g. the output "
            "of: python -c 'import secrets; print(secrets.token_urlsafe(50))'. "
            "(DJANGO_DEBUG=1 allows a published development key, for local use only.)"
        )
    return DEVELOPMENT_SECRET_KEY


def _read_pem(variable: str) -> str:
    """The contents of the PEM file named by environment variable ``variable``.

    Raises ``ImproperlyConfigured`` when the file cannot be read.
    """
    path = Path(os.environ[variable])
    try:
        return path.read_text()
    except OSError as exc:
        raise ImproperlyConfigured(f"{variable}: cannot read {path}: {exc.strerror}") from exc


def _jwt_signing() -> dict[str, str]:
    """simplejwt's ``ALGORITHM``, ``SIGNING_KEY`` and ``VERIFYING_KEY`` for our tokens.

    RS256 when ``DJANGO_JWT_PRIVATE_KEY_FILE`` and ``DJANGO_JWT_PUBLIC_KEY_FILE`` name
    PEM files; otherwise HS256 with ``DJANGO_JWT_SIGNING_KEY``, or SECRET_KEY when that
    is not the published development key, or else a random key for this process.

    Raises ``ImproperlyConfigured`` when only one of the two files is named, when a file
    cannot be read, when both RS256 files and ``DJANGO_JWT_SIGNING_KEY`` are set, or when
    ``DJANGO_JWT_SIGNING_KEY`` is the published development key and DEBUG is off.
    """
    shared_key = _secret_from_env("DJANGO_JWT_SIGNING_KEY")
    key_files = ("DJANGO_JWT_PRIVATE_KEY_FILE", "DJANGO_JWT_PUBLIC_KEY_FILE")
    named = [variable for variable in key_files if os.environ.get(variable)]
    if named:
        if len(named) != len(key_files):
            raise ImproperlyConfigured(
                "RS256 needs both DJANGO_JWT_PRIVATE_KEY_FILE (to sign) and "
                "DJANGO_JWT_PUBLIC_KEY_FILE (to verify); only one is set."
            )
        if shared_key is not None:
            raise ImproperlyConfigured(
                "DJANGO_JWT_SIGNING_KEY (HS256) and the RS256 key files are both set: choose one."
            )
        return {
            "ALGORITHM": "RS256",
            "SIGNING_KEY": _read_pem("DJANGO_JWT_PRIVATE_KEY_FILE"),
            "VERIFYING_KEY": _read_pem("DJANGO_JWT_PUBLIC_KEY_FILE"),
        }
    if shared_key is None and SECRET_KEY != DEVELOPMENT_SECRET_KEY:
        # simplejwt's own default. Safe here: by now SECRET_KEY is a real secret.
        shared_key = SECRET_KEY
    if shared_key is None:
        # Development with the published SECRET_KEY: tokens signed with it could be forged
        # by anyone, so sign with a key nobody knows. Tokens then last as long as the
        # process (runserver's reloader signs everybody out); set DJANGO_JWT_SIGNING_KEY
        # to keep them.
        shared_key = secrets.token_urlsafe(50)
    return {"ALGORITHM": "HS256", "SIGNING_KEY": shared_key}


SECRET_KEY = _secret_key()
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
    # The project's own views (the admin report) answer errors as sso_api's endpoints do:
    # {"detail": ..., "code": ...}.
    "EXCEPTION_HANDLER": "sso_api.views.exception_handler",
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
    # Our tokens get their own key (or key pair), not the SECRET_KEY shared with sessions
    # and password reset links: see docs/security.md, "Signing keys for your tokens".
    **_jwt_signing(),
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
# User.Read lets the API list a user's groups in Microsoft Graph with the sign-in's access
# token, which it does only when the user is in too many groups for the token (overage);
# sso.W014 warns when group ids are mapped without such a permission.
MICROSOFT_SSO_SCOPES = _env_list("MICROSOFT_SSO_SCOPES", "email,User.Read")
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

# --- Authorization from Entra ----------------------------------------------------------
# Every app role a user holds becomes a Django group of that name, kept in sync at each
# sign-in; "0" turns it off. Each tenant's administrators assign the app's roles there,
# so with a multi-tenant authority list the tenants you trust in ALLOWED_TENANTS (check
# sso.W016 warns otherwise).
MICROSOFT_SSO_MIRROR_ROLES = os.environ.get("MICROSOFT_SSO_MIRROR_ROLES", "1") == "1"
# JSON: {"app role value or group object id": "Django group" or ["several", "groups"]}.
MICROSOFT_SSO_GROUP_MAP = _env_json_object("MICROSOFT_SSO_GROUP_MAP")
# Microsoft Graph, asked on group overage only. Unset: the library's default, the global
# https://graph.microsoft.com; a national cloud or the demo's fake platform sets its own.
if os.environ.get("MICROSOFT_SSO_GRAPH_URL"):
    MICROSOFT_SSO_GRAPH_URL = os.environ["MICROSOFT_SSO_GRAPH_URL"]

# --- Swagger UI's "Authorize" with Entra (the entraOAuth2 scheme) ------------------------
# Swagger UI signs in as an app of its own, a public client: the authorization code flow
# with PKCE, its code redeemed from the browser, which Microsoft allows only at a redirect
# URI of the "Single-page application" platform. Register <API origin> + this path there:
# drf-spectacular-sidecar's oauth2-redirect.html, which hands the code to Swagger UI.
SWAGGER_UI_OAUTH2_REDIRECT_PATH = (
    f"/{STATIC_URL}drf_spectacular_sidecar/swagger-ui-dist/oauth2-redirect.html"
)
# That registration's client id. Unset: the Authorize dialog asks for one.
SWAGGER_CLIENT_ID = os.environ.get("SSO_SWAGGER_CLIENT_ID", "")
# The authority as a browser reaches it. Unset: the scheme names the endpoints of
# MICROSOFT_SSO_AUTHORITY (or Microsoft's), which browsers reach as well as the API does.
SWAGGER_AUTHORITY = os.environ.get("SSO_SWAGGER_AUTHORITY", "").rstrip("/")


def _swagger_ui_settings() -> str:
    """Swagger UI's configuration, as JavaScript (drf-spectacular passes a string on as
    it is): the redirect URL Swagger UI sends must be absolute, and on the page's own
    origin, since oauth2-redirect.html hands the code to the window that opened it."""
    redirect_path = json.dumps(SWAGGER_UI_OAUTH2_REDIRECT_PATH)
    return f"{{deepLinking: true, oauth2RedirectUrl: location.origin + {redirect_path}}}"


def _swagger_ui_oauth2_config() -> dict[str, Any]:
    """Swagger UI's ``initOAuth``: PKCE and no secret, the client id when one is set, and
    the scopes ticked in advance.

    The scopes: the API's, as entraOAuth2 names it (``api://<application id>/`` and
    ``MICROSOFT_SSO_API_SCOPE``'s default), and ``openid``, without which the fake
    identity platform signs nobody in; Microsoft does not need it, and then also returns
    an id_token, which Swagger UI ignores.
    """
    config: dict[str, Any] = {
        "usePkceWithAuthorizationCodeGrant": True,
        "scopes": ["openid", f"api://{MICROSOFT_SSO_APPLICATION_ID}/access_as_user"],
    }
    if SWAGGER_CLIENT_ID:
        config["clientId"] = SWAGGER_CLIENT_ID
    return config


SPECTACULAR_SETTINGS["SWAGGER_UI_SETTINGS"] = _swagger_ui_settings()
SPECTACULAR_SETTINGS["SWAGGER_UI_OAUTH2_CONFIG"] = _swagger_ui_oauth2_config()
if SWAGGER_AUTHORITY:
    # drf-spectacular's settings for an OAuth2 flow's URLs, which sso_api's entraOAuth2
    # follows instead of the API's authority.
    SPECTACULAR_SETTINGS["OAUTH2_AUTHORIZATION_URL"] = f"{SWAGGER_AUTHORITY}/oauth2/v2.0/authorize"
    SPECTACULAR_SETTINGS["OAUTH2_TOKEN_URL"] = f"{SWAGGER_AUTHORITY}/oauth2/v2.0/token"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"sso_api": {"handlers": ["console"], "level": "INFO"}},
}
