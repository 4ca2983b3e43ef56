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
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest, HttpResponse

from sso_api.conf import SSOSettings
from sso_api.exceptions import CSRFFailed
from sso_api.redirects import request_scheme

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
    for path, name in _cookie_paths(conf).items():
        response.delete_cookie(name, path=path, samesite=conf.refresh_cookie_samesite)


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


def refresh_from_cookie(request: HttpRequest, conf: SSOSettings) -> str | None:
    """The refresh token from the cookie for this request's path, CSRF-checked.

    Returns None when no cookie came. Raises :class:`CSRFFailed` when one came without the
    custom header or from an untrusted origin.
    """
    name = _cookie_paths(conf).get(request.path)
    token = request.COOKIES.get(name) if name else None
    if not token:
        return None
    if not proves_trusted_origin(request, conf):
        raise CSRFFailed(f"cookie request without {CSRF_HEADER} or from an untrusted origin")
    return token
