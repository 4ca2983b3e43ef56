"""Sessions people can see and end: the caller's list, ending one or all, and what else
ends them (deactivation, deletion), each ending reported to the audit trail."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sso_api import audit, signals
from sso_api.models import MicrosoftIdentity, RefreshSession, RevocationReason
from sso_api.testing import FakeIdentityPlatform, FakeUser
from sso_api.testing.client import SignInDriver

pytestmark = pytest.mark.django_db
User = get_user_model()


def bearer(access: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access}"}


def sessions(client: Client, access: str) -> Any:
    return client.get("/api/sso/sessions/", headers=bearer(access))


def end(client: Client, access: str, session_id: str) -> Any:
    return client.delete(f"/api/sso/sessions/{session_id}/", headers=bearer(access))


def logout_all(client: Client, access: str) -> Any:
    return client.post("/api/sso/logout/all/", headers=bearer(access))


def refresh(client: Client, token: str) -> Any:
    return client.post(
        "/api/sso/token/refresh/", {"refresh": token}, content_type="application/json"
    )


def test_the_list_shows_each_live_session_and_marks_the_callers(
    browser: SignInDriver, ada: FakeUser
) -> None:
    browser.client = Client(headers={"User-Agent": "Laptop Browser/1.0"})
    laptop = browser.signed_in(ada)
    browser.client = Client(headers={"User-Agent": "Phone Browser/2.0"})
    phone = browser.signed_in(ada)

    response = sessions(browser.client, phone["access"])

    assert response.status_code == 200
    listed = response.json()
    assert [session["user_agent"] for session in listed] == [
        "Phone Browser/2.0",
        "Laptop Browser/1.0",
    ]
    assert [session["current"] for session in listed] == [True, False]
    assert {session["method"] for session in listed} == {"browser"}
    assert set(listed[0]) == {
        "id",
        "started_at",
        "last_refreshed_at",
        "expires_at",
        "user_agent",
        "method",
        "current",
    }
    assert listed[0]["last_refreshed_at"] is None
    refresh(browser.client, laptop["refresh"])
    assert sessions(browser.client, phone["access"]).json()[1]["last_refreshed_at"] is not None


def test_ended_expired_and_other_users_sessions_are_not_listed(
    browser: SignInDriver, ada: FakeUser, grace: FakeUser
) -> None:
    signed_out = browser.signed_in(ada)
    browser.client.post(
        "/api/sso/logout/", {"refresh": signed_out["refresh"]}, content_type="application/json"
    )
    browser.signed_in(grace)
    current = browser.signed_in(ada)

    listed = sessions(browser.client, current["access"]).json()

    assert len(listed) == 1
    assert listed[0]["current"] is True


def test_listing_costs_one_query(browser: SignInDriver, ada: FakeUser) -> None:
    for _ in range(3):
        tokens = browser.signed_in(ada)

    with CaptureQueriesContext(connections["default"]) as queries:
        response = sessions(browser.client, tokens["access"])

    assert len(response.json()) == 3
    assert len(queries) == 1


def test_a_user_agent_is_stored_printable_and_short(browser: SignInDriver, ada: FakeUser) -> None:
    browser.client = Client(headers={"User-Agent": "Evil\tAgent " + "x" * 400})
    tokens = browser.signed_in(ada)

    agent = sessions(browser.client, tokens["access"]).json()[0]["user_agent"]

    assert agent.startswith("EvilAgent xxx")
    assert len(agent) <= 256


def test_ending_one_session_stops_its_refresh_token_and_leaves_the_others(
    browser: SignInDriver, ada: FakeUser, ended: list[dict[str, Any]]
) -> None:
    other_device = browser.signed_in(ada)
    this_device = browser.signed_in(ada)
    other_id = next(
        session["id"]
        for session in sessions(browser.client, this_device["access"]).json()
        if not session["current"]
    )

    response = end(browser.client, this_device["access"], other_id)

    assert response.status_code == 204
    assert refresh(browser.client, other_device["refresh"]).json()["code"] == "session_revoked"
    assert refresh(browser.client, this_device["refresh"]).status_code == 200
    user_id = User.objects.get().pk
    assert ended == [
        {
            "signal": audit.session_revoked,
            "session_id": uuid.UUID(other_id),
            "user_id": user_id,
            "reason": "user",
            "actor_id": user_id,
        }
    ]


def test_another_users_session_answers_exactly_like_an_unknown_one(
    browser: SignInDriver, ada: FakeUser, grace: FakeUser
) -> None:
    grace_tokens = browser.signed_in(grace)
    grace_session = sessions(browser.client, grace_tokens["access"]).json()[0]["id"]
    ada_tokens = browser.signed_in(ada)

    answers = [
        end(browser.client, ada_tokens["access"], session_id)
        for session_id in (grace_session, str(uuid.uuid4()), "not-a-uuid")
    ]

    assert [(answer.status_code, answer.json()) for answer in answers] == [
        (404, {"detail": "No such session.", "code": "session_not_found"})
    ] * 3
    assert refresh(browser.client, grace_tokens["refresh"]).status_code == 200


def test_ending_an_already_ended_session_is_not_found(browser: SignInDriver, ada: FakeUser) -> None:
    tokens = browser.signed_in(ada)
    session_id = sessions(browser.client, tokens["access"]).json()[0]["id"]

    assert end(browser.client, tokens["access"], session_id).status_code == 204
    assert end(browser.client, tokens["access"], session_id).status_code == 404


def test_signing_out_everywhere_ends_every_session_with_one_update(
    browser: SignInDriver, ada: FakeUser, grace: FakeUser, ended: list[dict[str, Any]]
) -> None:
    devices = [browser.signed_in(ada) for _ in range(3)]
    someone_else = browser.signed_in(grace)

    with CaptureQueriesContext(connections["default"]) as queries:
        response = logout_all(browser.client, devices[0]["access"])

    assert (response.status_code, response.json()) == (200, {"ended": 3})
    updates = [query for query in queries if query["sql"].lstrip().upper().startswith("UPDATE")]
    assert len(updates) == 1
    for device in devices:
        assert refresh(browser.client, device["refresh"]).json()["code"] == "session_revoked"
    assert refresh(browser.client, someone_else["refresh"]).status_code == 200
    assert {event["reason"] for event in ended} == {"user"}
    assert len(ended) == 3


def test_signing_out_everywhere_clears_the_refresh_cookie_in_cookie_mode(
    browser: SignInDriver, ada: FakeUser, sso: Any
) -> None:
    sso.MICROSOFT_SSO_REFRESH_COOKIE = True
    tokens = browser.signed_in(ada)

    response = logout_all(browser.client, tokens["access"])

    assert response.cookies["sso_refresh"]["max-age"] == 0
    assert response.cookies["sso_refresh"].value == ""


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/sso/sessions/"),
        ("delete", f"/api/sso/sessions/{uuid.uuid4()}/"),
        ("post", "/api/sso/logout/all/"),
    ],
)
def test_the_session_endpoints_need_an_access_token_of_ours(
    browser: SignInDriver, ada: FakeUser, method: str, path: str
) -> None:
    refresh_token = browser.signed_in(ada)["refresh"]

    anonymous = getattr(browser.client, method)(path)
    with_refresh_token = getattr(browser.client, method)(path, headers=bearer(refresh_token))

    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "not_authenticated")
    assert with_refresh_token.status_code == 401
    assert RefreshSession.objects.filter(revoked_at__isnull=True).count() == 1


def test_deactivating_a_user_ends_their_sessions_at_once(
    browser: SignInDriver, ada: FakeUser, ended: list[dict[str, Any]]
) -> None:
    tokens = browser.signed_in(ada)
    user = User.objects.get()

    user.is_active = False
    user.save()

    session = RefreshSession.objects.get()
    assert session.revoked_reason == RevocationReason.USER_INACTIVE
    assert refresh(browser.client, tokens["refresh"]).json()["code"] == "session_revoked"
    assert [(event["reason"], event["actor_id"]) for event in ended] == [("user_inactive", None)]


def test_a_bulk_deactivation_ends_the_session_at_its_next_refresh(
    browser: SignInDriver, ada: FakeUser, ended: list[dict[str, Any]]
) -> None:
    tokens = browser.signed_in(ada)

    User.objects.update(is_active=False)  # sends no signal

    assert refresh(browser.client, tokens["refresh"]).json()["code"] == "session_revoked"
    assert RefreshSession.objects.get().revoked_reason == RevocationReason.USER_INACTIVE
    assert [event["reason"] for event in ended] == ["user_inactive"]


def test_deleting_a_user_ends_and_reports_their_sessions(
    browser: SignInDriver, ada: FakeUser, grace: FakeUser, ended: list[dict[str, Any]]
) -> None:
    ada_tokens = browser.signed_in(ada)
    browser.signed_in(ada)
    grace_tokens = browser.signed_in(grace)
    ada_user = User.objects.get(microsoft_identities__object_id=ada.object_id)
    ada_pk = ada_user.pk

    ada_user.delete()

    assert refresh(browser.client, ada_tokens["refresh"]).json()["code"] == (
        "invalid_refresh_token"
    )
    assert refresh(browser.client, grace_tokens["refresh"]).status_code == 200
    assert [(event["reason"], event["user_id"]) for event in ended] == [
        ("user_deleted", ada_pk),
        ("user_deleted", ada_pk),
    ]


def test_an_exchanged_session_is_listed_as_an_exchange(
    identity_platform: FakeIdentityPlatform,
    exposed_api: Any,
    mobile_app: Any,
    ada: FakeUser,
    sso: Any,
) -> None:
    sso.MICROSOFT_SSO_EXCHANGE_ENABLED = True
    client = Client(headers={"User-Agent": "ContosoApp/3.1 (iOS 18)"})
    entra_token = identity_platform.mint_access_token(ada, api=exposed_api, client=mobile_app)
    tokens = client.post(
        "/api/sso/token/exchange/", {"access_token": entra_token}, content_type="application/json"
    ).json()

    listed = sessions(client, tokens["access"]).json()

    assert [(s["method"], s["user_agent"], s["current"]) for s in listed] == [
        ("exchange", "ContosoApp/3.1 (iOS 18)", True)
    ]


def test_deleting_an_identity_ends_and_reports_the_sessions_it_began(
    browser: SignInDriver, ada: FakeUser, ended: list[dict[str, Any]]
) -> None:
    tokens = browser.signed_in(ada)

    MicrosoftIdentity.objects.get().delete()

    assert refresh(browser.client, tokens["refresh"]).json()["code"] == "invalid_refresh_token"
    assert [(event["reason"], event["actor_id"]) for event in ended] == [("identity_deleted", None)]
    assert User.objects.count() == 1  # the user stays; only the Microsoft account is unbound


def test_deactivating_a_user_through_a_proxy_model_ends_their_sessions_too(
    browser: SignInDriver, ada: FakeUser, ended: list[dict[str, Any]]
) -> None:
    class StaffMember(User):  # type: ignore[valid-type,misc]
        class Meta:
            proxy = True
            app_label = "sso_api"

    signals.connect()  # as at start-up, when a project's proxies are already defined
    tokens = browser.signed_in(ada)
    member = StaffMember.objects.get()

    member.is_active = False
    member.save()

    # Ended by the save itself, not later by the refresh's own check of is_active.
    assert RefreshSession.objects.get().revoked_reason == RevocationReason.USER_INACTIVE
    assert [event["reason"] for event in ended] == ["user_inactive"]
    assert refresh(browser.client, tokens["refresh"]).json()["code"] == "session_revoked"
