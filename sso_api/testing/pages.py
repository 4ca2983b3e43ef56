"""The HTML pages of the fake identity platform, and a reader for them.

Pages carry stable hooks for browser tests and for the programmatic browser:

- ``<body data-page="...">`` names the page: ``sign-in``, ``consent``, ``error``,
  ``form-post`` or ``signed-out``;
- the sign-in form is ``#sign-in-form``; each account is a submit button
  ``button[data-email="..."]`` (also ``data-object-id``, ``data-username``,
  ``data-tenant-id``, ``id="user-<object id>"``) showing the account's tenant in its
  ``.tenant`` element, and ``#cancel`` cancels;
- the consent form is ``#consent-form`` with ``#accept`` and ``#decline``;
- the error page's ``#error`` element has ``data-error`` and ``data-error-description``;
- the form_post page's form is ``#response-form``; front-channel logout iframes are
  ``iframe.front-channel-logout``.

The form fields named by :data:`USER_FIELD`, :data:`ACTION_FIELD` and
:data:`CONSENT_FIELD` are the fake's test-only extension of the authorize endpoint:
the page's buttons submit them, and so does ``FakeIdentityPlatform.authorize``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from html.parser import HTMLParser

from .directory import FakeTenant, FakeUser

__all__ = [
    "ACTION_FIELD",
    "CANCEL_ACTION",
    "CONSENT_FIELD",
    "USER_FIELD",
    "PageForm",
    "ParsedPage",
    "consent_page",
    "error_page",
    "form_post_page",
    "parse_page",
    "sign_in_page",
    "signed_out_page",
]

#: Carries the object id of the account chosen on the sign-in page.
USER_FIELD = "fake_idp_user"
#: ``cancel`` here stands for the sign-in page's Cancel button.
ACTION_FIELD = "fake_idp_action"
CANCEL_ACTION = "cancel"
#: ``accept`` or ``decline``, the consent page's answer.
CONSENT_FIELD = "fake_idp_consent"

_STYLE = """
:root { color-scheme: light; font-family: "Segoe UI", system-ui, sans-serif; }
body { margin: 0; min-height: 100vh; display: grid; place-items: center;
  background: #eef1f5; color: #1b1b1b; }
main { width: min(30rem, 92vw); background: #fff; padding: 2rem 2.5rem;
  box-shadow: 0 2px 6px rgba(0,0,0,.2); }
.banner { font-size: .75rem; text-transform: uppercase; letter-spacing: .08em;
  color: #8a1c1c; margin: 0 0 1rem; }
h1 { font-size: 1.5rem; font-weight: 600; margin: 0 0 1rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem .75rem;
  font-size: .85rem; color: #444; }
dd { margin: 0; word-break: break-all; font-family: ui-monospace, monospace; }
ul { list-style: none; padding: 0; margin: 1rem 0; }
button { font: inherit; cursor: pointer; }
.account { width: 100%; text-align: left; display: block; padding: .75rem 1rem;
  margin: 0 0 .5rem; border: 1px solid #c8c8c8; background: #fff; }
.account:hover, .account:focus { background: #f2f6fc; border-color: #0067b8; }
.account strong { display: block; }
.account span { color: #555; font-size: .9rem; }
.account .tenant { display: block; color: #666; font-size: .8rem; margin-top: .15rem; }
.badge { display: inline-block; font-size: .7rem; padding: 0 .4rem; margin-left: .4rem;
  border: 1px solid #999; border-radius: .6rem; color: #333; font-weight: normal; }
.actions { display: flex; gap: .75rem; justify-content: flex-end; margin-top: 1rem; }
.primary { background: #0067b8; color: #fff; border: 0; padding: .5rem 1.5rem; }
.secondary { background: #e6e6e6; border: 0; padding: .5rem 1.5rem; }
.error { color: #8a1c1c; word-break: break-word; }
iframe.front-channel-logout { display: none; }
"""


def _document(title: str, page: str, content: str, head: str = "") -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style>{head}</head>"
        f'<body data-page="{escape(page)}"><main>'
        '<p class="banner">Fake Microsoft identity platform &middot; for tests only</p>'
        f"{content}</main></body></html>\n"
    )


def _hidden_fields(fields: Iterable[tuple[str, str]]) -> str:
    return "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in fields
    )


def _request_summary(client_id: str, redirect_uri: str, directory: str) -> str:
    return (
        "<dl>"
        f'<dt>Application</dt><dd id="client-id">{escape(client_id)}</dd>'
        f'<dt>Redirect URI</dt><dd id="redirect-uri">{escape(redirect_uri)}</dd>'
        f'<dt>Directory</dt><dd id="directory">{escape(directory)}</dd>'
        "</dl>"
    )


def _badges(user: FakeUser, signed_in: bool) -> str:
    badges = []
    if signed_in:
        badges.append("signed in")
    if user.guest:
        badges.append("guest")
    if user.disabled:
        badges.append("disabled")
    if user.email_verified is None:
        badges.append("no xms_edov")
    elif not user.email_verified:
        badges.append("email unverified")
    return "".join(f'<span class="badge">{escape(badge)}</span>' for badge in badges)


def _tenant_label(user: FakeUser, tenants: Mapping[str, FakeTenant]) -> str:
    """``Contoso (contoso.example)``, plus where a guest comes from."""
    tenant = tenants.get(user.tenant_id)
    label = f"{tenant.name} ({tenant.domain})" if tenant is not None else user.tenant_id
    if user.guest and user.home_tenant is not None:
        label += f", guest from {user.home_tenant.name}"
    return label


def _account_button(user: FakeUser, signed_in: bool, tenants: Mapping[str, FakeTenant]) -> str:
    attributes = {
        "type": "submit",
        "class": "account",
        "id": f"user-{user.object_id}",
        "name": USER_FIELD,
        "value": user.object_id,
        "data-object-id": user.object_id,
        "data-email": user.email or "",
        "data-username": user.preferred_username,
        "data-tenant-id": user.tenant_id,
    }
    rendered = " ".join(f'{name}="{escape(value)}"' for name, value in attributes.items())
    return (
        f"<button {rendered}><strong>{escape(user.name)}{_badges(user, signed_in)}</strong>"
        f"<span>{escape(user.preferred_username)}</span>"
        f'<small class="tenant">{escape(_tenant_label(user, tenants))}</small></button>'
    )


def sign_in_page(
    *,
    action: str,
    hidden_fields: Iterable[tuple[str, str]],
    users: Sequence[FakeUser],
    tenants: Mapping[str, FakeTenant],
    client_id: str,
    redirect_uri: str,
    directory: str,
    signed_in_object_id: str | None = None,
) -> str:
    """The account picker: one submit button per user, plus Cancel.

    Every button posts the form to ``action`` with ``hidden_fields`` (the original
    authorize parameters) and its own :data:`USER_FIELD` value, and names the user's
    tenant, looked up by id in ``tenants``.
    """
    accounts = "".join(
        f"<li>{_account_button(user, user.object_id == signed_in_object_id, tenants)}</li>"
        for user in users
    )
    if not users:
        accounts = '<li id="no-accounts">No account can sign in here.</li>'
    content = (
        "<h1>Pick an account</h1>"
        f"{_request_summary(client_id, redirect_uri, directory)}"
        f'<form id="sign-in-form" method="post" action="{escape(action)}">'
        f"{_hidden_fields(hidden_fields)}"
        f'<ul id="accounts">{accounts}</ul>'
        '<div class="actions">'
        f'<button type="submit" class="secondary" id="cancel" name="{ACTION_FIELD}" '
        f'value="{CANCEL_ACTION}">Cancel</button>'
        "</div></form>"
    )
    return _document("Sign in to your account", "sign-in", content)


def consent_page(
    *,
    action: str,
    hidden_fields: Iterable[tuple[str, str]],
    user: FakeUser,
    client_id: str,
    redirect_uri: str,
    scopes: Sequence[str],
) -> str:
    """The "Permissions requested" page; Accept and Cancel post :data:`CONSENT_FIELD`."""
    permissions = "".join(f"<li>{escape(scope)}</li>" for scope in scopes)
    content = (
        "<h1>Permissions requested</h1>"
        '<p>Signed in as <strong id="consent-user">'
        f"{escape(user.preferred_username)}</strong></p>"
        f"{_request_summary(client_id, redirect_uri, user.tenant_id)}"
        f'<ul id="permissions">{permissions}</ul>'
        f'<form id="consent-form" method="post" action="{escape(action)}">'
        f"{_hidden_fields(hidden_fields)}"
        '<div class="actions">'
        f'<button type="submit" class="secondary" id="decline" name="{CONSENT_FIELD}" '
        'value="decline">Cancel</button>'
        f'<button type="submit" class="primary" id="accept" name="{CONSENT_FIELD}" '
        'value="accept">Accept</button>'
        "</div></form>"
    )
    return _document("Permissions requested", "consent", content)


def error_page(*, error: str, description: str) -> str:
    """The page Entra shows when it cannot send the answer back to the app."""
    content = (
        "<h1>Sorry, but we are having trouble signing you in.</h1>"
        f'<p id="error" class="error" data-error="{escape(error)}" '
        f'data-error-description="{escape(description)}">{escape(description)}</p>'
    )
    return _document("Sign in error", "error", content)


def form_post_page(*, redirect_uri: str, fields: Iterable[tuple[str, str]]) -> str:
    """The response_mode=form_post page: a form that posts itself to the redirect URI."""
    content = (
        "<h1>Signing you in&hellip;</h1>"
        f'<form id="response-form" method="post" action="{escape(redirect_uri)}">'
        f"{_hidden_fields(fields)}"
        '<noscript><button type="submit" class="primary">Continue</button></noscript>'
        "</form>"
        "<script>document.getElementById('response-form').submit();</script>"
    )
    return _document("Working...", "form-post", content)


def signed_out_page(*, front_channel_urls: Sequence[str], continue_url: str | None) -> str:
    """The end-session page: front-channel logout iframes, then on to ``continue_url``.

    Navigation waits until every iframe has loaded (or three seconds have passed), so
    each app gets its chance to forget the session first.
    """
    frames = "".join(
        f'<iframe class="front-channel-logout" src="{escape(url)}" title="logout"></iframe>'
        for url in front_channel_urls
    )
    if continue_url is None:
        follow, head = "", ""
    else:
        follow = (
            f'<p><a id="continue" href="{escape(continue_url)}">Continue</a></p>'
            "<script>(function () {"
            "var frames = document.querySelectorAll('iframe.front-channel-logout');"
            "var pending = frames.length;"
            f"var go = function () {{ window.location.replace({_js_string(continue_url)}); }};"
            "if (!pending) { go(); return; }"
            "frames.forEach(function (frame) {"
            " frame.addEventListener('load', function () { if (--pending === 0) { go(); } }); });"
            "setTimeout(go, 3000);"
            "})();</script>"
        )
        refresh = f'<meta http-equiv="refresh" content="1;url={escape(continue_url)}">'
        head = f"<noscript>{refresh}</noscript>"
    content = f"<h1>You signed out of your account</h1>{frames}{follow}"
    return _document("Signed out", "signed-out", content, head)


def _js_string(value: str) -> str:
    # JSON string syntax is valid JavaScript; escaping "<" as well keeps a value like
    # "</script>" from closing the script element early.
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e")


@dataclass
class PageForm:
    """A form of a page: where it posts and its hidden fields, in document order."""

    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ParsedPage:
    """What :func:`parse_page` found: the page name, error details and the forms by id."""

    page: str | None = None
    error: str | None = None
    error_description: str | None = None
    forms: dict[str, PageForm] = field(default_factory=dict)


class _PageReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.result = ParsedPage()
        self._form: PageForm | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "body":
            self.result.page = attributes.get("data-page")
        elif tag == "form":
            self._form = PageForm(
                action=attributes.get("action", ""), method=attributes.get("method", "get").lower()
            )
            self.result.forms[attributes.get("id", "")] = self._form
        elif tag == "input" and self._form is not None and attributes.get("type") == "hidden":
            self._form.fields.append((attributes.get("name", ""), attributes.get("value", "")))
        elif attributes.get("id") == "error":
            self.result.error = attributes.get("data-error")
            self.result.error_description = attributes.get("data-error-description")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


def parse_page(html: str) -> ParsedPage:
    """Read the hooks listed in the module docstring out of one of these pages."""
    reader = _PageReader()
    reader.feed(html)
    reader.close()
    return reader.result
