"""The one reader of ``MICROSOFT_SSO_*`` settings.

Settings are flat, prefixed names in the project's ``settings.py`` and are read on every
access, never cached at import time, so ``override_settings`` in tests and settings changed
at run time just work.

Like django-microsoft-sso, any setting except the three hooks may also be a callable that
takes the current request (or ``None`` outside a request) and returns the value; that is
how one deployment serves several hosts or tenants. Hooks are callables (or dotted paths
to callables) with their own signatures, documented on :class:`SSOSettings`.

``SPECS`` lists every setting with its default, its accepted types and a one-line
description. System checks use it to report misspelled names and wrong types, and the
settings reference in the documentation is generated from it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.http import HttpRequest
from django.utils.module_loading import import_string

PREFIX = "MICROSOFT_SSO_"
MICROSOFT_LOGIN_HOST = "login.microsoftonline.com"


@dataclass(frozen=True)
class SettingSpec:
    """What one ``MICROSOFT_SSO_*`` setting accepts."""

    name: str
    default: Any
    types: tuple[type, ...]
    doc: str
    is_hook: bool = False

    @property
    def setting_name(self) -> str:
        return PREFIX + self.name


_STR_LIST = (list, tuple)

SPECS: tuple[SettingSpec, ...] = (
    SettingSpec("ENABLED", True, (bool,), "Turn every endpoint on or off (off: 403 sso_disabled)."),
    SettingSpec(
        "APPLICATION_ID", "", (str,), "Application (client) ID of the Entra app registration."
    ),
    SettingSpec("CLIENT_SECRET", "", (str,), "Client secret of the Entra app registration."),
    SettingSpec(
        "TENANT_ID",
        "",
        (str,),
        "Directory (tenant) ID or domain; 'organizations' or 'common' for multi-tenant apps.",
    ),
    SettingSpec(
        "AUTHORITY",
        None,
        (str, type(None)),
        "Full authority URL; overrides login.microsoftonline.com/<tenant> (sovereign clouds, "
        "test providers).",
    ),
    SettingSpec(
        "CA_BUNDLE",
        None,
        (str, type(None)),
        "PEM file of CAs to trust for the authority; wins over REQUESTS_CA_BUNDLE.",
    ),
    SettingSpec(
        "SCOPES",
        ["email"],
        _STR_LIST,
        "Scopes to request besides openid, profile and offline_access, which are always sent.",
    ),
    SettingSpec(
        "TIMEOUT", 10, (int, float), "Lifetime of a sign-in flow, in minutes (fractions allowed)."
    ),
    SettingSpec(
        "HTTP_TIMEOUT",
        10.0,
        (int, float),
        "Timeout in seconds of every outbound HTTP call to the identity platform.",
    ),
    SettingSpec(
        "CALLBACK_DOMAIN",
        None,
        (str, type(None)),
        "Host (and port) of the callback URI; else the current Site, else the request's host.",
    ),
    SettingSpec(
        "REQUIRE_SECURE_CALLBACK",
        False,
        (bool,),
        "Ask Microsoft to POST its answer (response_mode=form_post) instead of a GET query.",
    ),
    SettingSpec(
        "CALLBACK_CACHE_NAME", "default", (str,), "Alias in CACHES that holds sign-in flows."
    ),
    SettingSpec("NEXT_URL", "/", (str,), "Where the browser lands when /start/ gets no 'next'."),
    SettingSpec(
        "LOGIN_FAILED_URL",
        "/",
        (str,),
        "Where the browser lands with sso_error when no valid flow is known.",
    ),
    SettingSpec(
        "ALLOWED_REDIRECT_URLS",
        [],
        _STR_LIST,
        "Origins or URL prefixes (custom app schemes too) that 'next' may point to.",
    ),
    SettingSpec(
        "ALLOWED_TENANTS", [], _STR_LIST, "Tenant IDs allowed to sign in; empty: no restriction."
    ),
    SettingSpec(
        "ALLOWABLE_DOMAINS",
        [],
        _STR_LIST,
        "Email domains allowed to sign in: [] nobody, ['*'] anyone, '*.example.com' subdomains.",
    ),
    SettingSpec("AUTO_CREATE_USERS", True, (bool,), "Create a Django user on first sign-in."),
    SettingSpec(
        "UNIQUE_EMAIL",
        False,
        (bool,),
        "Link a first sign-in to the existing user with the same (verified) email.",
    ),
    SettingSpec(
        "ALWAYS_UPDATE_USER_DATA",
        False,
        (bool,),
        "Refresh name and email from Microsoft on every sign-in, not only at creation.",
    ),
    SettingSpec("STAFF_LIST", [], _STR_LIST, "Verified emails that get is_staff ('*': everyone)."),
    SettingSpec(
        "SUPERUSER_LIST", [], _STR_LIST, "Verified emails that get is_superuser and is_staff."
    ),
    SettingSpec(
        "AUTO_CREATE_FIRST_SUPERUSER",
        False,
        (bool,),
        "Make the first user created a superuser when the project has none.",
    ),
    SettingSpec(
        "PRE_VALIDATE_CALLBACK",
        None,
        (str, type(None)),
        "Hook (claims, request) -> bool; False refuses the sign-in (login_refused).",
        is_hook=True,
    ),
    SettingSpec(
        "PRE_CREATE_CALLBACK",
        None,
        (str, type(None)),
        "Hook (claims, request, user_fields) -> dict of extra fields for the new user.",
        is_hook=True,
    ),
    SettingSpec(
        "PRE_LOGIN_CALLBACK",
        None,
        (str, type(None)),
        "Hook (user, claims, request) -> None, called before tokens are issued; may raise.",
        is_hook=True,
    ),
    SettingSpec(
        "SLO_ENABLED",
        False,
        (bool,),
        "Return Microsoft's end-session URL from /logout/ so the browser signs out there too.",
    ),
    SettingSpec(
        "LOGOUT_REDIRECT_PATH",
        "/",
        (str,),
        "Where Microsoft sends the browser after signing out (path, URL name or allowed URL).",
    ),
    SettingSpec(
        "REQUIRE_CODE_CHALLENGE",
        True,
        (bool,),
        "Require a PKCE S256 code_challenge at /start/ binding the sso_code to the client.",
    ),
    SettingSpec(
        "REFRESH_COOKIE",
        False,
        (bool,),
        "Send the refresh token as an HttpOnly cookie scoped to refresh and logout, not in JSON.",
    ),
    SettingSpec(
        "REFRESH_COOKIE_NAME",
        "sso_refresh",
        (str,),
        "Name of the refresh cookie (the logout path's copy gets '_logout' appended).",
    ),
    SettingSpec("REFRESH_COOKIE_SECURE", True, (bool,), "Mark the refresh cookie Secure."),
    SettingSpec(
        "REFRESH_COOKIE_SAMESITE",
        "Strict",
        (str,),
        "SameSite of the refresh cookie: 'Strict', 'Lax' or 'None' (cross-site APIs).",
    ),
    SettingSpec(
        "SESSION_LIFETIME",
        timedelta(days=14),
        (timedelta,),
        "Absolute lifetime of a refresh-token family; rotation never extends it.",
    ),
    SettingSpec(
        "EXCHANGE_ENABLED",
        False,
        (bool,),
        "Let apps trade an Entra access token for this API for our tokens at /token/exchange/.",
    ),
    SettingSpec(
        "API_AUDIENCES",
        [],
        _STR_LIST,
        "Audiences of Entra access tokens for this API; empty: api://<application id> and "
        "the application id.",
    ),
    SettingSpec(
        "API_SCOPE",
        "access_as_user",
        (str,),
        "The delegated scope an Entra access token must carry (scp) to be accepted here.",
    ),
    SettingSpec(
        "API_CLIENT_IDS",
        [],
        _STR_LIST,
        "Client ids of the apps whose Entra access tokens are accepted; empty: any app.",
    ),
    SettingSpec(
        "API_USER_CACHE_SECONDS",
        5,
        (int, float),
        "How long each worker reuses the user an Entra bearer token maps to; 0: look it up "
        "on every request. Bounds how late a deactivation is seen.",
    ),
    SettingSpec(
        "GROUP_MAP",
        {},
        (dict,),
        "Entra app role values or group object ids -> Django group name(s) kept in sync at "
        "every sign-in.",
    ),
    SettingSpec(
        "MIRROR_ROLES",
        False,
        (bool,),
        "Make every app role the user holds a Django group of the same name, kept in sync.",
    ),
    SettingSpec(
        "FLAG_MAP",
        {},
        (dict,),
        "{'is_staff': [keys], 'is_superuser': [keys]}: flags owned by Entra, set or cleared "
        "at every sign-in.",
    ),
    SettingSpec(
        "GRAPH_URL",
        "https://graph.microsoft.com",
        (str,),
        "Microsoft Graph's base URL, asked for group memberships only on group overage.",
    ),
)

SPECS_BY_NAME: dict[str, SettingSpec] = {spec.name: spec for spec in SPECS}

Hook = Callable[..., Any]
SameSite = Literal["Strict", "Lax", "None"]


class SSOSettings:
    """Typed, lazy view of the settings for one request (or none).

    Every property reads ``django.conf.settings`` when accessed and, when the value is a
    callable, calls it with the request given here.
    """

    def __init__(self, request: HttpRequest | None = None) -> None:
        self.request = request

    def value(self, name: str) -> Any:
        """The effective value of ``MICROSOFT_SSO_<name>`` for this request."""
        spec = SPECS_BY_NAME[name]
        value = getattr(django_settings, spec.setting_name, spec.default)
        if callable(value) and not spec.is_hook:
            value = value(self.request)
        return value

    def _hook(self, name: str) -> Hook | None:
        hook = self.value(name)
        if hook is None:
            return None
        if isinstance(hook, str):
            return cast(Hook, import_string(hook))
        return cast(Hook, hook)

    def _strings(self, name: str) -> list[str]:
        return [str(item) for item in cast(Sequence[str], self.value(name))]

    @property
    def enabled(self) -> bool:
        return bool(self.value("ENABLED"))

    @property
    def application_id(self) -> str:
        return str(self.value("APPLICATION_ID") or "")

    @property
    def client_secret(self) -> str:
        return str(self.value("CLIENT_SECRET") or "")

    @property
    def tenant_id(self) -> str:
        return str(self.value("TENANT_ID") or "")

    @property
    def authority(self) -> str:
        """The authority URL without a trailing slash.

        ``MICROSOFT_SSO_AUTHORITY`` when set, else Microsoft's global cloud with the tenant.
        """
        explicit = self.value("AUTHORITY")
        if explicit:
            return str(explicit).rstrip("/")
        return f"https://{MICROSOFT_LOGIN_HOST}/{self.tenant_id}"

    @property
    def ca_bundle(self) -> str | None:
        value = self.value("CA_BUNDLE")
        return str(value) if value else None

    @property
    def scopes(self) -> list[str]:
        return self._strings("SCOPES")

    @property
    def flow_lifetime(self) -> timedelta:
        return timedelta(minutes=float(self.value("TIMEOUT")))

    @property
    def http_timeout(self) -> float:
        return float(self.value("HTTP_TIMEOUT"))

    @property
    def callback_domain(self) -> str | None:
        value = self.value("CALLBACK_DOMAIN")
        return str(value) if value else None

    @property
    def require_secure_callback(self) -> bool:
        return bool(self.value("REQUIRE_SECURE_CALLBACK"))

    @property
    def response_mode(self) -> str:
        return "form_post" if self.require_secure_callback else "query"

    @property
    def callback_cache_name(self) -> str:
        return str(self.value("CALLBACK_CACHE_NAME"))

    @property
    def next_url(self) -> str:
        return str(self.value("NEXT_URL"))

    @property
    def login_failed_url(self) -> str:
        return str(self.value("LOGIN_FAILED_URL"))

    @property
    def allowed_redirect_urls(self) -> list[str]:
        return self._strings("ALLOWED_REDIRECT_URLS")

    @property
    def allowed_tenants(self) -> list[str]:
        return [tenant.lower() for tenant in self._strings("ALLOWED_TENANTS")]

    @property
    def allowable_domains(self) -> list[str]:
        return [domain.lower() for domain in self._strings("ALLOWABLE_DOMAINS")]

    @property
    def auto_create_users(self) -> bool:
        return bool(self.value("AUTO_CREATE_USERS"))

    @property
    def unique_email(self) -> bool:
        return bool(self.value("UNIQUE_EMAIL"))

    @property
    def always_update_user_data(self) -> bool:
        return bool(self.value("ALWAYS_UPDATE_USER_DATA"))

    @property
    def staff_list(self) -> list[str]:
        return [email.lower() for email in self._strings("STAFF_LIST")]

    @property
    def superuser_list(self) -> list[str]:
        return [email.lower() for email in self._strings("SUPERUSER_LIST")]

    @property
    def auto_create_first_superuser(self) -> bool:
        return bool(self.value("AUTO_CREATE_FIRST_SUPERUSER"))

    @property
    def pre_validate_callback(self) -> Hook | None:
        return self._hook("PRE_VALIDATE_CALLBACK")

    @property
    def pre_create_callback(self) -> Hook | None:
        return self._hook("PRE_CREATE_CALLBACK")

    @property
    def pre_login_callback(self) -> Hook | None:
        return self._hook("PRE_LOGIN_CALLBACK")

    @property
    def slo_enabled(self) -> bool:
        return bool(self.value("SLO_ENABLED"))

    @property
    def logout_redirect_path(self) -> str:
        return str(self.value("LOGOUT_REDIRECT_PATH"))

    @property
    def require_code_challenge(self) -> bool:
        return bool(self.value("REQUIRE_CODE_CHALLENGE"))

    @property
    def refresh_cookie(self) -> bool:
        return bool(self.value("REFRESH_COOKIE"))

    @property
    def refresh_cookie_name(self) -> str:
        return str(self.value("REFRESH_COOKIE_NAME"))

    @property
    def refresh_cookie_secure(self) -> bool:
        return bool(self.value("REFRESH_COOKIE_SECURE"))

    @property
    def refresh_cookie_samesite(self) -> SameSite:
        value = str(self.value("REFRESH_COOKIE_SAMESITE"))
        # sso.E006 reports other values; fall back to the strictest policy meanwhile.
        return cast(SameSite, value) if value in ("Strict", "Lax", "None") else "Strict"

    @property
    def trusted_origins(self) -> set[str]:
        """Origins of the http(s) entries of ``MICROSOFT_SSO_ALLOWED_REDIRECT_URLS``.

        The SPAs allowed to receive an ``sso_code`` are the ones allowed to use the refresh
        cookie; one list keeps the two from drifting apart.
        """
        origins = set()
        for url in self.allowed_redirect_urls:
            try:
                parts = urlsplit(url)
            except ValueError:
                continue  # sso.E005 reports entries Python cannot parse
            if parts.scheme.lower() in ("http", "https") and parts.netloc:
                origins.add(f"{parts.scheme.lower()}://{parts.netloc.lower()}")
        return origins

    @property
    def session_lifetime(self) -> timedelta:
        return cast(timedelta, self.value("SESSION_LIFETIME"))

    @property
    def group_map(self) -> dict[str, list[str]]:
        """``MICROSOFT_SSO_GROUP_MAP`` with every value as a list of group names.

        Keys go through :func:`authorization_key`, as the token's values do.
        """
        mapping = cast(dict[Any, Any], self.value("GROUP_MAP") or {})
        return {
            authorization_key(str(key)): [str(name) for name in names_in(names) or ()]
            for key, names in mapping.items()
        }

    @property
    def mirror_roles(self) -> bool:
        return bool(self.value("MIRROR_ROLES"))

    @property
    def flag_map(self) -> dict[str, list[str]]:
        """``MICROSOFT_SSO_FLAG_MAP``: flag name -> keys that grant it (see
        :func:`authorization_key`)."""
        mapping = cast(dict[Any, Any], self.value("FLAG_MAP") or {})
        return {
            str(flag): [authorization_key(str(key)) for key in names_in(keys) or ()]
            for flag, keys in mapping.items()
        }

    @property
    def exchange_enabled(self) -> bool:
        return bool(self.value("EXCHANGE_ENABLED"))

    @property
    def api_audiences(self) -> list[str]:
        """The ``aud`` an Entra access token for this API may carry."""
        listed = self._strings("API_AUDIENCES")
        if listed:
            return listed
        application_id = self.application_id
        return [f"api://{application_id}", application_id] if application_id else []

    @property
    def api_scope(self) -> str:
        return str(self.value("API_SCOPE"))

    @property
    def api_client_ids(self) -> list[str]:
        return self._strings("API_CLIENT_IDS")

    @property
    def api_user_cache_seconds(self) -> float:
        return max(0.0, float(self.value("API_USER_CACHE_SECONDS")))

    @property
    def graph_url(self) -> str:
        return str(self.value("GRAPH_URL")).rstrip("/")


_OBJECT_ID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")


def names_in(value: Any) -> list[Any] | None:
    """A map's value as a list: one name, or several; None when it is neither (the checks
    report such values, sso.E012, and the maps then grant nothing for them)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return list(value)
    return None


def is_object_id(value: str) -> bool:
    """Whether ``value`` is shaped like an Entra object id (a GUID)."""
    return bool(_OBJECT_ID.match(value))


def authorization_key(value: str) -> str:
    """How an app role value or a group object id is compared with the maps' keys.

    Group object ids are GUIDs, which Entra may write in either case: lower-cased. App role
    values are compared exactly, as Entra defines them (``Admin`` is not ``admin``).
    """
    return value.lower() if _OBJECT_ID.match(value) else value


def sso_settings(request: HttpRequest | None = None) -> SSOSettings:
    """The settings as they apply to ``request``."""
    return SSOSettings(request)
