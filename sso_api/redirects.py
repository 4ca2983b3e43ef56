"""Where browsers are sent: the callback URI we register, and the ``next`` URLs we accept.

Both are security decisions. The callback URI must be byte-for-byte what is registered in
Entra (scheme, host, port, path, trailing slash), or Microsoft refuses the sign-in with
AADSTS50011. ``next`` decides where the browser carries a one-time ``sso_code``; an open
redirect there hands that code to whoever controls the target.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.apps import apps
from django.http import HttpRequest
from django.urls import reverse
from django.utils.encoding import iri_to_uri

from sso_api.conf import SSOSettings
from sso_api.exceptions import InvalidNextURL

# Schemes that run code or embed content instead of navigating; refused even if listed.
_DANGEROUS_SCHEMES = frozenset({"javascript", "data", "vbscript", "file", "blob", "about"})
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")
# Browsers resolve dot segments (also percent-encoded) and may decode %2F/%5C, so a path
# carrying them can leave the allow-listed prefix after the check: /spa/../other.
_PATH_ESCAPES = re.compile(r"(^|/)(\.|%2e){1,2}(/|$)|%2f|%5c", re.IGNORECASE)
# Longest next accepted, measured after IRI-to-URI encoding as the redirect will send it.
MAX_NEXT_LENGTH = 2048


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
    return reverse("sso_api:callback")


def front_channel_logout_path() -> str:
    return reverse("sso_api:frontchannel-logout")


def _normalise_prefix(url: str) -> tuple[str, str, str]:
    """(scheme, netloc, path) of an allow-list entry, lower-cased where case does not count."""
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower(), parts.path


def _path_under(path: str, prefix: str) -> bool:
    if not prefix or prefix == "/":
        return True
    prefix = prefix.rstrip("/")
    return path == prefix or path.startswith(prefix + "/")


def validate_next_url(next_url: str, conf: SSOSettings) -> str:
    """Return ``next_url`` if the browser may be sent there with an ``sso_code``.

    Accepted: a relative path on this host (``/app/home?x=1``), or an absolute URL whose
    scheme and host match an entry of ``MICROSOFT_SSO_ALLOWED_REDIRECT_URLS`` and whose path
    lies under that entry's path (on a segment boundary). Refused with
    :class:`InvalidNextURL`: protocol-relative (``//evil``) and backslash tricks
    (``/\\evil``), dot segments and encoded slashes (``/spa/../other``), userinfo
    (``https://good@evil``), control characters and spaces, script-like schemes (even if
    listed), URLs Python cannot parse, and anything not listed.
    """
    if not next_url or _CONTROL_OR_SPACE.search(next_url):
        raise InvalidNextURL("empty, or contains control characters or spaces")
    if len(iri_to_uri(next_url)) > MAX_NEXT_LENGTH:
        raise InvalidNextURL("next is too long")
    if "\\" in next_url:
        raise InvalidNextURL("backslash in next")
    try:
        parts = urlsplit(next_url)
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        raise InvalidNextURL("unparsable next") from exc
    if _PATH_ESCAPES.search(parts.path):
        raise InvalidNextURL("dot segments or encoded slashes in the path")
    if not parts.scheme and not parts.netloc:
        if not next_url.startswith("/") or next_url.startswith("//"):
            raise InvalidNextURL("relative next must be an absolute path")
        return next_url
    scheme = parts.scheme.lower()
    if scheme in _DANGEROUS_SCHEMES or not scheme:
        raise InvalidNextURL("refused scheme")
    if "@" in parts.netloc:
        raise InvalidNextURL("userinfo in next")
    for allowed in conf.allowed_redirect_urls:
        try:
            allowed_scheme, allowed_netloc, allowed_path = _normalise_prefix(allowed)
        except ValueError:
            continue  # sso.E005 reports malformed entries
        if (
            scheme == allowed_scheme
            and parts.netloc.lower() == allowed_netloc
            and _path_under(parts.path, allowed_path)
        ):
            return next_url
    raise InvalidNextURL("next is not under MICROSOFT_SSO_ALLOWED_REDIRECT_URLS")


def add_query_params(url: str, params: dict[str, str]) -> str:
    """``url`` with ``params`` added to its query (before any fragment), others kept."""
    parts = urlsplit(url)
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key not in params
    ]
    query.extend(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))
