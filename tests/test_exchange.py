"""Door 1 for apps that use MSAL: an Entra access token for this API, exchanged once for
our tokens, which then refresh, sign out and end at Microsoft's logout like any others."""

from __future__ import annotations

import time
from typing import Any

import msal
import pytest
from django.contrib.auth import get_user_model

from sso_api.models import RefreshSession
from sso_api.testing import FakeApp, FakeIdentityPlatform, FakeTenant, FakeUser
from sso_api.testing.client import SignInDriver
from tests.https import TrustingSession

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def api(exposed_api: FakeApp, sso: Any) -> FakeApp:
    """The exposed API, with the exchange turned on."""
    sso.MICROSOFT_SSO_EXCHANGE_ENABLED = True
    return exposed_api


def exchange(browser: SignInDriver, token: str) -> Any:
    return browser.client.post(
        "/api/sso/token/exchange/", {"access_token": token}, content_type="application/json"
    )


@pytest.mark.parametrize("version", [1, 2])
def test_an_entra_token_is_exchanged_for_tokens_shaped_like_token_answers(
    browser: SignInDriver,
    identity_platform: FakeIdentityPlatform,
    api: FakeApp,
    mobile_app: FakeApp,
    ada: FakeUser,
    version: Any,
) -> None:
    token = identity_platform.mint_access_token(ada, api=api, client=mobile_app, version=version)

    response = exchange(browser, token)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh", "token_type", "expires_in", "user"}
    assert body["user"]["email"] == "ada@contoso.example"
    assert (body["user"]["tenant_id"], body["user"]["object_id"]) == (
        ada.tenant_id,
        ada.object_id,
    )
    me = browser.client.get("/api/sso/me/", HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert me.json() == body["user"]


def test_the_exchanged_refresh_token_refreshes_and_signs_out(
    browser: SignInDriver,
    identity_platform: FakeIdentityPlatform,
    api: FakeApp,
    mobile_app: FakeApp,
    ada: FakeUser,
) -> None:
    body = exchange(browser, identity_platform.mint_access_token(ada, api=api, client=mobile_app))
    refreshed = browser.client.post(
        "/api/sso/token/refresh/",
        {"refresh": body.json()["refresh"]},
        content_type="application/json",
    )
    assert refreshed.status_code == 200

    logout = browser.client.post(
        "/api/sso/logout/",
        {"refresh": refreshed.json()["refresh"]},
        content_type="application/json",
    )

    assert logout.status_code == 200
    assert RefreshSession.objects.get().revoked_at is not None


def test_an_entra_token_is_exchanged_only_once(
    browser: SignInDriver,
    identity_platform: FakeIdentityPlatform,
    api: FakeApp,
    mobile_app: FakeApp,
    ada: FakeUser,
) -> None:
    token = identity_platform.mint_access_token(ada, api=api, client=mobile_app)
    assert exchange(browser, token).status_code == 200

    again = exchange(browser, token)

    assert (again.status_code, again.json()["code"]) == (401, "entra_token_reused")
    assert RefreshSession.objects.count() == 1


def test_the_exchange_is_off_by_default(
    browser: SignInDriver,
    identity_platform: FakeIdentityPlatform,
    api: FakeApp,
    mobile_app: FakeApp,
    ada: FakeUser,
    sso: Any,
) -> None:
    sso.MICROSOFT_SSO_EXCHANGE_ENABLED = False
    response = exchange(
        browser, identity_platform.mint_access_token(ada, api=api, client=mobile_app)
    )
    assert (response.status_code, response.json()["code"]) == (403, "exchange_disabled")
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        (
            {"overrides": {"aud": "00000003-0000-0000-c000-000000000000"}},
            401,
            "invalid_entra_token",
        ),
        ({"issued_at": time.time() - 3 * 3600}, 401, "invalid_entra_token"),
        ({"signing": "wrong_key"}, 401, "invalid_entra_token"),
        ({"remove": {"scp"}}, 403, "entra_scope_missing"),
    ],
    ids=["graph-token", "expired", "wrong-key", "no-scope"],
)
def test_a_refused_token_creates_nothing(
    browser: SignInDriver,
    identity_platform: FakeIdentityPlatform,
    api: FakeApp,
    mobile_app: FakeApp,
    ada: FakeUser,
    change: dict[str, Any],
    status: int,
    code: str,
) -> None:
    token = identity_platform.mint_access_token(ada, api=api, client=mobile_app, **change)
    response = exchange(browser, token)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert not User.objects.exists()


def test_an_app_only_token_is_refused(
    browser: SignInDriver,
    identity_platform: FakeIdentityPlatform,
    api: FakeApp,
    contoso: FakeTenant,
) -> None:
    daemon = identity_platform.register_app()
    token = identity_platform.mint_app_token(daemon, api=api, tenant=contoso)
    assert exchange(browser, token).json()["code"] == "entra_scope_missing"


def test_the_browser_sign_in_policy_applies(
    browser: SignInDriver,
    identity_platform: FakeIdentityPlatform,
    api: FakeApp,
    mobile_app: FakeApp,
    ada: FakeUser,
    sso: Any,
) -> None:
    sso.MICROSOFT_SSO_ALLOWABLE_DOMAINS = ["fabrikam.example"]
    refused = exchange(
        browser, identity_platform.mint_access_token(ada, api=api, client=mobile_app)
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "domain_not_allowed")

    sso.MICROSOFT_SSO_ALLOWABLE_DOMAINS = ["contoso.example"]
    sso.MICROSOFT_SSO_STAFF_LIST = ["ada@contoso.example"]
    sso.MICROSOFT_SSO_GROUP_MAP = {"Admin": "Admins"}
    ada_roles = ada.roles
    try:
        ada.roles = ("Admin",)
        token = identity_platform.mint_access_token(ada, api=api, client=mobile_app)
    finally:
        ada.roles = ada_roles
    assert exchange(browser, token).status_code == 200
    user = User.objects.get()
    assert user.is_staff is True
    assert set(user.groups.values_list("name", flat=True)) == {"Admins"}


@pytest.mark.parametrize("version", [2, 1])
def test_a_native_app_signs_in_with_msal_and_exchanges_its_token_end_to_end(
    browser: SignInDriver,
    identity_platform: FakeIdentityPlatform,
    entra_app: FakeApp,
    contoso: FakeTenant,
    ada: FakeUser,
    sso: Any,
    version: Any,
) -> None:
    # The API's registration exposes a scope; the app is a public client with PKCE.
    exposed = identity_platform.expose_api(
        entra_app, access_token_version=version, optional_claims=("email", "xms_edov")
    )
    sso.MICROSOFT_SSO_EXCHANGE_ENABLED = True
    native = identity_platform.register_app(redirect_uris=["myapp://auth"], public_client=True)
    app = msal.PublicClientApplication(
        native.client_id,
        authority=identity_platform.authority(contoso),
        instance_discovery=False,
        http_client=TrustingSession(identity_platform.ca_bundle),
    )
    flow = app.initiate_auth_code_flow(
        scopes=[f"{exposed.identifier_uri}/access_as_user"], redirect_uri="myapp://auth"
    )
    answer = identity_platform.authorize(flow["auth_uri"], user=ada)
    result = app.acquire_token_by_auth_code_flow(flow, answer.params)
    assert "access_token" in result, result.get("error")

    ours = exchange(browser, result["access_token"])
    assert ours.status_code == 200
    tokens = ours.json()
    me = browser.client.get("/api/sso/me/", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert me.json()["email"] == "ada@contoso.example"
    refreshed = browser.client.post(
        "/api/sso/token/refresh/", {"refresh": tokens["refresh"]}, content_type="application/json"
    ).json()
    signed_out = browser.client.post(
        "/api/sso/logout/", {"refresh": refreshed["refresh"]}, content_type="application/json"
    )
    assert signed_out.status_code == 200
    assert RefreshSession.objects.get().revoked_at is not None


def test_an_exchanged_session_with_a_sid_ends_at_front_channel_logout(
    browser: SignInDriver,
    identity_platform: FakeIdentityPlatform,
    api: FakeApp,
    mobile_app: FakeApp,
    ada: FakeUser,
) -> None:
    token = identity_platform.mint_access_token(
        ada, api=api, client=mobile_app, overrides={"sid": "microsoft-session-1"}
    )
    refresh = exchange(browser, token).json()["refresh"]

    browser.client.get("/api/sso/logout/frontchannel/", {"sid": "microsoft-session-1"})

    again = browser.client.post(
        "/api/sso/token/refresh/", {"refresh": refresh}, content_type="application/json"
    )
    assert again.json()["code"] == "session_revoked"
