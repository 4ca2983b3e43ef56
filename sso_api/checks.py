"""System checks: configuration mistakes surface at start-up, not at the first sign-in.

=========  ===========================================================================
id         problem
=========  ===========================================================================
sso.E001   secure callback on, but ``CACHES`` is not configured explicitly
sso.W001   secure callback on a ``LocMemCache`` or ``DummyCache`` (breaks with workers)
sso.E002   ``MICROSOFT_SSO_CALLBACK_CACHE_NAME`` names no entry of ``CACHES``
sso.E003   unknown ``MICROSOFT_SSO_*`` setting (likely misspelled)
sso.E004   a ``MICROSOFT_SSO_*`` setting has the wrong type
sso.E005   an ``MICROSOFT_SSO_ALLOWED_REDIRECT_URLS`` entry is not an absolute URL
sso.E006   ``MICROSOFT_SSO_REFRESH_COOKIE_SAMESITE`` is not Strict, Lax or None
sso.W002   sign-in is enabled but the application id, secret or tenant is missing
sso.W003   ``MICROSOFT_SSO_ALLOWABLE_DOMAINS`` is empty, so nobody can sign in
sso.W004   like W001, in query mode: flows and sso_codes live in the cache in both modes
sso.W005   the flow cache culls entries at MAX_ENTRIES (300 by default): a flood of /start/
           calls would evict other users' pending sign-ins
sso.E007   ``MICROSOFT_SSO_LOGOUT_REDIRECT_PATH`` is a URL outside the redirect allow-list
sso.E008   ``MICROSOFT_SSO_NEXT_URL`` or ``_LOGIN_FAILED_URL`` is no path and no allowed URL
sso.E009   an ``ALLOWED_REDIRECT_URLS`` entry can never match: a wildcard (``*`` is compared
           literally), or a form ``validate_next_url`` always refuses (``/../``, ``%2F``,
           spaces, ``javascript:``...)
sso.W006   an ``ALLOWED_REDIRECT_URLS`` entry has a query or fragment, which the matcher
           ignores: the entry allows more than it says
sso.E010   ``SUPERUSER_LIST`` is ``["*"]`` and the other settings let in any Microsoft
           account (see :func:`_open_to_every_microsoft_account`)
sso.W007   the same for ``STAFF_LIST``
sso.E011   ``MICROSOFT_SSO_FLAG_MAP`` names a flag other than is_staff and is_superuser
sso.E012   a ``GROUP_MAP`` or ``FLAG_MAP`` entry can never grant anything (empty key, no
           names, a name that is not a string)
sso.E013   ``GROUP_MAP`` or ``MIRROR_ROLES`` with a user model that has no groups
sso.W014   a map names group object ids, but ``SCOPES`` lacks a Graph permission to list
           memberships (needed on group overage)
sso.W015   ``FLAG_MAP`` owns is_superuser while ``AUTO_CREATE_FIRST_SUPERUSER`` is on
sso.E014   ``MICROSOFT_SSO_GRAPH_URL`` is not https (plain http allowed on loopback only)
sso.E015   ``FLAG_MAP`` grants a flag for an app role while accounts of any tenant may sign in
sso.W016   app roles grant groups while accounts of any tenant may sign in
=========  ===========================================================================

Only ``manage.py check --deploy`` runs these (each is normal during development):

=========  ===========================================================================
id         problem
=========  ===========================================================================
sso.W008   ``MICROSOFT_SSO_REQUIRE_CODE_CHALLENGE`` is off: sso_codes are not PKCE-bound
sso.W009   the refresh cookie is on and ``MICROSOFT_SSO_REFRESH_COOKIE_SECURE`` is off
sso.W010   the refresh cookie is on with ``MICROSOFT_SSO_REFRESH_COOKIE_SAMESITE = "None"``
sso.W011   an ``ALLOWED_REDIRECT_URLS`` entry is ``http://`` on a host other than
           localhost, 127.0.0.1 or [::1]: the sso_code would travel in clear
sso.W012   ``MICROSOFT_SSO_SESSION_LIFETIME`` is over 90 days
sso.W013   ``SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]`` is over one hour
=========  ===========================================================================

Settings given as callables (resolved per request) are skipped: the checks cannot know
their values. ``SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]`` is not checked, because
``MICROSOFT_SSO_SESSION_LIFETIME`` caps every refresh-token family anyway.
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, cast
from urllib.parse import SplitResult, urlsplit, urlunsplit

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from rest_framework_simplejwt import settings as simplejwt_settings

from sso_api.conf import PREFIX, SPECS, SPECS_BY_NAME, is_object_id, names_in, sso_settings
from sso_api.destinations import validate_next_url
from sso_api.exceptions import InvalidNextURL

# Backends that delete a share of their entries once MAX_ENTRIES is reached.
_CULLING_CACHES = ("DatabaseCache", "LocMemCache", "FileBasedCache")
_ENOUGH_ENTRIES = 100_000

_PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)

# Authority paths that accept accounts from any tenant (or any personal account):
# https://learn.microsoft.com/entra/identity-platform/msal-client-application-configuration#authority
_MULTI_TENANT_AUTHORITIES = frozenset({"common", "organizations", "consumers"})
# Plain http is harmless only where the traffic never leaves the machine.
_LOOPBACK_HOSTS = frozenset({"localhost"})
_LONGEST_SANE_SESSION = timedelta(days=90)
_LONGEST_SANE_ACCESS_TOKEN = timedelta(hours=1)


def _configured(name: str) -> Any:
    spec = SPECS_BY_NAME[name]
    return getattr(settings, spec.setting_name, spec.default)


@register(Tags.caches, deploy=False)
def check_callback_cache(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    cache_name = _configured("CALLBACK_CACHE_NAME")
    caches = getattr(settings, "CACHES", {})
    if isinstance(cache_name, str) and cache_name not in caches:
        messages.append(
            Error(
                f"MICROSOFT_SSO_CALLBACK_CACHE_NAME is {cache_name!r}, which is not in CACHES.",
                hint="Name an alias defined in CACHES.",
                id="sso.E002",
            )
        )
    secure_callback = _configured("REQUIRE_SECURE_CALLBACK") is True
    # is_overridden is public Django API that the type stubs do not declare.
    if secure_callback and not cast(Any, settings).is_overridden("CACHES"):
        messages.append(
            Error(
                "MICROSOFT_SSO_REQUIRE_SECURE_CALLBACK is on but CACHES is not configured.",
                hint=(
                    "The form_post callback finds its flow in the cache, not in a session. "
                    "Configure CACHES explicitly (Redis or the database cache in production)."
                ),
                id="sso.E001",
            )
        )
        return messages
    cache_config = caches.get(cache_name, {}) if isinstance(cache_name, str) else {}
    backend = cache_config.get("BACKEND", "")
    max_entries = cache_config.get("OPTIONS", {}).get("MAX_ENTRIES", 300)
    if backend.rsplit(".", 1)[-1] in _CULLING_CACHES and max_entries < _ENOUGH_ENTRIES:
        messages.append(
            Warning(
                f"The sign-in cache culls entries beyond MAX_ENTRIES={max_entries}.",
                hint=(
                    "Every /start/ call stores a flow, so a burst of them would evict other "
                    "users' pending sign-ins (invalid_state). Give the cache "
                    f"OPTIONS={{'MAX_ENTRIES': {_ENOUGH_ENTRIES}}} or more, or use Redis."
                ),
                id="sso.W005",
            )
        )
    if backend not in _PER_PROCESS_CACHES:
        return messages
    check_id = "sso.W001" if secure_callback else "sso.W004"
    if backend.endswith("DummyCache"):
        hint = "DummyCache stores nothing, so no sign-in can complete. Use a real cache."
    else:
        hint = (
            "With several workers the callback can reach a process that never saw the flow "
            "(error invalid_state). Use Redis or the database cache, or add "
            f"'{check_id}' to SILENCED_SYSTEM_CHECKS if you run a single process."
        )
    kept = "Secure callback flows are" if secure_callback else "Sign-in flows and sso_codes are"
    messages.append(
        Warning(
            f"{kept} kept in {backend.rsplit('.', 1)[-1]}, which is private to one process.",
            hint=hint,
            id=check_id,
        )
    )
    return messages


def _type_names(types: tuple[type, ...]) -> str:
    return " or ".join("None" if kind is type(None) else kind.__name__ for kind in types)


@register()
def check_settings(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    known = [spec.setting_name for spec in SPECS]
    for name in dir(settings):
        if name.startswith(PREFIX) and name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            messages.append(
                Error(
                    f"Unknown setting {name}.",
                    hint=f"Did you mean {close[0]}?" if close else "See the settings reference.",
                    id="sso.E003",
                )
            )
    for spec in SPECS:
        value = getattr(settings, spec.setting_name, spec.default)
        if callable(value):
            continue
        # bool is a subclass of int, but True is no flow lifetime.
        wrong_type = not isinstance(value, spec.types) or (
            isinstance(value, bool) and bool not in spec.types
        )
        if not wrong_type and spec.types == (list, tuple):
            wrong_type = not all(isinstance(item, str) for item in value)
        if wrong_type:
            expected = (
                "a list of strings" if spec.types == (list, tuple) else _type_names(spec.types)
            )
            messages.append(
                Error(
                    f"{spec.setting_name} must be {expected} (or a callable taking the request).",
                    id="sso.E004",
                )
            )
    messages.extend(_check_redirect_allow_list())
    messages.extend(_check_logout_redirect())
    messages.extend(_check_browser_destinations())
    samesite = _configured("REFRESH_COOKIE_SAMESITE")
    if isinstance(samesite, str) and samesite not in ("Strict", "Lax", "None"):
        messages.append(
            Error(
                f"MICROSOFT_SSO_REFRESH_COOKIE_SAMESITE is {samesite!r}.",
                hint="Use 'Strict' (default), 'Lax', or 'None' for an API on another site.",
                id="sso.E006",
            )
        )
    if _configured("ENABLED") is True:
        missing = [name for name in ("APPLICATION_ID", "CLIENT_SECRET") if not _configured(name)]
        if not _configured("TENANT_ID") and not _configured("AUTHORITY"):
            missing.append("TENANT_ID")
        if missing:
            messages.append(
                Warning(
                    "Sign in with Microsoft is enabled but "
                    + ", ".join(PREFIX + name for name in missing)
                    + " is not set; /start/ answers 503 sso_not_configured.",
                    hint="Copy them from the app registration's Overview page in Entra.",
                    id="sso.W002",
                )
            )
    domains = _configured("ALLOWABLE_DOMAINS")
    if isinstance(domains, (list, tuple)) and not domains:
        messages.append(
            Warning(
                "MICROSOFT_SSO_ALLOWABLE_DOMAINS is empty, so nobody can sign in.",
                hint="List the email domains to let in, or ['*'] to let every account in.",
                id="sso.W003",
            )
        )
    return messages


def _is_allowed_destination(target: str) -> bool:
    """Whether ``validate_next_url`` would let a browser be sent to ``target``."""
    try:
        validate_next_url(target, sso_settings())
    except InvalidNextURL:
        return False
    return True


def _check_logout_redirect() -> list[CheckMessage]:
    target = _configured("LOGOUT_REDIRECT_PATH")
    # A path or URL name is made absolute on this host; only full URLs need the allow-list.
    if not isinstance(target, str) or "://" not in target or _is_allowed_destination(target):
        return []
    return [
        Error(
            f"MICROSOFT_SSO_LOGOUT_REDIRECT_PATH {target!r} is not under "
            "MICROSOFT_SSO_ALLOWED_REDIRECT_URLS.",
            hint="/logout/ would answer logout_url null. List the URL's origin there.",
            id="sso.E007",
        )
    ]


def _check_browser_destinations() -> list[CheckMessage]:
    """NEXT_URL and LOGIN_FAILED_URL must be where a browser can be sent (not URL names)."""
    return [
        Error(
            f"MICROSOFT_SSO_{name} {target!r} is neither a path on this host nor a URL "
            "under MICROSOFT_SSO_ALLOWED_REDIRECT_URLS.",
            hint="Give a path such as '/' or an allowed URL; URL names are not resolved.",
            id="sso.E008",
        )
        for name in ("NEXT_URL", "LOGIN_FAILED_URL")
        if isinstance(target := _configured(name), str) and not _is_allowed_destination(target)
    ]


def _redirect_entries() -> list[str]:
    """The entries of ``MICROSOFT_SSO_ALLOWED_REDIRECT_URLS``; none if it is a callable."""
    entries = _configured("ALLOWED_REDIRECT_URLS")
    return [str(entry) for entry in entries] if isinstance(entries, (list, tuple)) else []


def _absolute_entry(entry: str) -> SplitResult | None:
    """``entry`` split into its parts, or None if it is no absolute URL (sso.E005)."""
    try:
        parts = urlsplit(entry)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None
    if not parts.scheme or not parts.netloc or "@" in parts.netloc:
        return None
    return parts


def _what_entry_matches(parts: SplitResult) -> str:
    """The entry as the matcher reads it: scheme, host and path, without query or fragment."""
    return urlunsplit(parts._replace(query="", fragment=""))


def _never_matched(parts: SplitResult) -> tuple[str, str] | None:
    """(Why, what to do) if no ``next`` URL can ever match the entry ``parts``; else None.

    ``validate_next_url`` compares scheme and host exactly and the path as a prefix, and
    ignores the entry's query and fragment.
    """
    if "*" in parts.netloc or "*" in parts.path:
        return (
            "'*' is matched literally, not as a wildcard",
            "Wildcards are not supported: list each origin (or URL prefix) on its own.",
        )
    # Every URL under an entry carries the entry's scheme, host and path, so when the entry
    # itself is refused for its form, so is everything it could allow.
    try:
        validate_next_url(_what_entry_matches(parts), sso_settings())
    except InvalidNextURL as exc:
        return (
            f"next URLs of this form are always refused ({exc.reason})",
            "Correct the entry or remove it; see the refused forms under invalid_next_url "
            "in the troubleshooting guide.",
        )
    return None


def _check_redirect_allow_list() -> list[CheckMessage]:
    """sso.E005, sso.E009 and sso.W006: entries that do not mean what they say."""
    messages: list[CheckMessage] = []
    for entry in _redirect_entries():
        parts = _absolute_entry(entry)
        if parts is None:
            messages.append(
                Error(
                    f"MICROSOFT_SSO_ALLOWED_REDIRECT_URLS entry {entry!r} is not an absolute URL.",
                    hint="Give a scheme and a host: 'https://app.example.com' or "
                    "'myapp://auth'. Relative paths on this host are always allowed.",
                    id="sso.E005",
                )
            )
        elif never := _never_matched(parts):
            reason, hint = never
            messages.append(
                Error(
                    f"MICROSOFT_SSO_ALLOWED_REDIRECT_URLS entry {entry!r} can never match: "
                    f"{reason}.",
                    hint=hint,
                    id="sso.E009",
                )
            )
        elif "?" in entry or "#" in entry:
            # urlsplit ends the host and path at the first '?' or '#'.
            allowed = _what_entry_matches(parts)
            messages.append(
                Warning(
                    f"MICROSOFT_SSO_ALLOWED_REDIRECT_URLS entry {entry!r} has a query or "
                    f"fragment, which is ignored: it allows every URL under {allowed!r}.",
                    hint=f"List {allowed!r}: entries match by scheme, host and path prefix "
                    "only, whatever the query or fragment of next.",
                    id="sso.W006",
                )
            )
    return messages


def _lists_everyone(name: str) -> bool:
    value = _configured(name)
    return isinstance(value, (list, tuple)) and "*" in value


def _open_to_every_microsoft_account() -> bool:
    """Whether the settings alone let any Microsoft account sign in and get a user.

    True when the authority is multi-tenant (``MICROSOFT_SSO_TENANT_ID``, or the last path
    segment of ``MICROSOFT_SSO_AUTHORITY``, which wins over it, is ``common``,
    ``organizations`` or ``consumers``), ``MICROSOFT_SSO_ALLOWED_TENANTS`` is empty,
    ``MICROSOFT_SSO_ALLOWABLE_DOMAINS`` contains ``"*"``, users are created on first
    sign-in, and no ``MICROSOFT_SSO_PRE_VALIDATE_CALLBACK`` can refuse anyone. False when
    one of these settings is a callable, whose value may differ per request.
    """
    names = ("TENANT_ID", "AUTHORITY", "ALLOWED_TENANTS", "ALLOWABLE_DOMAINS", "AUTO_CREATE_USERS")
    if any(callable(_configured(name)) for name in names):
        return False
    if _configured("PRE_VALIDATE_CALLBACK") is not None or not _configured("AUTO_CREATE_USERS"):
        return False
    return _lists_everyone("ALLOWABLE_DOMAINS") and _any_tenant_may_sign_in()


@register(Tags.security)
def check_privileges_for_everyone(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """sso.E010 and sso.W007: ``"*"`` in the superuser or staff list, open to the world.

    Not deploy-only: who can reach a server, not whether it is production, makes this
    dangerous, and staging or preview servers rarely run ``check --deploy``.
    """
    if not _open_to_every_microsoft_account():
        return []
    open_door = (
        "and any Microsoft account may sign in (multi-tenant authority, no "
        "MICROSOFT_SSO_ALLOWED_TENANTS, MICROSOFT_SSO_ALLOWABLE_DOMAINS ['*'])"
    )
    hint = (
        "List the email addresses instead of '*', or restrict who may sign in with "
        "MICROSOFT_SSO_ALLOWED_TENANTS or MICROSOFT_SSO_ALLOWABLE_DOMAINS."
    )
    messages: list[CheckMessage] = []
    if _lists_everyone("SUPERUSER_LIST"):
        messages.append(
            Error(
                f"MICROSOFT_SSO_SUPERUSER_LIST contains '*' {open_door}: anyone with a "
                "Microsoft account would become a superuser.",
                hint=hint,
                id="sso.E010",
            )
        )
    if _lists_everyone("STAFF_LIST"):
        messages.append(
            Warning(
                f"MICROSOFT_SSO_STAFF_LIST contains '*' {open_door}: anyone with a "
                "Microsoft account would become staff (is_staff, which DRF's IsAdminUser "
                "checks).",
                hint=hint,
                id="sso.W007",
            )
        )
    return messages


@register(Tags.security, deploy=True)
def check_deployment(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    """sso.W008 to sso.W013: settings that are fine in development but not in production."""
    return [
        *_check_code_challenge(),
        *_check_refresh_cookie(),
        *_check_plain_http_destinations(),
        *_check_lifetimes(),
    ]


def _check_code_challenge() -> list[CheckMessage]:
    if _configured("REQUIRE_CODE_CHALLENGE") is not False:
        return []
    return [
        Warning(
            "MICROSOFT_SSO_REQUIRE_CODE_CHALLENGE is off: whoever sees an sso_code (history, "
            "logs, a pushed callback) can redeem it.",
            hint="Remove the setting (the default is True) and have clients send a PKCE S256 "
            "code_challenge to /start/ and its verifier to /token/.",
            id="sso.W008",
        )
    ]


def _check_refresh_cookie() -> list[CheckMessage]:
    if _configured("REFRESH_COOKIE") is not True:
        return []
    messages: list[CheckMessage] = []
    if _configured("REFRESH_COOKIE_SECURE") is False:
        messages.append(
            Warning(
                "MICROSOFT_SSO_REFRESH_COOKIE_SECURE is off: browsers also send the refresh "
                "cookie over plain http, in clear.",
                hint="Remove the setting (the default is True); turning it off is meant for "
                "development over http only.",
                id="sso.W009",
            )
        )
    if _configured("REFRESH_COOKIE_SAMESITE") == "None":
        messages.append(
            Warning(
                "MICROSOFT_SSO_REFRESH_COOKIE_SAMESITE is 'None': browsers send the refresh "
                "cookie with cross-site requests, leaving the X-SSO-CSRF header and the "
                "Origin check as the only defence against forged ones.",
                hint="Serve the API on the app's site (app.example.com and api.example.com "
                "are one site) and use 'Strict' or 'Lax'. If it must live on another site, "
                "add 'sso.W010' to SILENCED_SYSTEM_CHECKS.",
                id="sso.W010",
            )
        )
    return messages


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_plain_http_destinations() -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for entry in _redirect_entries():
        parts = _absolute_entry(entry)
        if parts is None or parts.scheme != "http":
            continue
        try:
            host = parts.hostname or ""
        except ValueError:
            continue
        if _is_loopback(host):
            continue
        messages.append(
            Warning(
                f"MICROSOFT_SSO_ALLOWED_REDIRECT_URLS entry {entry!r} is plain http: the "
                "sso_code would travel to it in clear.",
                hint="Use https. Plain http is fine for localhost, 127.0.0.1 and [::1] only, "
                "where the traffic never leaves the machine.",
                id="sso.W011",
            )
        )
    return messages


def _check_lifetimes() -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    session_lifetime = _configured("SESSION_LIFETIME")
    if isinstance(session_lifetime, timedelta) and session_lifetime > _LONGEST_SANE_SESSION:
        messages.append(
            Warning(
                f"MICROSOFT_SSO_SESSION_LIFETIME is {session_lifetime}: a stolen refresh token "
                "keeps its session alive that long.",
                hint="Keep it at 90 days or less (the default is 14 days); users then sign in "
                "with Microsoft again.",
                id="sso.W012",
            )
        )
    # Read the module attribute on every call: simplejwt replaces api_settings when
    # SIMPLE_JWT changes instead of updating it.
    access_lifetime = simplejwt_settings.api_settings.ACCESS_TOKEN_LIFETIME
    if isinstance(access_lifetime, timedelta) and access_lifetime > _LONGEST_SANE_ACCESS_TOKEN:
        messages.append(
            Warning(
                f'SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"] is {access_lifetime}: an access token '
                "keeps working that long after sign-out or revocation.",
                hint="Keep it at one hour or less; minutes are better (simplejwt's default is "
                "5). Clients refresh it silently.",
                id="sso.W013",
            )
        )
    return messages


# --- Authorization from Entra -------------------------------------------------------------

_FLAGS = ("is_staff", "is_superuser")
# Delegated Microsoft Graph permissions that let /me/transitiveMemberOf list the user's
# groups (https://learn.microsoft.com/graph/api/user-list-transitivememberof).
_MEMBERSHIP_SCOPES = frozenset(
    {
        "user.read",
        "user.read.all",
        "groupmember.read.all",
        "group.read.all",
        "directory.read.all",
        "directory.readwrite.all",
    }
)


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _unmatchable_entries(group_map: dict[Any, Any]) -> list[str]:
    """GROUP_MAP entries that can never grant a group, described."""
    problems = []
    for key, value in group_map.items():
        names = names_in(value)
        if not _is_name(key):
            problems.append(f"GROUP_MAP key {key!r} is not a role value or group id")
        elif not names or not all(_is_name(name) for name in names):
            problems.append(f"GROUP_MAP[{key!r}] is not a group name or a list of them")
    return problems


def _unmatchable_flags(flag_map: dict[Any, Any]) -> list[str]:
    """FLAG_MAP entries (flag -> keys) that can never grant their flag, described."""
    return [
        f"FLAG_MAP[{flag!r}] is not a list of role values or group ids"
        for flag, keys in flag_map.items()
        if not (listed := names_in(keys)) or not all(_is_name(key) for key in listed)
    ]


@register(Tags.security)
def check_authorization_maps(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """sso.E011 to sso.E015, sso.W014 to sso.W016: GROUP_MAP, MIRROR_ROLES and FLAG_MAP."""
    group_map, flag_map = _configured("GROUP_MAP"), _configured("FLAG_MAP")
    if callable(group_map) or callable(flag_map):
        return []
    group_map = group_map if isinstance(group_map, dict) else {}
    flag_map = flag_map if isinstance(flag_map, dict) else {}
    messages: list[CheckMessage] = [
        Error(
            f"MICROSOFT_SSO_FLAG_MAP names {flag!r}, which is not a flag sso_api sets.",
            hint="Name 'is_staff' or 'is_superuser'; use MICROSOFT_SSO_GROUP_MAP for groups.",
            id="sso.E011",
        )
        for flag in flag_map
        if flag not in _FLAGS
    ]
    messages += [
        Error(
            f"MICROSOFT_SSO_{problem}: the entry can never grant anything.",
            hint="Map a non-empty app role value or group object id to a group name (or a "
            "list of names); FLAG_MAP maps a flag to a list of such keys.",
            id="sso.E012",
        )
        for problem in (*_unmatchable_entries(group_map), *_unmatchable_flags(flag_map))
    ]
    # Imported here: the user model is only known once the apps are loaded.
    from django.contrib.auth import get_user_model

    mirror_roles = _configured("MIRROR_ROLES") is True
    if (group_map or mirror_roles) and not hasattr(get_user_model(), "groups"):
        messages.append(
            Error(
                "MICROSOFT_SSO_GROUP_MAP or _MIRROR_ROLES is set, but the user model has no "
                "groups.",
                hint="Give the user model Django's PermissionsMixin, or remove the setting.",
                id="sso.E013",
            )
        )
    keys = [*group_map, *_flag_keys(flag_map)]
    group_keys = [key for key in keys if isinstance(key, str) and is_object_id(key)]
    role_keys = [key for key in keys if isinstance(key, str) and not is_object_id(key)]
    scopes = _configured("SCOPES")
    if group_keys and isinstance(scopes, (list, tuple)) and not _reads_memberships(scopes):
        messages.append(
            Warning(
                "A map names group object ids, but MICROSOFT_SSO_SCOPES asks for no Microsoft "
                "Graph permission that lists the user's groups.",
                hint="For users in too many groups (overage), groups are read from Microsoft "
                "Graph with the sign-in's access token: add 'User.Read' to "
                "MICROSOFT_SSO_SCOPES, or such sign-ins end with groups_unavailable.",
                id="sso.W014",
            )
        )
    graph_url = _configured("GRAPH_URL")
    if isinstance(graph_url, str) and not _is_https_or_loopback(graph_url):
        messages.append(
            Error(
                f"MICROSOFT_SSO_GRAPH_URL {graph_url!r} is not an https URL.",
                hint="On group overage the sign-in's access token is sent there: use https "
                "(plain http only on loopback, for tests).",
                id="sso.E014",
            )
        )
    if "is_superuser" in flag_map and _configured("AUTO_CREATE_FIRST_SUPERUSER") is True:
        messages.append(
            Warning(
                "MICROSOFT_SSO_FLAG_MAP owns is_superuser, so "
                "MICROSOFT_SSO_AUTO_CREATE_FIRST_SUPERUSER has no lasting effect.",
                hint="Grant is_superuser through the map (or SUPERUSER_LIST) instead.",
                id="sso.W015",
            )
        )
    flag_role_keys = [
        key for key in _flag_keys(flag_map) if isinstance(key, str) and not is_object_id(key)
    ]
    if flag_role_keys and _any_tenant_may_sign_in():
        messages.append(
            Error(
                "MICROSOFT_SSO_FLAG_MAP grants is_staff or is_superuser for app roles, and "
                "accounts of any tenant may sign in: any tenant's administrator could assign "
                "the role to themselves and get the flag here.",
                hint="Restrict MICROSOFT_SSO_ALLOWED_TENANTS to the tenants you trust, or grant "
                "the flags by group object ids of your own tenant.",
                id="sso.E015",
            )
        )
    elif (role_keys or mirror_roles) and _any_tenant_may_sign_in():
        messages.append(
            Warning(
                "App roles grant groups or flags, and accounts of any tenant may sign in: "
                "each tenant's administrators decide who holds the app's roles there.",
                hint="Restrict MICROSOFT_SSO_ALLOWED_TENANTS to the tenants you trust, or map "
                "group object ids of your own tenant instead.",
                id="sso.W016",
            )
        )
    return messages


def _flag_keys(flag_map: dict[Any, Any]) -> list[Any]:
    """Every key that ``MICROSOFT_SSO_FLAG_MAP`` (flag -> keys) names."""
    return [key for keys in flag_map.values() for key in names_in(keys) or ()]


def _is_https_or_loopback(url: str) -> bool:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return False
    if parts.scheme == "https" and host:
        return True
    return parts.scheme == "http" and _is_loopback(host)


def _reads_memberships(scopes: Sequence[Any]) -> bool:
    for scope in scopes:
        name = str(scope).rsplit("/", 1)[-1].lower()
        if name in _MEMBERSHIP_SCOPES:
            return True
    return False


def _any_tenant_may_sign_in() -> bool:
    """A multi-tenant authority (``MICROSOFT_SSO_TENANT_ID``, or the last path segment of
    ``MICROSOFT_SSO_AUTHORITY``, which wins over it, is ``common``, ``organizations`` or
    ``consumers``) with no ``MICROSOFT_SSO_ALLOWED_TENANTS``."""
    allowed_tenants = _configured("ALLOWED_TENANTS")
    if not isinstance(allowed_tenants, (list, tuple)) or allowed_tenants:
        return False
    try:
        authority_path = urlsplit(sso_settings().authority).path
    except ValueError:
        return False
    return authority_path.rstrip("/").rsplit("/", 1)[-1].lower() in _MULTI_TENANT_AUTHORITIES
