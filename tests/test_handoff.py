"""The one-time ``sso_code`` binds a sign-in to the client that started it."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model

from sso_api import flows
from sso_api.models import RefreshSession
from sso_api.testing import FakeIdentityPlatform, FakeUser
from sso_api.testing.client import Pkce, SignInDriver

pytestmark = pytest.mark.django_db


def test_the_code_redeems_once(browser: SignInDriver, ada: FakeUser) -> None:
    attempt = browser.sign_in(ada)
    assert browser.redeem(attempt.sso_code, attempt.pkce.verifier).status_code == 200

    again = browser.redeem(attempt.sso_code, attempt.pkce.verifier)

    assert again.status_code == 400
    assert again.json() == {
        "detail": again.json()["detail"],
        "code": "invalid_sso_code",
    }


def test_a_wrong_verifier_burns_the_code(browser: SignInDriver, ada: FakeUser) -> None:
    attempt = browser.sign_in(ada)

    wrong = browser.redeem(attempt.sso_code, Pkce.new().verifier)
    right_but_late = browser.redeem(attempt.sso_code, attempt.pkce.verifier)

    assert wrong.json()["code"] == "invalid_code_verifier"
    assert right_but_late.json()["code"] == "invalid_sso_code"
    assert not RefreshSession.objects.exists()


@pytest.mark.parametrize("verifier", [None, "", "short", "ä" * 50])
def test_a_missing_or_malformed_verifier_is_refused(
    browser: SignInDriver, ada: FakeUser, verifier: str | None
) -> None:
    attempt = browser.sign_in(ada)
    response = browser.redeem(attempt.sso_code, verifier)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_code_verifier"


def test_a_callback_url_replayed_in_another_browser_yields_no_tokens(
    browser: SignInDriver, ada: FakeUser, identity_platform: FakeIdentityPlatform
) -> None:
    victim_attempt = browser.sign_in(ada)
    other_browser = SignInDriver(identity_platform)

    # The other browser holds the URL (with its sso_code) but not the victim's verifier.
    stolen = other_browser.redeem(victim_attempt.sso_code, Pkce.new().verifier)

    assert stolen.status_code == 400
    assert not RefreshSession.objects.exists()


def test_an_attackers_callback_pushed_into_a_victims_browser_yields_no_tokens(
    browser: SignInDriver, ada: FakeUser, identity_platform: FakeIdentityPlatform
) -> None:
    attacker = SignInDriver(identity_platform)
    attacker_attempt = attacker.sign_in(ada)
    # The victim's app started its own flow and holds its own verifier.
    victim_pkce = Pkce.new()
    browser.start(pkce=victim_pkce, next="/app/")

    response = browser.redeem(attacker_attempt.sso_code, victim_pkce.verifier)

    assert response.json()["code"] == "invalid_code_verifier"
    assert not RefreshSession.objects.exists()


def test_the_code_expires_after_sixty_seconds(
    browser: SignInDriver, ada: FakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert flows.HANDOFF_TTL_SECONDS <= 60
    monkeypatch.setattr(flows, "HANDOFF_TTL_SECONDS", 1)
    attempt = browser.sign_in(ada)
    time.sleep(1.2)
    assert browser.redeem(attempt.sso_code, attempt.pkce.verifier).json()["code"] == (
        "invalid_sso_code"
    )


def test_pkce_can_be_made_optional_and_then_a_code_redeems_without_a_verifier(
    browser: SignInDriver, ada: FakeUser, identity_platform: FakeIdentityPlatform, sso: Any
) -> None:
    sso.MICROSOFT_SSO_REQUIRE_CODE_CHALLENGE = False
    started = browser.client.post("/api/sso/start/", {"next": "/"}, content_type="application/json")
    answer = identity_platform.authorize(started.json()["authorization_url"], user=ada)
    sso_code = parse_qs(urlsplit(browser.deliver(answer)["Location"]).query)["sso_code"][0]

    response = browser.redeem(sso_code, None)

    assert response.status_code == 200
    assert response.json()["user"]["email"] == "ada@contoso.example"


def test_with_pkce_optional_a_code_started_with_a_challenge_still_needs_its_verifier(
    browser: SignInDriver, ada: FakeUser, sso: Any
) -> None:
    sso.MICROSOFT_SSO_REQUIRE_CODE_CHALLENGE = False
    attempt = browser.sign_in(ada)
    response = browser.redeem(attempt.sso_code, None)
    assert response.json()["code"] == "invalid_code_verifier"


def test_an_inactive_user_gets_no_tokens(browser: SignInDriver, ada: FakeUser) -> None:
    attempt = browser.sign_in(ada)
    get_user_model().objects.update(is_active=False)

    response = browser.redeem(attempt.sso_code, attempt.pkce.verifier)

    assert response.status_code == 403
    assert response.json()["code"] == "user_inactive"
