"""A whole sign-in, in both response modes, and what the callback does with bad answers."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client

from sso_api.models import MicrosoftIdentity, RefreshSession
from sso_api.testing import FakeIdentityPlatform, FakeUser
from sso_api.testing.client import Pkce, SignInDriver

pytestmark = pytest.mark.django_db


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


@pytest.mark.parametrize("secure_callback", [False, True], ids=["query", "form_post"])
def test_full_sign_in_issues_tokens_for_the_user(
    browser: SignInDriver, ada: FakeUser, sso: Any, secure_callback: bool
) -> None:
    sso.MICROSOFT_SSO_REQUIRE_SECURE_CALLBACK = secure_callback

    attempt = browser.sign_in(ada, next="/app/home?tab=1#top")

    assert attempt.callback.status_code == 302
    assert attempt.location.startswith("/app/home?")
    assert attempt.location.endswith("#top")
    assert attempt.query["tab"] == "1"
    response = browser.redeem(attempt.sso_code, attempt.pkce.verifier)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] > 0
    assert body["user"] == {
        "id": body["user"]["id"],
        "username": "ada@contoso.example",
        "email": "ada@contoso.example",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "tenant_id": ada.tenant_id,
        "object_id": ada.object_id,
        "roles": list(ada.roles),
        "groups": [],
    }
    me = browser.client.get("/api/sso/me/", HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert me.status_code == 200
    assert me.json() == body["user"]


def test_form_post_mode_asks_microsoft_to_post(browser: SignInDriver, sso: Any) -> None:
    sso.MICROSOFT_SSO_REQUIRE_SECURE_CALLBACK = True
    url = browser.start(next="/").json()["authorization_url"]
    assert query_of(url)["response_mode"] == ["form_post"]


def test_query_mode_asks_microsoft_for_a_query(browser: SignInDriver) -> None:
    url = browser.start(next="/").json()["authorization_url"]
    assert query_of(url).get("response_mode", ["query"]) == ["query"]


@pytest.mark.parametrize(
    ("flow_is_secure", "delivered_as"),
    [(True, "GET"), (False, "POST")],
    ids=["form_post-flow-answered-by-GET", "query-flow-answered-by-POST"],
)
def test_callback_in_the_wrong_response_mode_is_refused(
    browser: SignInDriver,
    ada: FakeUser,
    identity_platform: FakeIdentityPlatform,
    sso: Any,
    flow_is_secure: bool,
    delivered_as: str,
) -> None:
    sso.MICROSOFT_SSO_REQUIRE_SECURE_CALLBACK = flow_is_secure
    started = browser.start(next="/app/").json()
    answer = identity_platform.authorize(started["authorization_url"], user=ada)
    path = urlsplit(answer.redirect_uri).path
    if delivered_as == "GET":
        response = browser.client.get(path, answer.params)
    else:
        response = browser.client.post(
            path, urlencode(answer.params), content_type="application/x-www-form-urlencoded"
        )
    assert response.status_code == 302
    assert response["Location"].startswith("/login-failed/?")
    assert query_of(response["Location"])["sso_error"] == ["response_mode_mismatch"]
    assert not get_user_model().objects.exists()
    # The stray request did not use the sign-in up: the right delivery still completes it.
    assert "sso_code" in query_of(browser.deliver(answer)["Location"])


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "PUT", "DELETE", "PATCH", "TRACE"])
@pytest.mark.parametrize("secure_callback", [False, True], ids=["query", "form_post"])
def test_callback_methods_other_than_get_and_post_never_consume_the_flow(
    browser: SignInDriver,
    ada: FakeUser,
    identity_platform: FakeIdentityPlatform,
    sso: Any,
    method: str,
    secure_callback: bool,
) -> None:
    sso.MICROSOFT_SSO_REQUIRE_SECURE_CALLBACK = secure_callback
    started = browser.start(next="/app/").json()
    answer = identity_platform.authorize(started["authorization_url"], user=ada)
    target = urlsplit(answer.url)

    # A link scanner fetching the callback URL before the browser does.
    stray = browser.client.generic(method, f"{target.path}?{urlencode(answer.params)}")

    assert stray.status_code == 405
    assert stray["Allow"] == "GET, POST"
    assert "sso_code" in query_of(browser.deliver(answer)["Location"])


def test_callback_replayed_after_use_is_refused(
    browser: SignInDriver, ada: FakeUser, identity_platform: FakeIdentityPlatform
) -> None:
    started = browser.start(next="/app/").json()
    answer = identity_platform.authorize(started["authorization_url"], user=ada)
    first = browser.deliver(answer)
    assert "sso_code" in query_of(first["Location"])

    replay = browser.deliver(answer)

    assert replay["Location"].startswith("/login-failed/?")
    assert query_of(replay["Location"])["sso_error"] == ["invalid_state"]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"code": "x"},
        {"state": "short", "code": "x"},
        {"state": "A" * 43, "code": "x"},
        {"state": "../../etc/passwd" * 3, "code": "x"},
    ],
    ids=["nothing", "no-state", "malformed-state", "unknown-state", "path-state"],
)
def test_callback_without_a_known_state_goes_to_the_failure_url(
    browser: SignInDriver, params: dict[str, str]
) -> None:
    response = browser.client.get("/api/sso/callback/", params)
    assert response.status_code == 302
    assert response["Location"].startswith("/login-failed/?")
    query = query_of(response["Location"])
    assert query["sso_error"] == ["invalid_state"]
    assert query["sso_error_description"][0]


def test_cancel_at_microsoft_comes_back_as_access_denied(
    browser: SignInDriver, ada: FakeUser, identity_platform: FakeIdentityPlatform
) -> None:
    started = browser.start(next="/app/").json()
    answer = identity_platform.authorize(started["authorization_url"], user=ada, cancel=True)
    response = browser.deliver(answer)
    assert response["Location"].startswith("/app/?")
    assert query_of(response["Location"])["sso_error"] == ["access_denied"]
    assert not get_user_model().objects.exists()


def test_an_error_description_from_microsoft_is_not_echoed(
    browser: SignInDriver, ada: FakeUser
) -> None:
    started = browser.start(next="/app/").json()
    state = started["state"]
    response = browser.client.get(
        "/api/sso/callback/",
        {"state": state, "error": "server_error", "error_description": "<script>x</script>"},
    )
    assert query_of(response["Location"])["sso_error"] == ["provider_error"]
    assert "<script>" not in response["Location"]
    assert "%3Cscript" not in response["Location"]


def test_a_custom_scheme_next_receives_the_code(browser: SignInDriver, ada: FakeUser) -> None:
    attempt = browser.sign_in(ada, next="myapp://auth/done")
    assert attempt.location.startswith("myapp://auth/done?sso_code=")
    assert attempt.callback["Referrer-Policy"] == "no-referrer"


def test_callback_responses_are_not_cached(browser: SignInDriver, ada: FakeUser) -> None:
    attempt = browser.sign_in(ada)
    assert attempt.callback["Cache-Control"] == "no-store"


def test_two_tabs_signing_in_at_once_both_succeed_as_themselves(
    browser: SignInDriver, ada: FakeUser, grace: FakeUser, identity_platform: FakeIdentityPlatform
) -> None:
    first, second = Pkce.new(), Pkce.new()
    started_first = browser.start(pkce=first, next="/tab-1/").json()
    started_second = browser.start(pkce=second, next="/tab-2/").json()
    # Both flows are open; they complete in the opposite order.
    answer_second = identity_platform.authorize(started_second["authorization_url"], user=grace)
    answer_first = identity_platform.authorize(started_first["authorization_url"], user=ada)
    back_second = browser.deliver(answer_second)
    back_first = browser.deliver(answer_first)

    assert back_first["Location"].startswith("/tab-1/?sso_code=")
    assert back_second["Location"].startswith("/tab-2/?sso_code=")
    code_first = query_of(back_first["Location"])["sso_code"][0]
    code_second = query_of(back_second["Location"])["sso_code"][0]
    assert browser.redeem(code_first, first.verifier).json()["user"]["object_id"] == ada.object_id
    assert browser.redeem(code_second, second.verifier).json()["user"]["object_id"] == (
        grace.object_id
    )


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_callbacks_with_one_state_let_exactly_one_through(
    browser: SignInDriver, ada: FakeUser, identity_platform: FakeIdentityPlatform
) -> None:
    started = browser.start(next="/app/").json()
    answer = identity_platform.authorize(started["authorization_url"], user=ada)
    barrier = threading.Barrier(20)

    def deliver_once(_: int) -> str:
        try:
            barrier.wait()
            return str(SignInDriver(identity_platform).deliver(answer)["Location"])
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=20) as pool:
        locations = list(pool.map(deliver_once, range(20)))

    succeeded = [url for url in locations if "sso_code=" in url]
    refused = [url for url in locations if "sso_error=invalid_state" in url]
    assert len(succeeded) == 1
    assert len(refused) == 19
    assert get_user_model().objects.count() == 1
    assert MicrosoftIdentity.objects.count() == 1


def test_tokens_are_issued_only_when_the_hand_off_is_redeemed(
    browser: SignInDriver, ada: FakeUser
) -> None:
    browser.sign_in(ada)
    assert MicrosoftIdentity.objects.count() == 1
    assert not RefreshSession.objects.exists()


def test_an_expired_flow_is_refused_and_sends_to_the_failure_url(
    browser: SignInDriver, ada: FakeUser, identity_platform: FakeIdentityPlatform, sso: Any
) -> None:
    sso.MICROSOFT_SSO_TIMEOUT = 1 / 60  # one second
    started = browser.start(next="/app/").json()
    assert started["expires_in"] == 1
    answer = identity_platform.authorize(started["authorization_url"], user=ada)
    time.sleep(1.5)

    response = browser.deliver(answer)

    assert response["Location"].startswith("/login-failed/?")
    assert query_of(response["Location"])["sso_error"] == ["invalid_state"]
    assert not get_user_model().objects.exists()


def test_the_form_post_callback_needs_no_csrf_token_or_cookie(
    ada: FakeUser, identity_platform: FakeIdentityPlatform, sso: Any
) -> None:
    sso.MICROSOFT_SSO_REQUIRE_SECURE_CALLBACK = True
    sso.MIDDLEWARE = [*sso.MIDDLEWARE, "django.middleware.csrf.CsrfViewMiddleware"]
    browser = SignInDriver(identity_platform)
    browser.client = Client(enforce_csrf_checks=True)

    attempt = browser.sign_in(ada)

    assert attempt.error is None
    assert browser.redeem(attempt.sso_code, attempt.pkce.verifier).status_code == 200


@pytest.mark.parametrize(
    "client_info",
    ["MTIz", "eyJ1aWQiOiAiYVxyXG5YLUV2aWw6IDEiLCAidXRpZCI6ICJ4In0", "not base64!"],
    ids=["not-an-object", "header-injection", "garbage"],
)
def test_browser_supplied_extras_in_the_callback_are_ignored(
    browser: SignInDriver, ada: FakeUser, identity_platform: FakeIdentityPlatform, client_info: str
) -> None:
    started = browser.start(next="/app/").json()
    answer = identity_platform.authorize(started["authorization_url"], user=ada)
    response = browser.client.get(
        "/api/sso/callback/", {**answer.params, "client_info": client_info}
    )
    assert "sso_code=" in response["Location"]


def test_a_disabled_app_completes_no_sign_in_at_the_callback(
    browser: SignInDriver, ada: FakeUser, identity_platform: FakeIdentityPlatform, sso: Any
) -> None:
    started = browser.start(next="/app/").json()
    answer = identity_platform.authorize(started["authorization_url"], user=ada)
    sso.MICROSOFT_SSO_ENABLED = False

    response = browser.deliver(answer)

    assert response["Location"].startswith("/login-failed/?")
    assert query_of(response["Location"])["sso_error"] == ["sso_disabled"]
    assert not get_user_model().objects.exists()
