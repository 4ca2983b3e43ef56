"""Our JWTs: rotation, reuse detection, absolute lifetime, logout and single logout."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client
from django.utils import timezone

from sso_api.models import RefreshSession, RevocationReason
from sso_api.testing import FakeIdentityPlatform, FakeTenant, FakeUser
from sso_api.testing.client import SignInDriver

pytestmark = pytest.mark.django_db
User = get_user_model()


def refresh(client: Client, token: str) -> Any:
    return client.post(
        "/api/sso/token/refresh/", {"refresh": token}, content_type="application/json"
    )


def logout(client: Client, token: str) -> Any:
    return client.post("/api/sso/logout/", {"refresh": token}, content_type="application/json")


def me(client: Client, access: str) -> Any:
    return client.get("/api/sso/me/", HTTP_AUTHORIZATION=f"Bearer {access}")


def test_refresh_rotates_and_the_old_token_dies(browser: SignInDriver, ada: FakeUser) -> None:
    first = browser.signed_in(ada)

    rotated = refresh(browser.client, first["refresh"])

    assert rotated.status_code == 200
    body = rotated.json()
    assert set(body) == {"access", "refresh", "token_type", "expires_in", "user"}
    assert body["user"] == first["user"]
    assert body["refresh"] != first["refresh"]
    assert me(browser.client, body["access"]).json()["object_id"] == ada.object_id
    assert refresh(browser.client, body["refresh"]).status_code == 200


def test_a_refresh_names_the_sessions_user_with_what_changed_since(
    browser: SignInDriver, ada: FakeUser
) -> None:
    first = browser.signed_in(ada)
    user = User.objects.get()
    user.first_name = "Augusta"
    user.save()

    body = refresh(browser.client, first["refresh"]).json()

    assert body["user"]["first_name"] == "Augusta"
    assert (body["user"]["tenant_id"], body["user"]["object_id"]) == (
        ada.tenant_id,
        ada.object_id,
    )
    assert me(browser.client, body["access"]).json() == body["user"]


def test_presenting_a_rotated_token_revokes_the_whole_family(
    browser: SignInDriver, ada: FakeUser
) -> None:
    first = browser.signed_in(ada)
    second = refresh(browser.client, first["refresh"]).json()

    reuse = refresh(browser.client, first["refresh"])

    assert reuse.status_code == 401
    assert reuse.json()["code"] == "refresh_token_reused"
    # The legitimate holder of the newest token is signed out too.
    assert refresh(browser.client, second["refresh"]).json()["code"] == "session_revoked"
    assert RefreshSession.objects.get().revoked_reason == RevocationReason.REUSE


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_with_one_token_let_at_most_one_through(
    browser: SignInDriver, ada: FakeUser
) -> None:
    token = browser.signed_in(ada)["refresh"]
    barrier = threading.Barrier(8)

    def attempt(_: int) -> int:
        try:
            barrier.wait()
            return int(refresh(Client(), token).status_code)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(attempt, range(8)))

    assert statuses.count(200) <= 1
    assert RefreshSession.objects.get().revoked_at is not None


def test_rotation_never_extends_the_absolute_lifetime(
    browser: SignInDriver, ada: FakeUser, sso: Any
) -> None:
    first = browser.signed_in(ada)
    session = RefreshSession.objects.get()
    session.expires_at = timezone.now() + timedelta(seconds=30)
    session.save()

    rotated = refresh(browser.client, first["refresh"]).json()
    import jwt

    claims = jwt.decode(rotated["refresh"], options={"verify_signature": False})
    assert claims["exp"] <= int(session.expires_at.timestamp())

    RefreshSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = refresh(browser.client, rotated["refresh"])
    assert expired.status_code == 401
    assert expired.json()["code"] == "session_expired"


def test_an_empty_refresh_token_is_a_malformed_request(browser: SignInDriver) -> None:
    response = refresh(browser.client, "")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"


@pytest.mark.parametrize(
    "token",
    ["not-a-jwt", "a.b.c", "eyJhbGciOiJub25lIn0.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9."],
)
def test_garbage_refresh_tokens_are_refused(browser: SignInDriver, token: str) -> None:
    response = refresh(browser.client, token)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_refresh_token"


def test_an_access_token_is_not_a_refresh_token(browser: SignInDriver, ada: FakeUser) -> None:
    access = browser.signed_in(ada)["access"]
    assert refresh(browser.client, access).json()["code"] == "invalid_refresh_token"


def test_refresh_tokens_of_a_deactivated_user_stop_working(
    browser: SignInDriver, ada: FakeUser
) -> None:
    from django.contrib.auth import get_user_model

    token = browser.signed_in(ada)["refresh"]
    get_user_model().objects.update(is_active=False)
    assert refresh(browser.client, token).json()["code"] == "session_revoked"


def test_logout_revokes_the_family(browser: SignInDriver, ada: FakeUser) -> None:
    tokens = browser.signed_in(ada)

    response = logout(browser.client, tokens["refresh"])

    assert response.status_code == 200
    assert response.json() == {"logout_url": None}
    assert refresh(browser.client, tokens["refresh"]).json()["code"] == "session_revoked"


def test_logout_returns_microsofts_end_session_url_when_slo_is_on(
    browser: SignInDriver, ada: FakeUser, sso: Any, identity_platform: FakeIdentityPlatform
) -> None:
    sso.MICROSOFT_SSO_SLO_ENABLED = True
    sso.MICROSOFT_SSO_LOGOUT_REDIRECT_PATH = "https://spa.example.com/signed-out?x=1&y=2"
    tokens = browser.signed_in(ada)

    url = logout(browser.client, tokens["refresh"]).json()["logout_url"]

    assert url.startswith(identity_platform.base_url)
    assert urlsplit(url).path.endswith("/oauth2/v2.0/logout")
    assert parse_qs(urlsplit(url).query)["post_logout_redirect_uri"] == [
        "https://spa.example.com/signed-out?x=1&y=2"
    ]
    assert "x=1&y=2" not in url  # encoded, not spliced


def test_logout_redirect_path_is_made_absolute_on_this_host(
    browser: SignInDriver, ada: FakeUser, sso: Any
) -> None:
    sso.MICROSOFT_SSO_SLO_ENABLED = True
    sso.MICROSOFT_SSO_LOGOUT_REDIRECT_PATH = "/bye/"
    url = logout(browser.client, browser.signed_in(ada)["refresh"]).json()["logout_url"]
    assert parse_qs(urlsplit(url).query)["post_logout_redirect_uri"] == ["http://testserver/bye/"]


def test_front_channel_logout_revokes_every_session_of_that_microsoft_session(
    browser: SignInDriver,
    ada: FakeUser,
    grace: FakeUser,
    identity_platform: FakeIdentityPlatform,
    contoso: FakeTenant,
) -> None:
    ada_tokens = browser.signed_in(ada)
    grace_tokens = browser.signed_in(grace)
    sid = RefreshSession.objects.get(identity__object_id=ada.object_id).microsoft_session_id
    assert sid

    response = browser.client.get("/api/sso/logout/frontchannel/", {"sid": sid})

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    # Framed by Microsoft's sign-out page only: the authority's origin, and our own.
    authority = urlsplit(identity_platform.authority(contoso))
    assert response["Content-Security-Policy"] == (
        f"frame-ancestors 'self' {authority.scheme}://{authority.netloc}"
    )
    assert "X-Frame-Options" not in response
    assert refresh(browser.client, ada_tokens["refresh"]).json()["code"] == "session_revoked"
    assert refresh(browser.client, grace_tokens["refresh"]).status_code == 200


def test_front_channel_logout_urls_from_the_platform_reach_us(
    browser: SignInDriver, ada: FakeUser, identity_platform: FakeIdentityPlatform
) -> None:
    tokens = browser.signed_in(ada)
    sid = RefreshSession.objects.get().microsoft_session_id
    urls = identity_platform.front_channel_logout_requests(sid)
    assert urls
    for url in urls:
        parts = urlsplit(url)
        assert browser.client.get(f"{parts.path}?{parts.query}", secure=True).status_code == 200
    assert refresh(browser.client, tokens["refresh"]).json()["code"] == "session_revoked"


def ada_session_id() -> str:
    return str(RefreshSession.objects.get(identity__object_id__isnull=False).microsoft_session_id)


def test_front_channel_logout_with_this_apps_issuer_revokes_the_session(
    browser: SignInDriver,
    ada: FakeUser,
    identity_platform: FakeIdentityPlatform,
    contoso: FakeTenant,
) -> None:
    tokens = browser.signed_in(ada)
    issuer = f"{identity_platform.authority(contoso)}/v2.0"

    browser.client.get("/api/sso/logout/frontchannel/", {"sid": ada_session_id(), "iss": issuer})

    assert refresh(browser.client, tokens["refresh"]).json()["code"] == "session_revoked"


@pytest.mark.parametrize(
    "foreign_issuer",
    [
        "https://login.microsoftonline.com/{tid}/v2.0",
        "{authority}/v2.0/",
        "{authority}/v2.0.evil",
        "https://sts.windows.net/{tid}/",
        "{base}/not-a-tenant/v2.0",
        "{base}/{other_tid}/v2.0",
        "",
    ],
)
def test_front_channel_logout_from_another_issuer_revokes_nothing(
    browser: SignInDriver,
    ada: FakeUser,
    identity_platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    fabrikam: FakeTenant,
    foreign_issuer: str,
) -> None:
    tokens = browser.signed_in(ada)
    authority = identity_platform.authority(contoso)
    issuer = foreign_issuer.format(
        tid=contoso.tenant_id,
        other_tid=fabrikam.tenant_id,
        authority=authority,
        base=authority.rsplit("/", 1)[0],
    )
    if not issuer:
        issuer = "x" * 5000

    response = browser.client.get(
        "/api/sso/logout/frontchannel/", {"sid": ada_session_id(), "iss": issuer}
    )

    assert response.status_code == 200
    assert refresh(browser.client, tokens["refresh"]).status_code == 200


def test_front_channel_logout_from_a_tenant_not_allowed_here_revokes_nothing(
    browser: SignInDriver,
    ada: FakeUser,
    identity_platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    fabrikam: FakeTenant,
    multi_tenant: Any,
) -> None:
    tokens = browser.signed_in(ada)
    multi_tenant.MICROSOFT_SSO_ALLOWED_TENANTS = [fabrikam.tenant_id]
    base = identity_platform.authority("organizations").rsplit("/", 1)[0]

    browser.client.get(
        "/api/sso/logout/frontchannel/",
        {"sid": ada_session_id(), "iss": f"{base}/{contoso.tenant_id}/v2.0"},
    )

    assert refresh(browser.client, tokens["refresh"]).status_code == 200


def test_front_channel_logout_without_sid_is_harmless(browser: SignInDriver) -> None:
    assert browser.client.get("/api/sso/logout/frontchannel/").status_code == 200


def test_me_requires_a_bearer_token(browser: SignInDriver) -> None:
    response = browser.client.get("/api/sso/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    bad = me(browser.client, "nonsense")
    assert bad.status_code == 401
    assert bad.json()["code"] == "token_not_valid"


def test_simplejwts_own_refresh_view_refuses_our_refresh_tokens(
    browser: SignInDriver, ada: FakeUser
) -> None:
    # A project may have simplejwt's TokenRefreshView mounted too; it knows nothing of
    # families, so it must not accept a token that logout or reuse detection revoked.
    from rest_framework.test import APIRequestFactory
    from rest_framework_simplejwt.views import TokenRefreshView

    token = browser.signed_in(ada)["refresh"]
    logout(browser.client, token)
    request = APIRequestFactory().post("/token/refresh/", {"refresh": token}, format="json")

    response = TokenRefreshView.as_view()(request)

    assert response.status_code == 401


def test_me_answers_from_our_access_token_without_a_query(
    browser: SignInDriver, ada: FakeUser, django_assert_num_queries: Any
) -> None:
    access = browser.signed_in(ada)["access"]
    with django_assert_num_queries(0):
        body = me(browser.client, access).json()
    assert body["object_id"] == ada.object_id
    assert body["email"] == ada.email
    assert body["username"] == ada.email


def test_me_shows_a_changed_user_after_the_next_refresh(
    browser: SignInDriver, ada: FakeUser
) -> None:
    from django.contrib.auth import get_user_model

    tokens = browser.signed_in(ada)
    get_user_model().objects.update(first_name="Augusta")

    assert me(browser.client, tokens["access"]).json()["first_name"] == ada.given_name
    rotated = refresh(browser.client, tokens["refresh"]).json()
    assert me(browser.client, rotated["access"]).json()["first_name"] == "Augusta"


def test_a_profile_claim_cannot_be_edited_without_the_signing_key(
    browser: SignInDriver, ada: FakeUser
) -> None:
    import base64
    import json

    header, payload, signature = browser.signed_in(ada)["access"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sso_user"]["username"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()

    response = me(browser.client, f"{header}.{forged}.{signature}")

    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_me_looks_the_user_up_when_simplejwt_checks_for_password_changes(
    browser: SignInDriver, ada: FakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    # CHECK_REVOKE_TOKEN compares a hash of the stored password, so the token alone
    # cannot answer: the user is read, and a changed password ends the token.
    from django.contrib.auth import get_user_model

    # Set on the settings object simplejwt's modules imported: on setting_changed
    # simplejwt builds a new one, which modules already loaded never see.
    monkeypatch.setattr(
        "rest_framework_simplejwt.authentication.api_settings.CHECK_REVOKE_TOKEN", True
    )
    access = browser.signed_in(ada)["access"]
    assert me(browser.client, access).status_code == 200
    user = get_user_model().objects.get()
    user.set_password("a new password")
    user.save()

    response = me(browser.client, access)

    assert response.status_code == 401
    assert response.json()["code"] == "password_changed"


def test_me_from_the_token_says_what_me_from_the_database_says(
    browser: SignInDriver, ada: FakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Even when simplejwt names users by another field than the primary key.
    from django.contrib.auth import get_user_model

    settings = "rest_framework_simplejwt.authentication.api_settings"
    monkeypatch.setattr(f"{settings}.USER_ID_FIELD", "username")
    with monkeypatch.context() as looked_up:
        looked_up.setattr(f"{settings}.CHECK_REVOKE_TOKEN", True)
        access = browser.signed_in(ada)["access"]
        from_database = me(browser.client, access).json()

    from_token = me(browser.client, access).json()

    assert from_token == from_database
    assert from_token["id"] == str(get_user_model().objects.get().pk)


def test_me_names_the_identity_for_a_plain_simplejwt_token_too(
    browser: SignInDriver, ada: FakeUser
) -> None:
    from django.contrib.auth import get_user_model
    from rest_framework_simplejwt.tokens import AccessToken

    browser.signed_in(ada)
    plain = AccessToken.for_user(get_user_model().objects.get())
    assert me(browser.client, str(plain)).json()["object_id"] == ada.object_id


@pytest.mark.parametrize("endpoint", ["token/", "token/refresh/", "logout/"])
def test_a_disabled_app_refuses_every_token_endpoint(
    browser: SignInDriver, ada: FakeUser, sso: Any, endpoint: str
) -> None:
    attempt = browser.sign_in(ada)
    tokens = browser.signed_in(ada)
    sso.MICROSOFT_SSO_ENABLED = False
    body = {"token/": {"sso_code": attempt.sso_code, "code_verifier": attempt.pkce.verifier}}.get(
        endpoint, {"refresh": tokens["refresh"]}
    )

    response = browser.client.post(f"/api/sso/{endpoint}", body, content_type="application/json")

    assert response.status_code == 403
    assert response.json()["code"] == "sso_disabled"
    assert RefreshSession.objects.filter(revoked_at__isnull=False).count() == 0


def test_a_callable_session_lifetime_is_given_the_signing_in_request(
    browser: SignInDriver, ada: FakeUser, sso: Any
) -> None:
    seen: list[object] = []

    def lifetime(request: object) -> timedelta:
        seen.append(request)
        return timedelta(hours=1)

    sso.MICROSOFT_SSO_SESSION_LIFETIME = lifetime
    browser.signed_in(ada)

    session = RefreshSession.objects.get()
    assert seen
    assert all(request is not None for request in seen)
    assert session.expires_at - session.created_at < timedelta(hours=1, seconds=5)


def test_logout_sends_the_browser_back_to_the_clients_own_destination(
    browser: SignInDriver, ada: FakeUser, sso: Any
) -> None:
    sso.MICROSOFT_SSO_SLO_ENABLED = True
    tokens = browser.signed_in(ada)

    response = browser.client.post(
        "/api/sso/logout/",
        {"refresh": tokens["refresh"], "next": "myapp://auth/signed-out"},
        content_type="application/json",
    )

    query = parse_qs(urlsplit(response.json()["logout_url"]).query)
    assert query["post_logout_redirect_uri"] == ["myapp://auth/signed-out"]


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example", "otherapp://x"])
def test_logout_to_a_destination_not_allowed_is_refused_before_anything_is_revoked(
    browser: SignInDriver, ada: FakeUser, sso: Any, next_url: str
) -> None:
    sso.MICROSOFT_SSO_SLO_ENABLED = True
    tokens = browser.signed_in(ada)

    response = browser.client.post(
        "/api/sso/logout/",
        {"refresh": tokens["refresh"], "next": next_url},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_next_url"
    assert RefreshSession.objects.get().revoked_at is None


def test_the_front_channel_page_may_also_be_framed_by_a_sign_out_page_on_another_origin(
    browser: SignInDriver, sso: Any
) -> None:
    # A platform whose browser pages (sign-out included) live on a plain-HTTP origin of
    # their own, as in the demo.
    with FakeIdentityPlatform(browser_port=0) as split:
        tenant = split.add_tenant("Contoso", "contoso.example")
        app = split.register_app(redirect_uris=["http://testserver/api/sso/callback/"])
        sso.MICROSOFT_SSO_APPLICATION_ID = app.client_id
        sso.MICROSOFT_SSO_CLIENT_SECRET = app.client_secret
        sso.MICROSOFT_SSO_TENANT_ID = tenant.tenant_id
        sso.MICROSOFT_SSO_AUTHORITY = split.authority(tenant)
        sso.MICROSOFT_SSO_CA_BUNDLE = split.ca_bundle

        response = browser.client.get("/api/sso/logout/frontchannel/")

        authority = urlsplit(split.authority(tenant))
        assert response["Content-Security-Policy"] == (
            f"frame-ancestors 'self' {authority.scheme}://{authority.netloc} "
            f"{split.browser_base_url.rstrip('/')}"
        )
