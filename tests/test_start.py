"""``/start/``: parameters, the flow it stores, and the ``next`` URLs it accepts."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.core.cache import cache

from sso_api.store import FLOW_PREFIX
from sso_api.testing.client import Pkce, SignInDriver

pytestmark = pytest.mark.django_db


def params_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def test_start_answers_the_authorization_url_as_json(browser: SignInDriver) -> None:
    pkce = Pkce.new()
    response = browser.start(pkce=pkce, next="/app/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"authorization_url", "state", "expires_in"}
    assert body["expires_in"] == 600
    sent = params_of(body["authorization_url"])
    assert sent["state"] == body["state"]
    assert sent["redirect_uri"] == "http://testserver/api/sso/callback/"
    assert sent["response_type"] == "code"
    # msal's own PKCE towards Microsoft (not the client's challenge) and a nonce.
    assert sent["code_challenge_method"] == "S256"
    assert sent["code_challenge"] != pkce.challenge
    assert len(sent["nonce"]) >= 32
    assert "openid" in sent["scope"].split()


def test_every_flow_gets_a_fresh_unguessable_state(browser: SignInDriver) -> None:
    states = {browser.start(next="/").json()["state"] for _ in range(20)}
    assert len(states) == 20
    # 32 random bytes in base64url: 256 bits, above the 128 required.
    assert all(len(state) >= 43 for state in states)


def test_the_flow_is_stored_under_a_hash_of_the_state_with_the_flow_lifetime(
    browser: SignInDriver, sso: Any
) -> None:
    sso.MICROSOFT_SSO_TIMEOUT = 3
    body = browser.start(next="/").json()
    assert body["expires_in"] == 180
    assert cache.get(FLOW_PREFIX + body["state"]) is None
    stored = cache.get(FLOW_PREFIX + hashlib.sha256(body["state"].encode()).hexdigest())
    assert stored["next"] == "/"


def test_a_stored_flow_keeps_what_the_callback_needs_and_not_the_url(
    browser: SignInDriver,
) -> None:
    # The authorization URL is half of a flow's size; every pending sign-in pays for it.
    body = browser.start(next="/").json()
    stored = cache.get(FLOW_PREFIX + hashlib.sha256(body["state"].encode()).hexdigest())
    assert "auth_uri" not in stored["msal_flow"]
    assert {"state", "redirect_uri", "scope", "code_verifier", "nonce"} <= set(stored["msal_flow"])


def test_start_accepts_get_with_a_query_string(browser: SignInDriver) -> None:
    pkce = Pkce.new()
    response = browser.client.get(
        "/api/sso/start/",
        {"next": "/x/", "code_challenge": pkce.challenge, "code_challenge_method": "S256"},
    )
    assert response.status_code == 200


def test_start_accepts_a_form_body(browser: SignInDriver) -> None:
    pkce = Pkce.new()
    response = browser.client.post(
        "/api/sso/start/",
        urlencode(
            {"next": "/x/", "code_challenge": pkce.challenge, "code_challenge_method": "S256"}
        ),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200


def test_redirect_true_answers_a_302_to_microsoft(
    browser: SignInDriver, identity_platform: Any
) -> None:
    response = browser.start(next="/", redirect=True)
    assert response.status_code == 302
    assert response["Location"].startswith(identity_platform.base_url)


def test_hints_and_prompt_are_passed_to_microsoft(browser: SignInDriver) -> None:
    url = browser.start(
        next="/", login_hint="ada@contoso.example", domain_hint="contoso.example", prompt="login"
    ).json()["authorization_url"]
    sent = params_of(url)
    assert sent["login_hint"] == "ada@contoso.example"
    assert sent["domain_hint"] == "contoso.example"
    assert sent["prompt"] == "login"


def test_an_unknown_prompt_is_refused(browser: SignInDriver) -> None:
    response = browser.start(next="/", prompt="everything")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert "prompt" in response.json()["fields"]


@pytest.mark.parametrize(
    ("challenge", "method", "code"),
    [
        (None, None, "code_challenge_required"),
        ("x" * 43, "plain", "invalid_code_challenge"),
        ("x" * 42, "S256", "invalid_code_challenge"),
        ("+" * 43, "S256", "invalid_code_challenge"),
        (None, "S256", "invalid_code_challenge"),
    ],
)
def test_the_client_pkce_challenge_is_required_and_checked(
    browser: SignInDriver, challenge: str | None, method: str | None, code: str
) -> None:
    body: dict[str, Any] = {"next": "/"}
    if challenge is not None:
        body["code_challenge"] = challenge
    if method is not None:
        body["code_challenge_method"] = method
    response = browser.client.post("/api/sso/start/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == code


@pytest.mark.parametrize(
    "next_url",
    [
        "/",
        "/app/home?tab=1#section",
        "https://spa.example.com",
        "https://spa.example.com/callback?x=1",
        "HTTPS://SPA.EXAMPLE.COM/x",
        "myapp://auth",
        "myapp://auth/done",
    ],
)
def test_allowed_next_urls_are_accepted(browser: SignInDriver, next_url: str) -> None:
    assert browser.start(next=next_url).status_code == 200


@pytest.mark.parametrize(
    "next_url",
    [
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example/",
        "https://spa.example.com.evil.example/",
        "https://spa.example.com@evil.example/",
        "https://user:pass@spa.example.com/",
        "http://spa.example.com/",
        "https://spa.example.com:8443/",
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "myapp://authx",
        "myapp://evil",
        "otherapp://auth",
        "relative/path",
        "/\t/evil.example",
        "/ok\r\nSet-Cookie: x=1",
    ],
)
def test_dangerous_next_urls_are_refused_at_start(browser: SignInDriver, next_url: str) -> None:
    response = browser.start(next=next_url)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_next_url"


def test_a_prefix_entry_allows_only_paths_under_it(browser: SignInDriver, sso: Any) -> None:
    sso.MICROSOFT_SSO_ALLOWED_REDIRECT_URLS = ["https://apps.example.com/spa"]
    assert browser.start(next="https://apps.example.com/spa/home").status_code == 200
    assert browser.start(next="https://apps.example.com/spa").status_code == 200
    assert browser.start(next="https://apps.example.com/spam").status_code == 400
    assert browser.start(next="https://apps.example.com/other").status_code == 400


def test_next_defaults_to_the_next_url_setting(browser: SignInDriver, sso: Any) -> None:
    sso.MICROSOFT_SSO_NEXT_URL = "/welcome/"
    state = browser.start().json()["state"]
    stored = cache.get(FLOW_PREFIX + hashlib.sha256(state.encode()).hexdigest())
    assert stored["next"] == "/welcome/"


def test_a_disabled_app_refuses_to_start(browser: SignInDriver, sso: Any) -> None:
    sso.MICROSOFT_SSO_ENABLED = False
    response = browser.start(next="/")
    assert response.status_code == 403
    assert response.json()["code"] == "sso_disabled"


def test_an_unconfigured_app_says_so(browser: SignInDriver, sso: Any) -> None:
    sso.MICROSOFT_SSO_CLIENT_SECRET = ""
    response = browser.start(next="/")
    assert response.status_code == 503
    assert response.json()["code"] == "sso_not_configured"


def test_settings_may_be_callables_taking_the_request(browser: SignInDriver, sso: Any) -> None:
    seen: list[Any] = []

    def next_url_for(request: Any) -> str:
        seen.append(request)
        return "/from-callable/"

    sso.MICROSOFT_SSO_NEXT_URL = next_url_for
    state = browser.start().json()["state"]
    stored = cache.get(FLOW_PREFIX + hashlib.sha256(state.encode()).hexdigest())
    assert stored["next"] == "/from-callable/"
    assert seen
    assert seen[0].path == "/api/sso/start/"


@pytest.mark.parametrize(
    "next_url",
    [
        "https://apps.example.com/spa/../other",
        "https://apps.example.com/spa/%2e%2e/other",
        "https://apps.example.com/spa/%2E./other",
        "https://apps.example.com/spa/./x",
        "https://apps.example.com/spa%2fx",
        "https://apps.example.com/spa/%5cother",
    ],
)
def test_dot_segments_and_encoded_slashes_cannot_leave_a_prefix(
    browser: SignInDriver, sso: Any, next_url: str
) -> None:
    sso.MICROSOFT_SSO_ALLOWED_REDIRECT_URLS = ["https://apps.example.com/spa"]
    response = browser.start(next=next_url)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_next_url"


@pytest.mark.parametrize(
    "next_url",
    ["https://[", "myapp://[x", "https://spa.example.com\uff03x", "/" + "\U0001f600" * 600],
    ids=["open-bracket", "custom-scheme-bracket", "fullwidth-hash", "long-after-encoding"],
)
def test_unparsable_or_overlong_next_urls_are_refused_not_crashed(
    browser: SignInDriver, next_url: str
) -> None:
    response = browser.start(next=next_url)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_next_url"


def test_script_schemes_are_refused_even_when_listed(browser: SignInDriver, sso: Any) -> None:
    sso.MICROSOFT_SSO_ALLOWED_REDIRECT_URLS = ["javascript://x", "data://x"]
    assert browser.start(next="javascript://x/%0aalert(1)").status_code == 400
    assert browser.start(next="data://x/y").status_code == 400
