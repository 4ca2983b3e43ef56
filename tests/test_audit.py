"""Audit events: signals and log lines for every sign-in, refusal, refresh and revocation."""

from __future__ import annotations

import logging
import shlex
from collections.abc import Iterator
from typing import Any

import pytest
from django.dispatch import Signal

from sso_api import audit
from sso_api.testing import FakeIdentityPlatform, FakeUser
from sso_api.testing.client import SignInDriver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def events() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    received: list[tuple[str, dict[str, Any]]] = []
    signals: list[Signal] = [
        audit.sign_in_succeeded,
        audit.sign_in_refused,
        audit.user_created,
        audit.token_refreshed,
        audit.session_revoked,
        audit.refresh_reuse_detected,
    ]

    def receiver(sender: str, **kwargs: Any) -> None:
        received.append((sender, kwargs))

    for signal in signals:
        signal.connect(receiver, weak=False)
    yield received
    for signal in signals:
        signal.disconnect(receiver)


def names(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [name for name, _ in events]


def refresh(browser: SignInDriver, token: str) -> Any:
    return browser.client.post(
        "/api/sso/token/refresh/", {"refresh": token}, content_type="application/json"
    )


def test_a_first_sign_in_reports_the_new_user_and_the_success(
    browser: SignInDriver, ada: FakeUser, events: list[tuple[str, dict[str, Any]]]
) -> None:
    browser.signed_in(ada)
    assert names(events) == ["user_created", "sign_in_succeeded"]
    assert events[1][1]["created"] is True
    assert events[1][1]["tenant_id"] == ada.tenant_id


def test_a_refusal_reports_its_code_and_creates_nothing(
    browser: SignInDriver,
    ada: FakeUser,
    identity_platform: FakeIdentityPlatform,
    events: list[tuple[str, dict[str, Any]]],
) -> None:
    identity_platform.faults.id_token_claims_override = {"aud": "someone-else"}
    browser.sign_in(ada)
    assert names(events) == ["sign_in_refused"]
    assert events[0][1]["code"] == "invalid_id_token"


def test_a_hook_refusal_after_creation_reports_no_user(
    browser: SignInDriver, sso: Any, ada: FakeUser, events: list[tuple[str, dict[str, Any]]]
) -> None:
    sso.MICROSOFT_SSO_PRE_LOGIN_CALLBACK = "tests.test_identity.explode"
    browser.sign_in(ada)
    assert names(events) == ["sign_in_refused"]


def test_refresh_reuse_and_logout_are_reported(
    browser: SignInDriver, ada: FakeUser, events: list[tuple[str, dict[str, Any]]]
) -> None:
    first = browser.signed_in(ada)
    refresh(browser, first["refresh"])
    refresh(browser, first["refresh"])  # the rotated token again: theft
    other = browser.signed_in(ada)
    browser.client.post(
        "/api/sso/logout/", {"refresh": other["refresh"]}, content_type="application/json"
    )

    assert names(events) == [
        "user_created",
        "sign_in_succeeded",
        "token_refreshed",
        "refresh_reuse_detected",
        "sign_in_succeeded",
        "session_revoked",
    ]
    assert events[-1][1]["reason"] == "logout"


def test_audit_log_lines_are_structured_and_carry_no_tokens(
    browser: SignInDriver, ada: FakeUser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sso_api.audit")
    tokens = browser.signed_in(ada)
    refresh(browser, tokens["refresh"])

    records = [record for record in caplog.records if record.name == "sso_api.audit"]
    events = [record.sso_event["event"] for record in records]  # type: ignore[attr-defined]
    assert events == ["user_created", "sign_in_succeeded", "token_refreshed"]
    text = "\n".join(record.getMessage() for record in records)
    assert tokens["access"] not in text
    assert tokens["refresh"] not in text
    assert "eyJ" not in text


@pytest.mark.parametrize(
    "value",
    ["plain\n", "a b", 'x" event=forged', "line\nevent=forged", "", "\u2028", "tab\there"],
)
def test_every_audit_value_stays_one_token_of_one_line(
    value: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sso_api.audit")
    audit.emit(audit.sign_in_refused, "sign_in_refused", code="x", reason=value)

    [line] = [record.getMessage() for record in caplog.records if record.name == "sso_api.audit"]
    assert "\n" not in line
    assert "\u2028" not in line
    tokens = shlex.split(line)
    assert [token.partition("=")[0] for token in tokens] == ["event", "code", "reason"]


def test_text_from_the_request_cannot_forge_keys_or_lines_in_the_audit_log(
    browser: SignInDriver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sso_api.audit")
    state = browser.start(next="/app/").json()["state"]
    forged = 'nope" event=user_created user_id=1\nevent=sign_in_succeeded x="'

    browser.client.get("/api/sso/callback/", {"state": state, "error": forged})

    [line] = [record.getMessage() for record in caplog.records if record.name == "sso_api.audit"]
    assert "\n" not in line
    pairs = [token.partition("=") for token in shlex.split(line)]
    keys = [key for key, _, _ in pairs]
    assert keys == ["event", "code", "reason", "causes"]
    assert dict((key, value) for key, _, value in pairs)["event"] == "sign_in_refused"
