"""Entra access tokens for this API, accepted directly as bearer tokens on any DRF view."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.test.utils import CaptureQueriesContext
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from sso_api.authentication import AccessTokenAuthentication, EntraAccessTokenAuthentication
from sso_api.entra.access_token import CLOCK_SKEW_SECONDS
from sso_api.entra.client import clear_clients
from sso_api.models import MicrosoftIdentity
from sso_api.permissions import HasAppRole, HasScope
from sso_api.testing import FakeApp, FakeIdentityPlatform, FakeTenant, FakeUser
from sso_api.testing.claims import GRAPH_APP_ID
from sso_api.testing.client import SignInDriver

pytestmark = pytest.mark.django_db
User = get_user_model()


class WhoAmI(APIView):
    authentication_classes: Sequence[type[BaseAuthentication]] = (EntraAccessTokenAuthentication,)
    permission_classes: Sequence[type[BasePermission]] = (IsAuthenticated,)

    def get(self, request: Any) -> Response:
        return Response({"user": request.user.get_username(), "client": request.auth.client_id})


class EitherToken(WhoAmI):
    authentication_classes: Sequence[type[BaseAuthentication]] = (
        EntraAccessTokenAuthentication,
        AccessTokenAuthentication,
    )

    def get(self, request: Any) -> Response:
        return Response({"user": request.user.get_username()})


class OursOnly(EitherToken):
    authentication_classes = (AccessTokenAuthentication,)


class AdminsOnly(WhoAmI):
    permission_classes = (IsAuthenticated, HasAppRole)
    required_app_roles: tuple[str, ...] = ("Admin",)


def call(view: type[APIView], token: str) -> Response:
    request = APIRequestFactory().get("/", headers={"Authorization": f"Bearer {token}"})
    response: Response = view.as_view()(request)
    return response


@pytest.fixture
def api(exposed_api: FakeApp) -> FakeApp:
    return exposed_api


def mint(
    platform: FakeIdentityPlatform, user: FakeUser, api: FakeApp, client: FakeApp, **extra: Any
) -> str:
    return platform.mint_access_token(user, api=api, client=client, **extra)


@pytest.mark.parametrize("version", [1, 2])
def test_a_valid_entra_token_signs_its_user_in_created_on_first_sight(
    identity_platform: FakeIdentityPlatform,
    api: FakeApp,
    mobile_app: FakeApp,
    ada: FakeUser,
    version: Any,
) -> None:
    token = mint(identity_platform, ada, api, mobile_app, version=version)

    response = call(WhoAmI, token)

    assert response.status_code == 200
    assert response.data == {"user": "ada@contoso.example", "client": mobile_app.client_id}
    identity = MicrosoftIdentity.objects.get()
    assert (identity.tenant_id, identity.object_id) == (ada.tenant_id, ada.object_id)


def test_a_known_account_costs_one_query_no_write_and_no_outbound_call(
    identity_platform: FakeIdentityPlatform, api: FakeApp, mobile_app: FakeApp, ada: FakeUser
) -> None:
    assert call(WhoAmI, mint(identity_platform, ada, api, mobile_app)).status_code == 200
    identity_platform.clear_requests()
    token = mint(identity_platform, ada, api, mobile_app)

    with CaptureQueriesContext(connections["default"]) as first:
        response = call(WhoAmI, token)
    with CaptureQueriesContext(connections["default"]) as while_cached:
        again = call(WhoAmI, token)

    assert (response.status_code, again.status_code) == (200, 200)
    assert len(first) == 1
    assert first[0]["sql"].lstrip().upper().startswith("SELECT")
    assert len(while_cached) == 0
    assert sum(identity_platform.count(endpoint) for endpoint in ("metadata", "keys")) == 0


@pytest.fixture
def ada_token(
    identity_platform: FakeIdentityPlatform, api: FakeApp, mobile_app: FakeApp, ada: FakeUser
) -> str:
    """A valid Entra access token of Ada's for this API, from the mobile app."""
    return mint(identity_platform, ada, api, mobile_app)


def known_and_cached(token: str) -> str:
    """``token``, after a first request (which creates its user) and a second (which
    leaves the user in this worker's cache)."""
    assert call(WhoAmI, token).status_code == 200
    assert call(WhoAmI, token).status_code == 200
    return token


def test_without_the_user_cache_every_request_costs_its_one_query(ada_token: str, sso: Any) -> None:
    sso.MICROSOFT_SSO_API_USER_CACHE_SECONDS = 0
    call(WhoAmI, ada_token)

    for _ in range(2):
        with CaptureQueriesContext(connections["default"]) as queries:
            assert call(WhoAmI, ada_token).status_code == 200
        assert len(queries) == 1


def test_deactivating_a_user_through_the_orm_is_seen_on_the_next_request(ada_token: str) -> None:
    token = known_and_cached(ada_token)

    user = User.objects.get()
    user.is_active = False
    user.save()

    refused = call(WhoAmI, token)
    assert (refused.status_code, refused.data["code"]) == (403, "user_inactive")


def test_a_bulk_deactivation_is_seen_once_the_user_cache_time_has_passed(
    ada_token: str, sso: Any
) -> None:
    sso.MICROSOFT_SSO_API_USER_CACHE_SECONDS = 0.5
    token = known_and_cached(ada_token)

    User.objects.update(is_active=False)  # no signal: the cache's deadline bounds it
    time.sleep(0.6)

    refused = call(WhoAmI, token)
    assert (refused.status_code, refused.data["code"]) == (403, "user_inactive")


def test_deleting_an_identity_ends_what_its_cached_user_allowed(ada_token: str, sso: Any) -> None:
    token = known_and_cached(ada_token)
    sso.MICROSOFT_SSO_AUTO_CREATE_USERS = False

    MicrosoftIdentity.objects.get().delete()

    refused = call(WhoAmI, token)
    assert (refused.status_code, refused.data["code"]) == (403, "user_not_found")


class Renames(WhoAmI):
    def get(self, request: Any) -> Response:
        seen = request.user.first_name
        request.user.first_name = "Changed by a view"
        return Response({"first_name": seen})


def test_each_request_gets_its_own_copy_of_a_cached_user(ada_token: str, ada: FakeUser) -> None:
    token = known_and_cached(ada_token)

    first, second = call(Renames, token), call(Renames, token)

    assert first.data["first_name"] == second.data["first_name"] == ada.given_name


def test_a_remembered_token_is_checked_again_against_changed_settings(
    ada_token: str, sso: Any
) -> None:
    token = known_and_cached(ada_token)

    sso.MICROSOFT_SSO_API_CLIENT_IDS = ["00000000-0000-0000-0000-0000000000aa"]
    refused = call(WhoAmI, token)
    sso.MICROSOFT_SSO_API_CLIENT_IDS = []
    sso.MICROSOFT_SSO_API_SCOPE = "something.else"
    no_scope = call(WhoAmI, token)

    assert (refused.status_code, refused.data["code"]) == (403, "entra_client_not_allowed")
    assert (no_scope.status_code, no_scope.data["code"]) == (403, "entra_scope_missing")


def test_a_remembered_token_is_refused_once_it_expires(
    identity_platform: FakeIdentityPlatform, api: FakeApp, mobile_app: FakeApp, ada: FakeUser
) -> None:
    # Issued so that its expiry, plus the leeway, falls a second and a half from now.
    issued_at = time.time() - 3600 - CLOCK_SKEW_SECONDS + 1.5
    token = known_and_cached(mint(identity_platform, ada, api, mobile_app, issued_at=issued_at))

    time.sleep(2)

    expired = call(WhoAmI, token)
    assert (expired.status_code, expired.data["code"]) == (401, "invalid_entra_token")


def test_our_tokens_still_work_beside_the_entra_class_while_sign_in_is_off(
    browser: SignInDriver, ada: FakeUser, ada_token: str, sso: Any
) -> None:
    ours = browser.signed_in(ada)["access"]
    sso.MICROSOFT_SSO_ENABLED = False

    assert call(EitherToken, ours).status_code == 200
    assert call(EitherToken, ada_token).data["code"] == "sso_disabled"
    assert call(EitherToken, "not-a-jwt").status_code == 401
    assert call(EitherToken, "not-a-jwt").data["code"] == "token_not_valid"


def test_our_tokens_beside_the_entra_class_never_wait_on_microsoft(
    browser: SignInDriver, identity_platform: FakeIdentityPlatform, ada: FakeUser
) -> None:
    ours = browser.signed_in(ada)["access"]
    clear_clients()  # a worker that has not fetched Microsoft's metadata or keys yet
    identity_platform.clear_requests()

    assert call(EitherToken, ours).status_code == 200
    assert sum(identity_platform.count(name) for name in ("metadata", "keys")) == 0


def test_a_remembered_token_is_verified_again_after_a_while(
    identity_platform: FakeIdentityPlatform, ada_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sso_api.entra.client.VALIDATED_ACCESS_TOKEN_SECONDS", 0.5)
    known_and_cached(ada_token)
    # Microsoft withdraws the key that signed it, and this worker refetches its key set.
    identity_platform.rotate_signing_key(keep_old=False)
    monkeypatch.setattr("sso_api.entra.metadata.KEYS_TTL_SECONDS", 0.0)

    still_remembered = call(WhoAmI, ada_token)
    time.sleep(0.6)
    verified_again = call(WhoAmI, ada_token)

    assert still_remembered.status_code == 200
    assert (verified_again.status_code, verified_again.data["code"]) == (
        401,
        "invalid_entra_token",
    )


def test_the_claims_of_a_remembered_token_cannot_be_changed_by_a_view(ada_token: str) -> None:
    class Tampers(WhoAmI):
        def get(self, request: Any) -> Response:
            request.auth.payload["scp"] = "everything"
            return Response({})

    known_and_cached(ada_token)
    with pytest.raises(TypeError):
        call(Tampers, ada_token)


REFUSED_AS_INVALID = {
    "graph-token": {"overrides": {"aud": GRAPH_APP_ID}},
    "other-api": {"overrides": {"aud": "api://someone-else"}},
    "audience-list": {"overrides": {"aud": ["api://someone-else", "{api}"]}},
    "expired": {"issued_at": time.time() - 3 * 3600},
    "not-yet-valid": {"issued_at": time.time() + 3600},
    "alg-none": {"signing": "alg_none"},
    "hs256": {"signing": "hs256"},
    "hs256-with-the-secret": {"signing": "hs256_client_secret"},
    "wrong-key-valid-kid": {"signing": "wrong_key"},
    "unknown-kid": {"signing": "unknown_kid"},
    "other-issuer": {"overrides": {"iss": "https://login.microsoftonline.com/other/v2.0"}},
    "no-uti": {"remove": {"uti"}},
    "an-id-token": {"remove": {"azp", "scp"}, "overrides": {"nonce": "n"}},
}


@pytest.mark.parametrize("change", REFUSED_AS_INVALID.values(), ids=REFUSED_AS_INVALID.keys())
def test_tokens_that_are_not_for_this_api_are_refused(
    identity_platform: FakeIdentityPlatform,
    api: FakeApp,
    mobile_app: FakeApp,
    ada: FakeUser,
    change: dict[str, Any],
) -> None:
    overrides = {
        name: [api.client_id if item == "{api}" else item for item in value]
        if isinstance(value, list)
        else value
        for name, value in change.get("overrides", {}).items()
    }
    token = mint(identity_platform, ada, api, mobile_app, **{**change, "overrides": overrides})

    response = call(WhoAmI, token)

    assert response.status_code == 401
    assert response.data == {
        "detail": "The Microsoft access token is invalid, expired or not meant for this API.",
        "code": "invalid_entra_token",
    }
    assert not User.objects.exists()


def test_an_app_only_token_is_refused(
    identity_platform: FakeIdentityPlatform, api: FakeApp, contoso: FakeTenant
) -> None:
    daemon = identity_platform.register_app()
    token = identity_platform.mint_app_token(daemon, api=api, tenant=contoso)
    response = call(WhoAmI, token)
    assert (response.status_code, response.data["code"]) == (403, "entra_scope_missing")


def test_a_token_without_the_apis_scope_is_refused(
    identity_platform: FakeIdentityPlatform, api: FakeApp, mobile_app: FakeApp, ada: FakeUser
) -> None:
    response = call(WhoAmI, mint(identity_platform, ada, api, mobile_app, remove={"scp"}))
    assert (response.status_code, response.data["code"]) == (403, "entra_scope_missing")


def test_only_listed_client_apps_are_accepted_when_a_list_is_set(
    identity_platform: FakeIdentityPlatform,
    api: FakeApp,
    mobile_app: FakeApp,
    ada: FakeUser,
    sso: Any,
) -> None:
    other_app = identity_platform.register_app(public_client=True)
    sso.MICROSOFT_SSO_API_CLIENT_IDS = [mobile_app.client_id]

    assert call(WhoAmI, mint(identity_platform, ada, api, mobile_app)).status_code == 200
    refused = call(WhoAmI, mint(identity_platform, ada, api, other_app))
    assert (refused.status_code, refused.data["code"]) == (403, "entra_client_not_allowed")


def test_the_user_policy_applies_to_entra_tokens(
    identity_platform: FakeIdentityPlatform,
    api: FakeApp,
    mobile_app: FakeApp,
    ada: FakeUser,
    grace: FakeUser,
    sso: Any,
) -> None:
    sso.MICROSOFT_SSO_AUTO_CREATE_USERS = False
    unknown = call(WhoAmI, mint(identity_platform, ada, api, mobile_app))
    assert (unknown.status_code, unknown.data["code"]) == (403, "user_not_found")

    sso.MICROSOFT_SSO_AUTO_CREATE_USERS = True
    assert call(WhoAmI, mint(identity_platform, grace, api, mobile_app)).status_code == 200
    User.objects.update(is_active=False)
    inactive = call(WhoAmI, mint(identity_platform, grace, api, mobile_app))
    assert (inactive.status_code, inactive.data["code"]) == (403, "user_inactive")

    sso.MICROSOFT_SSO_ALLOWED_TENANTS = ["00000000-0000-0000-0000-00000000000f"]
    foreign = call(WhoAmI, mint(identity_platform, grace, api, mobile_app))
    assert (foreign.status_code, foreign.data["code"]) == (403, "tenant_not_allowed")


def test_our_jwt_and_entra_tokens_are_never_taken_for_each_other(
    identity_platform: FakeIdentityPlatform,
    api: FakeApp,
    mobile_app: FakeApp,
    ada: FakeUser,
    browser: SignInDriver,
) -> None:
    ours = browser.signed_in(ada)["access"]
    entra = mint(identity_platform, ada, api, mobile_app)

    assert call(WhoAmI, ours).status_code == 401  # left to other classes: none here
    assert call(OursOnly, entra).status_code == 401
    assert call(OursOnly, entra).data["code"] == "token_not_valid"
    assert call(EitherToken, ours).status_code == 200
    assert call(EitherToken, entra).status_code == 200


def test_app_roles_of_an_entra_token_satisfy_the_app_role_permission(
    identity_platform: FakeIdentityPlatform, api: FakeApp, mobile_app: FakeApp, ada: FakeUser
) -> None:
    ada_roles = ada.roles
    try:
        ada.roles = ("Admin",)
        allowed = call(AdminsOnly, mint(identity_platform, ada, api, mobile_app))
        ada.roles = ()
        refused = call(AdminsOnly, mint(identity_platform, ada, api, mobile_app))
    finally:
        ada.roles = ada_roles
    assert allowed.status_code == 200
    assert (refused.status_code, refused.data["code"]) == (403, "app_role_required")


class NeedsScope(WhoAmI):
    authentication_classes: Sequence[type[BaseAuthentication]] = (
        EntraAccessTokenAuthentication,
        AccessTokenAuthentication,
    )
    permission_classes = (IsAuthenticated, HasScope)
    required_scopes: tuple[str, ...] = ("access_as_user",)

    def get(self, request: Any) -> Response:
        return Response({"ok": True})


class NeedsWrite(NeedsScope):
    required_scopes = ("Orders.Write",)


def test_the_scope_permission_reads_entra_tokens_and_ours_alike(
    identity_platform: FakeIdentityPlatform,
    api: FakeApp,
    mobile_app: FakeApp,
    ada: FakeUser,
    browser: SignInDriver,
) -> None:
    entra = mint(identity_platform, ada, api, mobile_app)
    ours = browser.signed_in(ada)["access"]  # a browser sign-in holds this API's scope

    for token in (entra, ours):
        assert call(NeedsScope, token).status_code == 200
        refused = call(NeedsWrite, token)
        assert (refused.status_code, refused.data["code"]) == (403, "scope_required")


def test_an_exchanged_session_keeps_the_entra_tokens_scopes(
    identity_platform: FakeIdentityPlatform,
    entra_app: FakeApp,
    mobile_app: FakeApp,
    ada: FakeUser,
    browser: SignInDriver,
    sso: Any,
) -> None:
    identity_platform.expose_api(
        entra_app, access_token_version=2, scopes=("access_as_user", "Orders.Write")
    )
    sso.MICROSOFT_SSO_EXCHANGE_ENABLED = True
    entra = mint(identity_platform, ada, entra_app, mobile_app)
    exchanged = browser.client.post(
        "/api/sso/token/exchange/", {"access_token": entra}, content_type="application/json"
    ).json()

    assert call(NeedsWrite, exchanged["access"]).status_code == 200
    refreshed = browser.client.post(
        "/api/sso/token/refresh/",
        {"refresh": exchanged["refresh"]},
        content_type="application/json",
    ).json()
    assert call(NeedsWrite, refreshed["access"]).status_code == 200


def test_a_token_minted_elsewhere_holds_no_scope(browser: SignInDriver, ada: FakeUser) -> None:
    from rest_framework_simplejwt.tokens import AccessToken

    browser.signed_in(ada)
    token = AccessToken.for_user(User.objects.get())
    token["scp"] = "access_as_user"
    assert call(NeedsScope, str(token)).status_code == 403


def test_the_schema_declares_both_bearer_schemes() -> None:
    import yaml

    committed = Path(__file__).resolve().parent.parent / "docs" / "openapi.yaml"
    schema = yaml.safe_load(committed.read_text())
    schemes = schema["components"]["securitySchemes"]
    assert schemes["jwtAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    flow = schemes["entraOAuth2"]["flows"]["authorizationCode"]
    assert flow["authorizationUrl"].endswith("/oauth2/v2.0/authorize")
    assert flow["tokenUrl"].endswith("/oauth2/v2.0/token")
    assert list(flow["scopes"]) == ["api://schema/access_as_user"]
    security = schema["paths"]["/api/example/admin-report/"]["get"]["security"]
    assert {"jwtAuth": []} in security
    assert {"entraOAuth2": ["api://schema/access_as_user"]} in security
