"""The optional refresh cookie (``MICROSOFT_SSO_REFRESH_COOKIE``) for browser apps.

With it on, the refresh token never reaches JavaScript: it travels in an HttpOnly cookie
that the browser sends only to the refresh and logout endpoints, so a page reload keeps
the user signed in without the token being readable by any script.

A cookie is sent by the browser on its own, so requests it authenticates need protection
against cross-site request forgery, and so do requests that *set* it: otherwise a
cross-site form could plant an attacker's session in the victim's browser (login CSRF).
Two defences apply to both, from OWASP's cheat sheet:

* a custom header (``X-SSO-CSRF``): a cross-site form cannot set one, and a cross-origin
  ``fetch`` that does must pass a CORS preflight, which only the allowed origins pass;
* the ``Origin`` header must be this API's own origin or a trusted SPA origin (the http(s)
  entries of ``MICROSOFT_SSO_ALLOWED_REDIRECT_URLS``).

``SameSite=Strict`` (the default) adds a third, and the token endpoints parse JSON only,
which a cross-site form cannot send.

A request without that proof (a native app, a server) is not refused: its refresh token
simply travels in the JSON body, as with the cookie mode off.

One cookie can have only one ``Path``, and Django's response holds one cookie per name, so
the logout path gets its own copy under the name with ``_logout`` appended.

**Planted cookies.** A sibling subdomain (``evil.example.com``) can set a cookie named like
ours for the parent domain, and the browser then sends both; the CSRF proof above does not
help, since the real SPA's request carries them. A request carrying the name twice is
refused (:class:`~sso_api.exceptions.DuplicateRefreshCookie`) and every copy the browser may
hold is cleared. The ``__Host-`` prefix would make planting impossible, but it requires
``Path=/``, which would send the refresh token with every request to the API instead of
only to the two endpoints that need it.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from http.cookies import Morsel

from django.http import HttpRequest, HttpResponse

from sso_api.callback_uri import request_scheme
from sso_api.conf import SSOSettings
from sso_api.exceptions import CSRFFailed, DuplicateRefreshCookie

CSRF_HEADER = "X-SSO-CSRF"


def _cookie_paths(conf: SSOSettings) -> dict[str, str]:
    """Cookie name for each path it is scoped to."""
    from django.urls import reverse

    return {
        reverse("sso_api:token-refresh"): conf.refresh_cookie_name,
        reverse("sso_api:logout"): f"{conf.refresh_cookie_name}_logout",
    }


def set_refresh_cookies(
    response: HttpResponse, conf: SSOSettings, refresh_token: str, expires_at: datetime
) -> None:
    for path, name in _cookie_paths(conf).items():
        response.set_cookie(
            name,
            refresh_token,
            expires=expires_at,
            path=path,
            secure=conf.refresh_cookie_secure,
            httponly=True,
            samesite=conf.refresh_cookie_samesite,
        )


def clear_refresh_cookies(response: HttpResponse, conf: SSOSettings) -> None:
    """Expire both of our refresh cookies (the refresh path's and the logout path's)."""
    for path, name in _cookie_paths(conf).items():
        _expire(response, conf, name, path=path, domain="", key=name)


def _expire(
    response: HttpResponse, conf: SSOSettings, name: str, *, path: str, domain: str, key: str
) -> None:
    """Add an expiring ``Set-Cookie`` for ``name`` at ``path`` and ``domain`` ("" for none).

    It carries ``Secure`` and ``SameSite`` as our cookie does: browsers ignore a
    ``__Secure-`` cookie without the first, and a cross-site answer's ``SameSite=None``
    cookie without both. Django keeps one cookie per key of ``response.cookies``; ``key``
    lets several cookies of one name go out, the header carrying the real name.
    """
    morsel: Morsel[str] = Morsel()
    morsel.set(name, "", '""')
    morsel["path"] = path
    morsel["expires"] = "Thu, 01 Jan 1970 00:00:00 GMT"
    morsel["max-age"] = 0
    morsel["samesite"] = conf.refresh_cookie_samesite
    morsel["secure"] = conf.refresh_cookie_secure or conf.refresh_cookie_samesite == "None"
    morsel["httponly"] = True
    if domain:
        morsel["domain"] = domain
    response.cookies[key] = morsel


def proves_trusted_origin(request: HttpRequest, conf: SSOSettings) -> bool:
    """Whether the request carries the custom header and comes from a trusted origin."""
    if not request.headers.get(CSRF_HEADER):
        return False
    origin = request.headers.get("Origin", "").lower()
    own_origin = f"{request_scheme(request)}://{request.get_host()}"
    return origin == own_origin or origin in conf.trusted_origins


def uses_refresh_cookie(request: HttpRequest, conf: SSOSettings) -> bool:
    """Whether this request's new refresh token goes into cookies rather than JSON."""
    return conf.refresh_cookie and proves_trusted_origin(request, conf)


def _copies_sent(request: HttpRequest, name: str) -> int:
    """How many non-empty cookies named ``name`` the raw ``Cookie`` header carries.

    ``request.COOKIES`` keeps only the last of several; the header keeps them all.
    """
    header = str(request.META.get("HTTP_COOKIE", ""))
    count = 0
    for pair in header.split(";"):
        key, separator, value = pair.strip().partition("=")
        if separator and key.strip() == name and value.strip().strip('"'):
            count += 1
    return count


def refresh_from_cookie(request: HttpRequest, conf: SSOSettings) -> str | None:
    """The refresh token from the cookie for this request's path, CSRF-checked.

    Returns None when no cookie came. Raises :class:`DuplicateRefreshCookie` when the name
    came more than once, and :class:`CSRFFailed` when the cookie came without the custom
    header or from an untrusted origin.
    """
    name = _cookie_paths(conf).get(request.path)
    token = request.COOKIES.get(name) if name else None
    if not name or not token:
        return None
    if _copies_sent(request, name) > 1:
        raise DuplicateRefreshCookie("refresh cookie sent more than once")
    if not proves_trusted_origin(request, conf):
        raise CSRFFailed(f"cookie request without {CSRF_HEADER} or from an untrusted origin")
    return token


def _path_prefixes(path: str) -> list[str]:
    """Every cookie ``Path`` under which a browser would send a cookie to ``path``."""
    prefixes = ["/"]
    position = path.find("/", 1)
    while position != -1:
        prefixes += [path[:position], path[: position + 1]]
        position = path.find("/", position + 1)
    prefixes.append(path)
    return list(dict.fromkeys(prefixes))


def _cookie_domains(host: str) -> list[str]:
    """The ``Domain`` values a cookie sent to ``host`` may have been set with.

    The host itself and each parent with at least two labels (``api.example.com`` gives
    ``api.example.com`` and ``example.com``); none for an IP address or a one-label host.
    """
    host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    try:
        ipaddress.ip_address(host.strip("[]"))
        return []
    except ValueError:
        pass
    labels = host.lower().split(".")
    return [".".join(labels[index:]) for index in range(len(labels) - 1)]


def clear_planted_cookies(response: HttpResponse, request: HttpRequest, conf: SSOSettings) -> None:
    """Expire every copy of this path's refresh cookie the browser may hold, ours included.

    The planted copy's ``Domain`` and ``Path`` are unknown, so one expiring ``Set-Cookie`` is
    sent for each pair the browser could have sent to this URL.
    """
    clear_refresh_cookies(response, conf)
    name = _cookie_paths(conf).get(request.path)
    if not name:
        return
    for path in _path_prefixes(request.path):
        for domain in ["", *_cookie_domains(request.get_host())]:
            if (path, domain) != (request.path, ""):  # ours, expired just above
                _expire(
                    response, conf, name, path=path, domain=domain, key=f"{name} {domain} {path}"
                )
