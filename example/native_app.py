"""A native app's sign-in through the system browser, played step by step against the API.

    .venv/bin/python example/native_app.py [--api http://127.0.0.1:8000] [--account EMAIL]

It does what a mobile app does (docs/mobile.md): makes a PKCE pair, has the browser open
``/start/?redirect=true&next=myapp://auth``, receives the ``myapp://auth?sso_code=...``
hand-off, redeems it at ``/token/`` with its verifier, reads ``/me/``, refreshes, signs out
with ``next=myapp://auth/signed-out``, and checks that the refresh token is dead.

The browser is played in one of two ways:

* against the demo's fake identity platform, named in the demo's state file
  (``.demo/demo.json``, written by ``example/run_demo.py``): over HTTP, as a person would,
  picking the account ``--account`` (default ``ada@contoso.example``) on its sign-in page;
* otherwise (the demo against the real Microsoft Entra ID, another API, or ``--manual``) by
  you: the script prints Microsoft's address to open and reads back the ``myapp://auth?...``
  address the browser was sent to.

One line per step on standard output, and never a whole token or code: a prefix at most.
Exit status 0 when every step succeeded, 1 when one failed (the last line says which and
why), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_API = "http://127.0.0.1:8000"
DEFAULT_MOUNT = "/api/sso/"
DEFAULT_STATE_FILE = ROOT / ".demo" / "demo.json"
DEFAULT_APP_URL = "myapp://auth"
DEFAULT_DEMO_ACCOUNT = "ada@contoso.example"
TIMEOUT_SECONDS = 10.0


class StepFailed(Exception):
    """A step did not succeed. The message names the step and the reason, never a secret."""


def say(step: str, text: str) -> None:
    print(f"{step}: {text}", flush=True)


def prefix(secret: str) -> str:
    """Enough of a token or code to tell two apart in a log, too little to use."""
    return secret[:10] + "..."


def without_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def api_error(response: requests.Response) -> str:
    """``HTTP 400 invalid_next_url``: the status and the API's stable error code."""
    try:
        body = response.json()
    except ValueError:
        body = None
    code = body.get("code") if isinstance(body, dict) else None
    return f"HTTP {response.status_code} {code or '(no error code)'}"


def base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Pkce:
    """The app's PKCE pair (RFC 7636). The verifier stays in memory for this one sign-in."""

    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        # 32 random bytes make a 43-character verifier (RFC 7636, section 4.1); the
        # challenge is base64url(SHA-256(verifier)) without padding (method S256).
        verifier = base64url(secrets.token_bytes(32))
        return cls(verifier, base64url(hashlib.sha256(verifier.encode("ascii")).digest()))


class SystemBrowser(Protocol):
    """What ASWebAuthenticationSession or a Custom Tab / Auth Tab does for the app."""

    def authenticate(self, authorization_url: str, app_url: str) -> str:
        """Sign in at ``authorization_url``; return the address under ``app_url`` that the
        browser was finally sent to (the callback's redirect), query included."""
        ...


class FakePlatformBrowser:
    """A person at a browser, signing in at the fake identity platform as ``account``.

    The sign-in pages are walked by ``sso_api.testing``'s programmatic browser (the one the
    project's tests use); the answer is then delivered to the API's callback as a browser
    would (GET, or POST for form_post), and the callback's redirect is not followed: that
    is where the operating system would hand the address to the app.
    """

    def __init__(self, account: dict[str, Any], ca_bundle: str | None) -> None:
        self.account = account
        self.ca_bundle = ca_bundle

    def authenticate(self, authorization_url: str, app_url: str) -> str:
        # Imported here: only this stand-in for a person needs the project's test tools;
        # the app's own steps need nothing but requests.
        from sso_api.testing.browser import AuthorizationRejected, drive_authorization

        if urlsplit(authorization_url).scheme == "https" and not self.ca_bundle:
            raise StepFailed(
                "browser: the identity platform uses HTTPS and no CA bundle is known "
                "(give --ca-bundle, or --state with the demo's state file)"
            )
        try:
            answer = drive_authorization(
                authorization_url,
                # Ignored for a platform on plain HTTP.
                ca_bundle=self.ca_bundle or "",
                user_object_id=str(self.account["object_id"]),
            )
        except AuthorizationRejected as exc:
            raise StepFailed(f"browser: the identity platform refused: {exc.error}") from exc
        say("browser", f"signed in as {self.account['email']} at the fake identity platform")
        with requests.Session() as browser:
            if answer.method == "POST":
                back = browser.post(
                    answer.redirect_uri,
                    data=answer.params,
                    allow_redirects=False,
                    timeout=TIMEOUT_SECONDS,
                )
            else:
                back = browser.get(answer.url, allow_redirects=False, timeout=TIMEOUT_SECONDS)
        if not back.is_redirect:
            raise StepFailed(f"callback: no redirect but {api_error(back)}")
        handoff = str(back.headers["Location"])
        say("callback", f"{back.status_code} to {without_query(handoff)}")
        return handoff


class PersonAtBrowser:
    """You at a real browser: open the address, sign in, paste back where it ended."""

    def authenticate(self, authorization_url: str, app_url: str) -> str:
        say("browser", "open this address in a browser and sign in:")
        print(f"    {authorization_url}", flush=True)
        say(
            "browser",
            f"the browser then tries to open {app_url}?sso_code=... and cannot; paste that "
            "address here (the address bar or the developer tools' network panel shows it):",
        )
        line = sys.stdin.readline().strip()
        if not line:
            raise StepFailed("browser: no address was pasted")
        return line


class NativeApp:
    """The app's side of the flow: everything it sends and keeps, against ``api``."""

    def __init__(self, api: str, mount: str, app_url: str) -> None:
        self.endpoints = api.rstrip("/") + "/" + mount.strip("/") + "/"
        self.app_url = app_url.rstrip("/")
        self.http = requests.Session()

    def post(self, path: str, body: dict[str, str]) -> requests.Response:
        return self.http.post(self.endpoints + path, json=body, timeout=TIMEOUT_SECONDS)

    def run(self, browser: SystemBrowser, login_hint: str | None = None) -> None:
        """Sign in, call the API, refresh, sign out; raises :class:`StepFailed`."""
        pkce = Pkce.new()
        say("pkce", f"challenge {prefix(pkce.challenge)} (the verifier stays in memory)")

        # What the system browser opens first. It follows the 302 to Microsoft by itself;
        # here the redirect is read, to show where it goes.
        query = {
            "redirect": "true",
            "next": self.app_url,
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
        }
        if login_hint:
            query["login_hint"] = login_hint
        start_url = f"{self.endpoints}start/?{urlencode(query)}"
        started = self.http.get(start_url, allow_redirects=False, timeout=TIMEOUT_SECONDS)
        if started.status_code != 302:
            hint = (
                f"; the API must list {self.app_url} in MICROSOFT_SSO_ALLOWED_REDIRECT_URLS"
                if started.status_code == 400 and "invalid_next_url" in api_error(started)
                else ""
            )
            raise StepFailed(f"start: refused with {api_error(started)}{hint}")
        authorization_url = str(started.headers["Location"])
        say("start", f"302 to {without_query(authorization_url)}")

        handoff = browser.authenticate(authorization_url, self.app_url)
        sso_code = self.read_handoff(handoff)

        redeemed = self.post("token/", {"sso_code": sso_code, "code_verifier": pkce.verifier})
        if redeemed.status_code != 200:
            raise StepFailed(f"token: refused with {api_error(redeemed)}")
        tokens = redeemed.json()
        # A real app keeps the access token in memory and the refresh token in the
        # Keychain or in Keystore-backed storage; the verifier is of no use any more.
        say(
            "token",
            f"access {prefix(tokens['access'])} (expires in {tokens['expires_in']} s), "
            f"refresh {prefix(tokens['refresh'])}, user {tokens['user']['username']}",
        )

        me = self.http.get(
            self.endpoints + "me/",
            headers={"Authorization": f"Bearer {tokens['access']}"},
            timeout=TIMEOUT_SECONDS,
        )
        if me.status_code != 200:
            raise StepFailed(f"me: refused with {api_error(me)}")
        user = me.json()
        say("me", f"{user['username']} (tenant {user['tenant_id']}, object {user['object_id']})")

        refreshed = self.post("token/refresh/", {"refresh": tokens["refresh"]})
        if refreshed.status_code != 200:
            raise StepFailed(f"refresh: refused with {api_error(refreshed)}")
        # Rotation: only the newest refresh token is kept; the one presented is spent.
        refresh_token = str(refreshed.json()["refresh"])
        say(
            "refresh",
            f"new access {prefix(refreshed.json()['access'])}, "
            f"new refresh {prefix(refresh_token)} (the one presented is spent)",
        )

        signed_out_url = f"{self.app_url}/signed-out"
        logout = self.post("logout/", {"refresh": refresh_token, "next": signed_out_url})
        if logout.status_code != 200:
            raise StepFailed(f"logout: refused with {api_error(logout)}")
        logout_url = logout.json()["logout_url"]
        if logout_url is None:
            say("logout", "session revoked; no Microsoft sign-out to open (single logout off)")
        else:
            returns_to = parse_qs(urlsplit(logout_url).query).get("post_logout_redirect_uri")
            say(
                "logout",
                f"session revoked; open {without_query(logout_url)} in the browser, which "
                f"returns to {returns_to[0] if returns_to else '(nowhere named)'}",
            )

        after = self.post("token/refresh/", {"refresh": refresh_token})
        if after.status_code != 401:
            raise StepFailed(f"after logout: the refresh token still works ({api_error(after)})")
        say("after logout", f"refresh refused with {api_error(after)}")

    def read_handoff(self, handoff: str) -> str:
        """The ``sso_code`` of the address the browser was sent to; raises :class:`StepFailed`
        for an address that is not the app's, or that carries ``sso_error``."""
        parts, expected = urlsplit(handoff), urlsplit(self.app_url)
        if (parts.scheme, parts.netloc, parts.path.rstrip("/")) != (
            expected.scheme,
            expected.netloc,
            expected.path.rstrip("/"),
        ):
            raise StepFailed(f"hand-off: went to {without_query(handoff)}, not to {self.app_url}")
        answer = {name: values[0] for name, values in parse_qs(parts.query).items()}
        if "sso_error" in answer:
            say("hand-off", f"{self.app_url}?sso_error={answer['sso_error']}")
            raise StepFailed(
                f"hand-off: sign-in refused with {answer['sso_error']}: "
                f"{answer.get('sso_error_description', '')}"
            )
        if "sso_code" not in answer:
            raise StepFailed("hand-off: neither sso_code nor sso_error in the address")
        say("hand-off", f"{self.app_url}?sso_code={prefix(answer['sso_code'])}")
        return answer["sso_code"]


def read_state(path: Path) -> dict[str, Any] | None:
    """The demo's state file, or None when there is none (the demo is not running)."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StepFailed(f"state: cannot read {path}: {exc}") from exc
    return state if isinstance(state, dict) else None


def demo_account(platform: dict[str, Any], email: str) -> dict[str, Any]:
    """The demo user with ``email``: a member before a guest of the same address."""
    matches = [
        user
        for user in platform.get("users", [])
        if (user.get("email") or "").lower() == email.lower()
    ]
    if not matches:
        known = ", ".join(sorted({str(u["email"]) for u in platform.get("users", [])}))
        raise StepFailed(f"browser: no demo account {email}; the demo has {known}")
    return dict(sorted(matches, key=lambda user: bool(user.get("guest")))[0])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Play a native app's sign-in through the system browser against the API."
    )
    parser.add_argument("--api", help=f"the API's origin (default: the demo's, else {DEFAULT_API})")
    parser.add_argument("--mount", default=DEFAULT_MOUNT, help="where sso_api.urls is mounted")
    parser.add_argument(
        "--account",
        help=f"sign in as this email (default at the demo's fake: {DEFAULT_DEMO_ACCOUNT}; "
        "otherwise passed to Microsoft as login_hint)",
    )
    parser.add_argument(
        "--app-url",
        default=DEFAULT_APP_URL,
        help="the app's return address; the API must allow it in "
        "MICROSOFT_SSO_ALLOWED_REDIRECT_URLS",
    )
    parser.add_argument(
        "--state",
        type=Path,
        default=DEFAULT_STATE_FILE,
        help="the demo's state file, naming the fake identity platform and its accounts",
    )
    parser.add_argument(
        "--ca-bundle",
        help="the fake identity platform's CA, if its sign-in pages are served over HTTPS",
    )
    parser.add_argument(
        "--manual",
        action="store_true",
        help="play the browser yourself, even when the demo's fake identity platform runs",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        state = read_state(arguments.state)
        # The state file describes one running demo; it only counts for that demo's API.
        if state is not None and arguments.api not in (None, state.get("api")):
            state = None
        api = arguments.api or (state or {}).get("api") or DEFAULT_API
        platform = (state or {}).get("identity_platform")
        browser: SystemBrowser
        if platform and not arguments.manual:
            account = demo_account(platform, arguments.account or DEFAULT_DEMO_ACCOUNT)
            browser = FakePlatformBrowser(account, arguments.ca_bundle or platform.get("ca_bundle"))
            login_hint = None
        else:
            browser = PersonAtBrowser()
            login_hint = arguments.account
        if not re.fullmatch(r"[a-z][a-z0-9+.-]*://.+", arguments.app_url):
            raise StepFailed(f"arguments: --app-url {arguments.app_url} is not an absolute URL")
        app = NativeApp(api, arguments.mount, arguments.app_url)
        say("api", app.endpoints)
        app.run(browser, login_hint)
    except StepFailed as exc:
        print(f"FAILED {exc}", flush=True)
        return 1
    except requests.RequestException as exc:
        # The exception's text may hold a URL with a code in it; its class says enough.
        print(f"FAILED network: {type(exc).__name__} (is the API running?)", flush=True)
        return 1
    say("done", "signed in, called the API, refreshed and signed out")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
