"""Cookie mode: the refresh token in an HttpOnly cookie, with CSRF protection."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client

from sso_api.models import RefreshSession
from sso_api.testing import FakeUser
from sso_api.testing.client import SignInDriver
from tests.test_checks import check_ids

pytestmark = pytest.mark.django_db

SPA = "https://spa.example.com"


@pytest.fixture
def cookie_mode(sso: Any, browser: SignInDriver) -> Any:
    """Cookie mode, with the browser's requests proving their origin as the SPA's do."""
    sso.MICROSOFT_SSO_REFRESH_COOKIE = True
    browser.client = Client(headers={"Origin": SPA, "X-SSO-CSRF": "1"})
    return sso


def cookie_post(client: Client, path: str, origin: str | None = SPA, csrf: bool = True) -> Any:
    """POST ``{}`` with ``client``'s cookies and exactly the given proof headers."""
    headers: dict[str, str] = {}
    if origin is not None:
        headers["Origin"] = origin
    if csrf:
        headers["X-SSO-CSRF"] = "1"
    bare = Client(headers=headers)
    bare.cookies = client.cookies
    return bare.post(path, {}, content_type="application/json", secure=True)


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


@pytest.mark.parametrize(
    ("path", "name"),
    [("/api/sso/token/refresh/", "sso_refresh"), ("/api/sso/logout/", "sso_refresh_logout")],
)
def test_a_planted_second_refresh_cookie_is_refused_and_every_copy_cleared(
    browser: SignInDriver,
    ada: FakeUser,
    grace: FakeUser,
    cookie_mode: Any,
    path: str,
    name: str,
) -> None:
    browser.signed_in(ada)
    victims = browser.client.cookies[name].value
    # A sibling subdomain set a cookie of the same name for the parent domain, holding the
    # attacker's own session; the browser sends both.
    attacker = SignInDriver(browser.platform)
    attacker.client = Client(headers={"Origin": SPA, "X-SSO-CSRF": "1"})
    attacker.signed_in(grace)
    planted = attacker.client.cookies[name].value
    sessions_before = set(RefreshSession.objects.values_list("pk", "current_jti", "revoked_at"))

    response = Client().post(
        path,
        {},
        content_type="application/json",
        secure=True,
        headers={"Origin": SPA, "X-SSO-CSRF": "1"},
        HTTP_HOST="api.example.com",
        HTTP_COOKIE=f"{name}={planted}; {name}={victims}",
    )

    assert response.status_code == 401
    assert response.json()["code"] == "duplicate_refresh_cookie"
    assert set(RefreshSession.objects.values_list("pk", "current_jti", "revoked_at")) == (
        sessions_before
    )
    expiring = [
        morsel
        for morsel in response.cookies.values()
        if morsel.key == name and morsel.value == "" and str(morsel["max-age"]) == "0"
    ]
    # Browsers ignore an expiring cookie that lacks what the cookie it replaces had.
    assert all(morsel["secure"] and morsel["samesite"] == "Strict" for morsel in expiring)
    expired = {(morsel["domain"], morsel["path"]) for morsel in expiring}
    # The planted copy's Domain and Path are unknown: every pair that reaches this URL.
    assert {("", path), ("example.com", "/"), ("api.example.com", path)} <= expired
    assert ("example.com", path.rstrip("/")) in expired


def test_one_refresh_cookie_beside_other_cookies_is_not_a_duplicate(
    browser: SignInDriver, ada: FakeUser, cookie_mode: Any
) -> None:
    browser.signed_in(ada)
    token = browser.client.cookies["sso_refresh"].value
    response = Client().post(
        "/api/sso/token/refresh/",
        {},
        content_type="application/json",
        secure=True,
        headers={"Origin": SPA, "X-SSO-CSRF": "1"},
        HTTP_COOKIE=f"sso_refresh=; sso_refresh_logout={token}; other=1; sso_refresh={token}",
    )
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/api/sso/token/refresh/", "/api/sso/logout/"])
def test_a_bad_token_in_the_body_leaves_a_good_cookie_alone(
    browser: SignInDriver, ada: FakeUser, cookie_mode: Any, path: str
) -> None:
    browser.signed_in(ada)

    response = browser.client.post(
        path, {"refresh": "not-a-jwt"}, content_type="application/json", secure=True
    )

    assert response.json()["code"] == "invalid_refresh_token"
    assert "sso_refresh" not in response.cookies
    assert "sso_refresh_logout" not in response.cookies
    assert cookie_post(browser.client, "/api/sso/token/refresh/").status_code == 200


def test_a_dead_cookie_is_cleared(browser: SignInDriver, ada: FakeUser, cookie_mode: Any) -> None:
    browser.signed_in(ada)
    RefreshSession.objects.update(revoked_at="2026-01-01T00:00:00Z")
    response = cookie_post(browser.client, "/api/sso/token/refresh/")
    assert response.json()["code"] == "session_revoked"
    assert response.cookies["sso_refresh"].value == ""


def test_clients_without_origin_proof_keep_the_refresh_token_in_json(
    identity_platform: Any, ada: FakeUser, cookie_mode: Any
) -> None:
    # A native app: no Origin, no X-SSO-CSRF. Body in, body out; no cookie is set.
    native_app = SignInDriver(identity_platform)
    body = native_app.signed_in(ada)
    assert "refresh" in body
    assert not native_app.client.cookies

    rotated = native_app.client.post(
        "/api/sso/token/refresh/", {"refresh": body["refresh"]}, content_type="application/json"
    )

    assert rotated.status_code == 200
    assert "refresh" in rotated.json()
    assert "sso_refresh" not in rotated.cookies


def test_login_csrf_a_cross_site_form_cannot_plant_a_session(
    ada: FakeUser, cookie_mode: Any, identity_platform: Any
) -> None:
    # The attacker signs in to their own account and keeps code and verifier...
    attacker = SignInDriver(identity_platform)
    attempt = attacker.sign_in(ada)
    stolen = {"sso_code": attempt.sso_code, "code_verifier": attempt.pkce.verifier}
    victim = Client(headers={"Origin": "https://evil.example"})

    # ...then makes the victim's browser submit them: as a form, or as JSON without proof.
    as_form = victim.post(
        "/api/sso/token/", urlencode(stolen), content_type="application/x-www-form-urlencoded"
    )
    as_json = victim.post("/api/sso/token/", stolen, content_type="application/json")

    assert as_form.status_code == 415
    assert "sso_refresh" not in as_form.cookies
    assert "sso_refresh" not in as_json.cookies
    assert not victim.cookies


def test_e006_samesite_must_be_a_known_value() -> None:
    assert "sso.E006" in check_ids(MICROSOFT_SSO_REFRESH_COOKIE_SAMESITE="strict")


def test_an_unparsable_allow_list_entry_does_not_break_the_origin_check(
    browser: SignInDriver, ada: FakeUser, cookie_mode: Any
) -> None:
    browser.signed_in(ada)
    cookie_mode.MICROSOFT_SSO_ALLOWED_REDIRECT_URLS = ["https://[::1", SPA]
    assert cookie_post(browser.client, "/api/sso/token/refresh/").status_code == 200
