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
=========  ===========================================================================

Settings given as callables (resolved per request) are not type-checked here.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any, cast
from urllib.parse import urlsplit

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from sso_api.conf import PREFIX, SPECS, SPECS_BY_NAME, sso_settings
from sso_api.exceptions import InvalidNextURL
from sso_api.redirects import validate_next_url

# Backends that delete a share of their entries once MAX_ENTRIES is reached.
_CULLING_CACHES = ("DatabaseCache", "LocMemCache", "FileBasedCache")
_ENOUGH_ENTRIES = 100_000

_PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


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
    redirect_urls = _configured("ALLOWED_REDIRECT_URLS")
    if isinstance(redirect_urls, (list, tuple)):
        for entry in redirect_urls:
            parts = urlsplit(str(entry))
            if not parts.scheme or not parts.netloc or "@" in parts.netloc:
                messages.append(
                    Error(
                        f"MICROSOFT_SSO_ALLOWED_REDIRECT_URLS entry {entry!r} is not an absolute "
                        "URL.",
                        hint="Give a scheme and a host: 'https://app.example.com' or "
                        "'myapp://auth'. Relative paths on this host are always allowed.",
                        id="sso.E005",
                    )
                )
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
