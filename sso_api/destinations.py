"""Where a browser may be sent with a one-time ``sso_code``: the ``next`` policy.

``next`` decides where the browser carries the code after sign-in; an open redirect there
hands that code to whoever controls the target. The same rule decides where an error or
the post-logout redirect may send the browser, so it is one function,
:func:`validate_next_url`, used by the flows and by the system checks alike.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
