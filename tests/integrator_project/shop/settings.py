"""Settings of a small project that uses sso_api: README.md's, and what a project has anyway.

The MICROSOFT_SSO_* values are placeholders: in tests, the plugin's ``sso_settings`` fixture
points them at the fake Microsoft identity platform.
"""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "integrator-project-tests-only-0123456789abcdef0123456789abcdef"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "sso_api",
    "shop",
]
ROOT_URLCONF = "shop.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Sign-in flows and sso_codes live in the cache; Django's test runner creates the table.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "sso_api_cache",
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    }
}
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}

MICROSOFT_SSO_APPLICATION_ID = "<Application (client) ID>"
MICROSOFT_SSO_CLIENT_SECRET = "<client secret value>"
MICROSOFT_SSO_TENANT_ID = "<Directory (tenant) ID>"
MICROSOFT_SSO_ALLOWABLE_DOMAINS = ["contoso.example"]
MICROSOFT_SSO_ALLOWED_REDIRECT_URLS = ["https://app.example.com"]
