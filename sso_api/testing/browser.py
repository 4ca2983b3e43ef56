"""The browser leg of a sign-in, driven programmatically over HTTPS.

It behaves like a person at a browser: opens the authorization URL, clicks the chosen
account on the sign-in page (or Cancel), answers the consent page if one appears, and
stops where the browser would leave the identity platform: at the redirect to the
app, or at the self-submitting form_post page. It returns how the answer would reach
the app instead of delivering it, so a test hands it to its own client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, urljoin, urlsplit, urlunsplit

import requests

from .pages import ACTION_FIELD, CANCEL_ACTION, CONSENT_FIELD, USER_FIELD, parse_page

__all__ = ["AuthorizationRejected", "AuthorizationResponse", "drive_authorization"]

# Sign-in page, consent page, and the answer: never more steps than this.
_MAX_STEPS = 4


@dataclass(frozen=True)
class AuthorizationResponse:
    """How the browser would deliver the authorization response to the redirect URI.

    - response_mode ``query``: ``method="GET"``, ``url`` is the full redirect URL with
      the query (``fragment``: with the fragment);
    - response_mode ``form_post``: ``method="POST"``, ``url`` is the redirect URI and
      ``params`` are the form fields to post.

    ``params`` holds ``code``, ``state``, ``session_state`` (and ``client_info`` when
    asked for) on success; ``error``, ``error_description`` and ``state`` on failure.
    It is shaped for ``msal``'s ``acquire_token_by_auth_code_flow(flow, params)``.
    """

    method: Literal["GET", "POST"]
    redirect_uri: str
    params: dict[str, str]
    url: str


class AuthorizationRejected(Exception):
    """The platform refused the authorization request with an error page.

    Entra does this, instead of redirecting, when it cannot trust the redirect URI or
    the request is malformed: unknown tenant or client, unregistered redirect URI,
    missing PKCE, wrong response_type, and so on. ``error`` is the OAuth error code and
    ``description`` starts with the AADSTS code, e.g. ``"AADSTS50011: ..."``.
    """

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


def drive_authorization(
    authorization_url: str,
    *,
    ca_bundle: str,
    user_object_id: str | None,
    cancel: bool = False,
    consent: bool = True,
    timeout: float = 10.0,
) -> AuthorizationResponse:
    """Walk through the platform's pages for ``authorization_url``; see the module doc.

    Picks the account with ``user_object_id`` (or presses Cancel when ``cancel``), and
    accepts a consent page when ``consent`` (declines it otherwise). Cookies are not
    kept between calls, so each call is a fresh sign-in.

    Raises :class:`AuthorizationRejected` for an error page, ``ValueError`` when
    neither a user nor ``cancel`` is given, and ``RuntimeError`` when the platform
    answers with something no browser flow would produce.
    """
    if user_object_id is None and not cancel:
        raise ValueError("choose a user, or cancel=True")
    with requests.Session() as session:
        # No proxies, netrc or REQUESTS_CA_BUNDLE from the environment: the platform is
        # on loopback and is trusted through its own CA only.
        session.trust_env = False
        response = session.get(
            authorization_url, allow_redirects=False, verify=ca_bundle, timeout=timeout
        )
        for _ in range(_MAX_STEPS):
            if response.is_redirect:
                return _redirected(response.headers["Location"])
            parsed = parse_page(response.text)
            if parsed.page == "error":
                raise AuthorizationRejected(
                    parsed.error or "unknown", parsed.error_description or ""
                )
            if parsed.page == "form-post" and "response-form" in parsed.forms:
                form = parsed.forms["response-form"]
                return AuthorizationResponse(
                    method="POST",
                    redirect_uri=form.action,
                    params=dict(form.fields),
                    url=form.action,
                )
            if parsed.page == "sign-in" and "sign-in-form" in parsed.forms:
                form = parsed.forms["sign-in-form"]
                choice = (
                    (ACTION_FIELD, CANCEL_ACTION) if cancel else (USER_FIELD, user_object_id or "")
                )
            elif parsed.page == "consent" and "consent-form" in parsed.forms:
                form = parsed.forms["consent-form"]
                choice = (CONSENT_FIELD, "accept" if consent else "decline")
            else:
                raise RuntimeError(
                    f"unexpected answer from the platform: HTTP {response.status_code}"
                )
            response = session.post(
                urljoin(response.url, form.action),
                data=[*form.fields, choice],
                allow_redirects=False,
                verify=ca_bundle,
                timeout=timeout,
            )
    raise RuntimeError("the platform kept showing pages; no answer for the app")


def _redirected(location: str) -> AuthorizationResponse:
    parts = urlsplit(location)
    # The answer rides in the fragment for response_mode=fragment, else in the query.
    if parts.fragment:
        redirect_uri, answer = location.split("#", 1)[0], parts.fragment
    else:
        redirect_uri, answer = (
            urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")),
            parts.query,
        )
    return AuthorizationResponse(
        method="GET",
        redirect_uri=redirect_uri,
        params=dict(parse_qsl(answer, keep_blank_values=True)),
        url=location,
    )
