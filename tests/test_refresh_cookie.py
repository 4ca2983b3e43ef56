"""Cookie mode: the refresh token in an HttpOnly cookie, with CSRF protection."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sso_api.models import RefreshSession
from sso_api.testing import FakeUser
from sso_api.testing.client import SignInDriver
from tests.test_checks import check_ids

pytestmark = pytest.mark.django_db

SPA = "https://spa.example.com"


@pytest.fixture
def cookie_mode(sso: Any) -> Any:
    sso.MICROSOFT_SSO_REFRESH_COOKIE = True
    return sso


def cookie_post(client: Client, path: str, origin: str | None = SPA, csrf: bool = True) -> Any:
    headers: dict[str, str] = {}
    if origin is not None:
        headers["Origin"] = origin
    if csrf:
        headers["X-SSO-CSRF"] = "1"
    return client.post(path, {}, content_type="application/json", secure=True, headers=headers)


def test_the_refresh_token_is_only_in_httponly_cookies_scoped_to_refresh_and_logout(
    browser: SignInDriver, ada: FakeUser, cookie_mode: Any
) -> None:
    attempt = browser.sign_in(ada)
    response = browser.redeem(attempt.sso_code, attempt.pkce.verifier)

    assert response.status_code == 200
    assert "refresh" not in response.json()
    refresh_cookie = response.cookies["sso_refresh"]
    logout_cookie = response.cookies["sso_refresh_logout"]
    assert refresh_cookie["path"] == "/api/sso/token/refresh/"
    assert logout_cookie["path"] == "/api/sso/logout/"
    for cookie in (refresh_cookie, logout_cookie):
        assert cookie["httponly"]
        assert cookie["secure"]
        assert cookie["samesite"] == "Strict"
        assert cookie.value.count(".") == 2  # the JWT itself


def test_a_reload_refreshes_from_the_cookie_and_rotates_it(
    browser: SignInDriver, ada: FakeUser, cookie_mode: Any
) -> None:
    browser.signed_in(ada)
    first_cookie = browser.client.cookies["sso_refresh"].value

    response = cookie_post(browser.client, "/api/sso/token/refresh/")

    assert response.status_code == 200
    assert "refresh" not in response.json()
    assert browser.client.cookies["sso_refresh"].value != first_cookie
    me = browser.client.get(
        "/api/sso/me/", HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}"
    )
    assert me.status_code == 200


@pytest.mark.parametrize(
    ("origin", "csrf"),
    [(SPA, False), ("https://evil.example", True), (None, True), ("null", True)],
    ids=["no-header", "untrusted-origin", "no-origin", "opaque-origin"],
)
def test_cookie_requests_without_csrf_proof_are_refused(
    browser: SignInDriver, ada: FakeUser, cookie_mode: Any, origin: str | None, csrf: bool
) -> None:
    browser.signed_in(ada)

    for path in ("/api/sso/token/refresh/", "/api/sso/logout/"):
        response = cookie_post(browser.client, path, origin=origin, csrf=csrf)
        assert response.status_code == 403
        assert response.json()["code"] == "csrf_failed"
    assert RefreshSession.objects.get().revoked_at is None


def test_the_apis_own_origin_is_trusted(
    browser: SignInDriver, ada: FakeUser, cookie_mode: Any
) -> None:
    browser.signed_in(ada)
    response = cookie_post(browser.client, "/api/sso/token/refresh/", origin="https://testserver")
    assert response.status_code == 200


def test_logout_by_cookie_revokes_the_session_and_clears_the_cookies(
    browser: SignInDriver, ada: FakeUser, cookie_mode: Any
) -> None:
    browser.signed_in(ada)

    response = cookie_post(browser.client, "/api/sso/logout/")

    assert response.status_code == 200
    assert response.cookies["sso_refresh"].value == ""
    assert response.cookies["sso_refresh_logout"].value == ""
    assert RefreshSession.objects.get().revoked_at is not None
    again = cookie_post(browser.client, "/api/sso/token/refresh/")
    assert again.status_code == 401
    assert again.json()["code"] == "invalid_refresh_token"


def test_a_dead_cookie_is_cleared(browser: SignInDriver, ada: FakeUser, cookie_mode: Any) -> None:
    browser.signed_in(ada)
    RefreshSession.objects.update(revoked_at="2026-01-01T00:00:00Z")
    response = cookie_post(browser.client, "/api/sso/token/refresh/")
    assert response.json()["code"] == "session_revoked"
    assert response.cookies["sso_refresh"].value == ""


def test_a_refresh_token_in_the_body_is_still_accepted_in_cookie_mode(
    browser: SignInDriver, ada: FakeUser, cookie_mode: Any
) -> None:
    browser.signed_in(ada)
    token = browser.client.cookies["sso_refresh"].value
    mobile = Client()
    response = mobile.post(
        "/api/sso/token/refresh/", {"refresh": token}, content_type="application/json"
    )
    assert response.status_code == 200


def test_e006_samesite_must_be_a_known_value() -> None:
    assert "sso.E006" in check_ids(MICROSOFT_SSO_REFRESH_COOKIE_SAMESITE="strict")
