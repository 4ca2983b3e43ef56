"""Bad input never causes a 500, errors have one shape, and logs never carry secrets."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from sso_api.testing import FakeApp, FakeIdentityPlatform, FakeUser
from sso_api.testing.client import SignInDriver

pytestmark = pytest.mark.django_db

GARBAGE_BODIES = [
    b"",
    b"{",
    b"[]",
    b'"string"',
    b"null",
    b'{"next": 5}',
    b'{"sso_code": ["list"]}',
    b'{"refresh": {"x": 1}}',
    b'{"code_challenge": "' + b"A" * 5000 + b'"}',
    '{"next": "/\u0000"}'.encode(),
    b"\xff\xfe\x00garbage",
]
ENDPOINTS = ["start/", "token/", "token/refresh/", "logout/", "callback/"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("body", GARBAGE_BODIES)
@pytest.mark.parametrize(
    "content_type", ["application/json", "application/x-www-form-urlencoded", "text/plain"]
)
def test_garbage_never_causes_a_server_error(
    browser: SignInDriver, endpoint: str, body: bytes, content_type: str
) -> None:
    response = browser.client.generic(
        "POST", f"/api/sso/{endpoint}", body, content_type=content_type
    )
    if endpoint == "callback/":
        assert response.status_code == 302
        assert response["Location"].startswith("/login-failed/?sso_error=")
    else:
        assert 400 <= response.status_code < 500
        payload = response.json()
        assert set(payload) <= {"detail", "code", "fields"}
        assert payload["code"].replace("_", "").isalpha()


@pytest.mark.parametrize(
    "query",
    [
        "?next=%00",
        "?redirect=maybe",
        "?prompt=%ff",
        "?code_challenge=" + "x" * 10000,
        "?next=" + "/a" * 3000,
    ],
)
def test_garbage_queries_never_cause_a_server_error(browser: SignInDriver, query: str) -> None:
    assert 400 <= browser.client.get(f"/api/sso/start/{query}").status_code < 500
    assert browser.client.get(f"/api/sso/callback/{query}&state=x").status_code == 302
    front_channel = browser.client.get(f"/api/sso/logout/frontchannel/{query}&sid=x&iss=x")
    assert front_channel.status_code == 200


@pytest.mark.parametrize(
    "issuer", ["https://[abc/v2.0", "https://evil\uff03.com/t/v2.0", "%ff", "\u0000", "//"]
)
def test_an_unparsable_front_channel_issuer_revokes_nothing_and_fails_nothing(
    browser: SignInDriver, issuer: str
) -> None:
    response = browser.client.get("/api/sso/logout/frontchannel/", {"sid": "x", "iss": issuer})
    assert response.status_code == 200


def test_unsupported_methods_answer_in_our_error_shape_without_naming_the_method(
    browser: SignInDriver,
) -> None:
    response = browser.client.generic("PROPFIND<b>", "/api/sso/token/")
    assert response.status_code == 405
    assert response.json() == {
        "detail": "This HTTP method is not allowed here.",
        "code": "method_not_allowed",
    }
    assert response["Allow"] == "POST, OPTIONS"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"prompt": "<img src=x onerror=alert(1)>"}, "prompt"),
        ({"redirect": "<b>maybe</b>"}, "redirect"),
        ({"login_hint": "<i>" * 100}, "login_hint"),
    ],
)
def test_field_errors_never_repeat_the_value_sent(
    browser: SignInDriver, params: dict[str, str], field: str
) -> None:
    response = browser.client.get("/api/sso/start/", params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_request"
    assert list(body["fields"]) == [field]
    assert "<" not in response.content.decode()


def test_an_unsupported_content_type_is_not_repeated_in_the_error(browser: SignInDriver) -> None:
    response = browser.client.generic(
        "POST", "/api/sso/token/", b"{}", content_type="text/evil-<script>"
    )
    assert response.status_code == 415
    assert response.json() == {
        "detail": "The request's content type is not supported here.",
        "code": "unsupported_media_type",
    }


JSON_ENDPOINTS = ["start/", "token/", "token/refresh/", "logout/"]


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS)
@pytest.mark.parametrize(
    "body", [b"[" * 1500, b'{"a":' * 5000, b"[" * 100_000], ids=["lists", "objects", "deep"]
)
def test_json_nested_to_any_depth_is_a_parse_error(
    browser: SignInDriver, settings: Any, endpoint: str, body: bytes, debug: bool
) -> None:
    settings.DEBUG = debug
    response = browser.client.generic(
        "POST", f"/api/sso/{endpoint}", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The request body could not be parsed.",
        "code": "parse_error",
    }


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS)
def test_a_body_over_the_upload_limit_is_refused_as_json(
    browser: SignInDriver, settings: Any, endpoint: str
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = b'{"next": "/' + b"a" * 2000 + b'"}'
    response = browser.client.generic(
        "POST", f"/api/sso/{endpoint}", body, content_type="application/json"
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "The request is too large.", "code": "request_too_large"}


def test_a_form_with_too_many_fields_is_refused_as_json(
    browser: SignInDriver, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    form = "&".join(f"f{index}=x" for index in range(50))
    posted = browser.client.generic(
        "POST", "/api/sso/start/", form, content_type="application/x-www-form-urlencoded"
    )
    queried = browser.client.get(f"/api/sso/start/?{form}")
    for response in (posted, queried):
        assert response.status_code == 400
        assert response.json() == {
            "detail": "The request has too many fields.",
            "code": "too_many_fields",
        }


@pytest.mark.parametrize(
    ("limit", "value", "code"),
    [
        ("DATA_UPLOAD_MAX_NUMBER_FIELDS", 10, "too_many_fields"),
        ("DATA_UPLOAD_MAX_MEMORY_SIZE", 100, "request_too_large"),
    ],
)
def test_a_callback_django_refuses_still_redirects_with_sso_error(
    browser: SignInDriver, settings: Any, limit: str, value: int, code: str
) -> None:
    setattr(settings, limit, value)
    form = "&".join(f"f{index}=" + "x" * 20 for index in range(50))
    posted = browser.client.generic(
        "POST", "/api/sso/callback/", form, content_type="application/x-www-form-urlencoded"
    )
    responses = [posted]
    if code == "too_many_fields":
        responses.append(browser.client.get(f"/api/sso/callback/?{form}"))
    for response in responses:
        assert response.status_code == 302
        assert response["Location"].startswith("/login-failed/?")
        assert parse_qs(urlsplit(response["Location"]).query)["sso_error"] == [code]


def test_errors_are_json_even_when_the_browser_asks_for_html(browser: SignInDriver) -> None:
    response = browser.client.post(
        "/api/sso/token/", {}, content_type="application/json", HTTP_ACCEPT="text/html"
    )
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")


def test_token_responses_are_not_cached(browser: SignInDriver, ada: FakeUser) -> None:
    attempt = browser.sign_in(ada)
    response = browser.redeem(attempt.sso_code, attempt.pkce.verifier)
    assert response["Cache-Control"] == "no-store"


def test_no_token_code_or_secret_reaches_the_logs(
    browser: SignInDriver,
    ada: FakeUser,
    entra_app: FakeApp,
    identity_platform: FakeIdentityPlatform,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    started = browser.start(next="/app/").json()
    answer = identity_platform.authorize(started["authorization_url"], user=ada)
    back = browser.deliver(answer)
    sso_code = back["Location"].split("sso_code=")[1]
    # A failing sign-in too: its code and the platform's error text must not leak either.
    identity_platform.faults.id_token_signing = "wrong_key"
    failed = browser.sign_in(ada)
    identity_platform.reset_faults()

    assert failed.error == "invalid_id_token"
    # The server side's loggers; urllib3 also logs the test's own browser requests.
    server_log = "\n".join(
        record.getMessage()
        for record in caplog.records
        if record.name.split(".")[0] in {"sso_api", "msal", "django", "rest_framework"}
    )
    assert "event=sign_in_refused" in server_log
    secrets_seen = [
        started["state"],
        answer.params["code"],
        sso_code,
        entra_app.client_secret,
        failed.pkce.verifier,
    ]
    for secret in secrets_seen:
        assert secret not in server_log
    assert "eyJ" not in server_log  # no JWT of any kind


def test_failed_sign_ins_are_logged_with_their_code(
    browser: SignInDriver,
    ada: FakeUser,
    identity_platform: FakeIdentityPlatform,
    caplog: pytest.LogCaptureFixture,
) -> None:
    identity_platform.faults.id_token_claims_override = {"aud": "someone-else"}
    browser.sign_in(ada)
    assert "code=invalid_id_token" in caplog.text


def test_the_client_cannot_see_library_exception_text(
    browser: SignInDriver, ada: FakeUser, identity_platform: FakeIdentityPlatform
) -> None:
    identity_platform.faults.id_token_claims_override = {"aud": "someone-else"}
    attempt = browser.sign_in(ada)
    assert attempt.query["sso_error_description"] == "Microsoft's answer could not be verified."


def test_a_client_without_cookies_can_do_everything(
    identity_platform: FakeIdentityPlatform, ada: FakeUser, sso: Any
) -> None:
    browser = SignInDriver(identity_platform)
    browser.client = Client(enforce_csrf_checks=True)
    body = browser.signed_in(ada)
    assert not browser.client.cookies
    assert body["access"]


def test_parse_errors_do_not_quote_the_decoder(browser: SignInDriver) -> None:
    response = browser.client.generic(
        "POST", "/api/sso/token/", b'{"sso_code": ', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The request body could not be parsed.",
        "code": "parse_error",
    }


def test_failure_logs_name_exception_types_not_their_text(
    browser: SignInDriver,
    ada: FakeUser,
    identity_platform: FakeIdentityPlatform,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    identity_platform.faults.id_token_signing = "wrong_key"
    browser.sign_in(ada)
    unknown_state = "U" * 43
    browser.client.get("/api/sso/callback/", {"state": unknown_state, "code": "c"})

    server_log = "\n".join(
        record.getMessage() for record in caplog.records if record.name.startswith("sso_api")
    )
    assert "InvalidSignatureError" in server_log
    assert "Signature verification failed" not in server_log
    assert unknown_state not in server_log


ALL_ENDPOINTS = [*ENDPOINTS, "logout/frontchannel/", "me/"]


@pytest.mark.parametrize("endpoint", ALL_ENDPOINTS)
@pytest.mark.parametrize(
    "method", ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "BREW"]
)
def test_no_method_on_any_endpoint_answers_a_server_error_or_an_html_page(
    browser: SignInDriver, endpoint: str, method: str
) -> None:
    response = browser.client.generic(
        method, f"/api/sso/{endpoint}", b"{}", content_type="application/json"
    )
    assert response.status_code < 500
    content_type = response.get("Content-Type", "")
    if endpoint == "logout/frontchannel/" and method in ("GET", "HEAD"):
        assert content_type.startswith("text/html")  # the page Microsoft frames
    elif response.status_code != 302 and method != "HEAD":
        assert content_type.startswith("application/json"), (method, endpoint)
