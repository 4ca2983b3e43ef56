"""How msal is used: shared, quiet, bounded, and never blocking one user for another."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import msal
import pytest
from django.contrib.auth import get_user_model

from sso_api.conf import sso_settings
from sso_api.entra import client as client_module
from sso_api.entra.client import entra_client
from sso_api.entra.http import IdentityPlatformSession
from sso_api.testing import FakeIdentityPlatform, FakeUser
from sso_api.testing.client import SignInDriver

pytestmark = pytest.mark.django_db


def test_one_msal_application_serves_every_sign_in(browser: SignInDriver, ada: FakeUser) -> None:
    browser.signed_in(ada)
    app = entra_client(sso_settings()).msal_app()
    browser.signed_in(ada)
    assert entra_client(sso_settings()).msal_app() is app


def test_steady_state_costs_one_call_to_the_platform_per_sign_in(
    browser: SignInDriver, ada: FakeUser, identity_platform: FakeIdentityPlatform
) -> None:
    browser.signed_in(ada)  # warm: discovery and keys
    identity_platform.clear_requests()

    for _ in range(5):
        browser.signed_in(ada)

    assert identity_platform.count("token") == 5
    assert identity_platform.count("metadata") == 0
    assert identity_platform.count("keys") == 0


def test_discovery_is_fetched_once_per_process(
    browser: SignInDriver, ada: FakeUser, identity_platform: FakeIdentityPlatform
) -> None:
    identity_platform.clear_requests()
    for _ in range(3):
        browser.signed_in(ada)
    assert identity_platform.count("metadata") == 1


def test_the_discovery_document_is_fetched_again_once_a_day_old(
    browser: SignInDriver,
    ada: FakeUser,
    identity_platform: FakeIdentityPlatform,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    browser.signed_in(ada)
    client = entra_client(sso_settings())
    identity_platform.clear_requests()

    monkeypatch.setattr(client_module, "DISCOVERY_TTL_SECONDS", 0.0)  # the copy is now stale
    client.metadata()
    monkeypatch.setattr(client_module, "DISCOVERY_TTL_SECONDS", 24 * 3600.0)
    client.metadata()

    assert identity_platform.count("metadata") == 1


def test_a_failed_discovery_is_an_outage_and_is_not_remembered(
    browser: SignInDriver, identity_platform: FakeIdentityPlatform
) -> None:
    identity_platform.faults.metadata_status = 503
    failed = browser.start(next="/")
    identity_platform.faults.metadata_status = None
    recovered = browser.start(next="/")

    assert (failed.status_code, failed.json()["code"]) == (503, "provider_unavailable")
    assert recovered.status_code == 200


def test_msal_token_cache_does_not_grow_with_sign_ins(
    browser: SignInDriver, ada: FakeUser, grace: FakeUser
) -> None:
    browser.signed_in(ada)
    browser.signed_in(grace)
    cache = entra_client(sso_settings()).msal_app().token_cache
    for credential_type in (
        msal.TokenCache.CredentialType.ACCESS_TOKEN,
        msal.TokenCache.CredentialType.REFRESH_TOKEN,
        msal.TokenCache.CredentialType.ID_TOKEN,
        msal.TokenCache.CredentialType.ACCOUNT,
    ):
        assert list(cache.search(credential_type)) == []


@pytest.mark.parametrize(
    ("status", "retry_after"), [(500, None), (503, None), (429, 30)], ids=["500", "503", "429"]
)
def test_a_failing_token_call_for_one_user_does_not_block_the_next(
    browser: SignInDriver,
    ada: FakeUser,
    grace: FakeUser,
    identity_platform: FakeIdentityPlatform,
    status: int,
    retry_after: int | None,
) -> None:
    faults = identity_platform.faults
    faults.token_endpoint_status = status
    faults.token_endpoint_retry_after = retry_after
    faults.token_endpoint_fault_count = 1

    failed = browser.sign_in(ada)
    succeeded = browser.sign_in(grace)

    assert failed.error == "provider_unavailable"
    assert succeeded.error is None
    assert get_user_model().objects.count() == 1


def test_a_slow_token_endpoint_times_out_cleanly(
    browser: SignInDriver, ada: FakeUser, identity_platform: FakeIdentityPlatform, sso: Any
) -> None:
    sso.MICROSOFT_SSO_HTTP_TIMEOUT = 0.3
    identity_platform.faults.token_endpoint_delay = 1.0
    identity_platform.faults.token_endpoint_fault_count = 1
    assert browser.sign_in(ada).error == "provider_unavailable"
    assert not get_user_model().objects.exists()


def test_a_non_json_token_answer_is_an_outage_and_not_logged(
    browser: SignInDriver,
    ada: FakeUser,
    identity_platform: FakeIdentityPlatform,
    caplog: pytest.LogCaptureFixture,
) -> None:
    identity_platform.faults.token_endpoint_body = "<html>secret-looking-body</html>"
    identity_platform.faults.token_endpoint_status = 200
    assert browser.sign_in(ada).error == "provider_unavailable"
    assert "secret-looking-body" not in caplog.text


def test_a_refused_connection_is_an_outage(browser: SignInDriver, sso: Any, ada: FakeUser) -> None:
    browser.start(next="/")  # builds the app while the platform is reachable
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        dead_port = spare.getsockname()[1]
    sso.MICROSOFT_SSO_AUTHORITY = f"https://127.0.0.1:{dead_port}/contoso"
    response = browser.start(next="/")
    assert response.status_code == 503
    assert response.json()["code"] == "provider_unavailable"


def test_an_authority_that_is_not_microsofts_triggers_no_instance_discovery(
    browser: SignInDriver, ada: FakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    hosts: list[str] = []
    original = IdentityPlatformSession.request

    def recording(
        self: IdentityPlatformSession, method: Any, url: Any, *args: Any, **kwargs: Any
    ) -> Any:
        hosts.append(urlsplit(str(url)).hostname or "")
        return original(self, method, url, *args, **kwargs)

    monkeypatch.setattr(IdentityPlatformSession, "request", recording)
    browser.signed_in(ada)
    assert hosts
    assert set(hosts) == {"127.0.0.1"}


def test_the_ca_bundle_setting_beats_requests_ca_bundle(
    browser: SignInDriver, ada: FakeUser, unrelated_ca_bundle_in_environment: str
) -> None:
    import os

    assert os.environ["REQUESTS_CA_BUNDLE"] == unrelated_ca_bundle_in_environment
    assert browser.sign_in(ada).error is None


def test_without_the_ca_bundle_the_fake_platform_is_not_trusted(
    browser: SignInDriver, sso: Any
) -> None:
    sso.MICROSOFT_SSO_CA_BUNDLE = None
    response = browser.start(next="/")
    assert response.json()["code"] == "provider_unavailable"


def test_a_token_endpoint_that_refuses_connections_is_an_outage(sso: Any, tmp_path: Any) -> None:
    # A platform of its own, so that it can be stopped between /start/ and the callback.
    platform = FakeIdentityPlatform(certificate_dir=tmp_path)
    platform.start()
    tenant = platform.add_tenant(name="Gone", domain="gone.example")
    user = platform.add_user(tenant, name="Gone User", email="user@gone.example")
    app = platform.register_app(redirect_uris=["http://testserver/api/sso/callback/"])
    sso.MICROSOFT_SSO_APPLICATION_ID = app.client_id
    sso.MICROSOFT_SSO_CLIENT_SECRET = app.client_secret
    sso.MICROSOFT_SSO_TENANT_ID = tenant.tenant_id
    sso.MICROSOFT_SSO_AUTHORITY = platform.authority(tenant)
    sso.MICROSOFT_SSO_CA_BUNDLE = platform.ca_bundle
    browser = SignInDriver(platform)
    started = browser.start(next="/app/").json()
    answer = platform.authorize(started["authorization_url"], user=user)

    platform.stop()
    response = browser.deliver(answer)

    assert "sso_error=provider_unavailable" in response["Location"]
    assert not get_user_model().objects.exists()
