"""The callback URI this app registers at Microsoft, as seen from the current request.

It must be byte-for-byte what is registered in Entra (scheme, host, port, path, trailing
slash), or Microsoft refuses the sign-in with AADSTS50011. Everything here reads the
request (scheme, host, proxy headers) and the URL configuration; it sits below the flows,
which need :func:`build_callback_uri`, and beside the other modules they call.
"""

from __future__ import annotations

from django.apps import apps
from django.http import HttpRequest
from django.urls import reverse

from sso_api.conf import SSOSettings


def request_scheme(request: HttpRequest) -> str:
    """The scheme the client used to reach us.

    ``request.is_secure()`` already honours Django's ``SECURE_PROXY_SSL_HEADER``. A reverse
    proxy's ``X-Forwarded-Proto`` is honoured too (its first value when the proxies
    chained a list): the seed documentation promises it, and a wrong value can only produce
    a callback URI that Microsoft refuses, never one it accepts for someone else.
    """
    forwarded = str(request.META.get("HTTP_X_FORWARDED_PROTO", ""))
    first = forwarded.split(",", 1)[0].strip().lower()
    if first in ("http", "https"):
        return first
    return "https" if request.is_secure() else "http"


def callback_netloc(request: HttpRequest, conf: SSOSettings) -> str:
    """Host (and port) of the callback URI, in the documented order of precedence."""
    if conf.callback_domain:
        return conf.callback_domain
    if apps.is_installed("django.contrib.sites"):
        from django.contrib.sites.models import Site

        try:
            return str(Site.objects.get_current(request).domain)
        except Site.DoesNotExist:
            # Without SITE_ID the site is looked up by the request's host; no match means
            # no site to take the domain from, so the request's host is the answer.
            pass
    return request.get_host()


def build_callback_uri(request: HttpRequest, conf: SSOSettings) -> str:
    """``{scheme}://{netloc}{path}`` where path is this app's mount plus ``callback/``."""
    return f"{request_scheme(request)}://{callback_netloc(request, conf)}{callback_path()}"


def callback_path() -> str:
    """The callback's path where the project mounted ``sso_api.urls`` (trailing slash kept)."""
    return reverse("sso_api:callback")


def front_channel_logout_path() -> str:
    """The front-channel logout page's path, to register in Entra beside the callback."""
    return reverse("sso_api:frontchannel-logout")
