"""The Django admin for operators (sso_api.admin): Microsoft identities and sessions,
read-only; revoking sessions; and on the user's page, their identities and sessions and
the "End all sessions" button. Every ending is audited as the administrator's doing."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from sso_api.admin import SSOUserAdminMixin, add_sso_to_user_admin
from sso_api.models import MicrosoftIdentity, RefreshSession, RevocationReason
from sso_api.testing import FakeUser
from sso_api.testing.client import SignInDriver

pytestmark = pytest.mark.django_db
User = get_user_model()

IDENTITIES = "/admin/sso_api/microsoftidentity/"
SESSIONS = "/admin/sso_api/refreshsession/"


def refresh(client: Client, token: str) -> Any:
    return client.post(
        "/api/sso/token/refresh/", {"refresh": token}, content_type="application/json"
    )


def refresh_code(client: Client, token: str) -> tuple[int, str | None]:
    response = refresh(client, token)
    return response.status_code, response.json().get("code")


def user_page(user: Any) -> str:
    opts = user._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[user.pk])


def end_sessions_url(user: Any) -> str:
    opts = user._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_end_sessions", args=[user.pk])


def change_link(obj: Any) -> str:
    """The admin change link of ``obj``, as a list shows it for each row."""
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


def identity_of(person: FakeUser) -> MicrosoftIdentity:
    return MicrosoftIdentity.objects.select_related("user").get(object_id=person.object_id)


def session_of(tokens: dict[str, Any]) -> RefreshSession:
    """The session that ``/token/`` answered ``tokens`` for (the newest one)."""
    return RefreshSession.objects.latest("created_at")


def staff_client(username: str, *codenames: str) -> tuple[Client, Any]:
    """A logged-in staff member holding exactly the permissions ``codenames``."""
    member = User.objects.create_user(username=username, password="unused", is_staff=True)
    member.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    assert member.user_permissions.count() == len(codenames)
    client = Client()
    client.force_login(member)
    return client, member


# --- Microsoft identities ----------------------------------------------------------------


def test_the_identity_list_shows_the_account_its_dates_and_a_link_to_its_user(
    admin_client: Client, browser: SignInDriver, ada: FakeUser
) -> None:
    browser.signed_in(ada)
    identity = identity_of(ada)

    response = admin_client.get(IDENTITIES)

    assert response.status_code == 200
    page = response.content.decode()
    for shown in (identity.tenant_id, identity.object_id, "ada@contoso.example"):
        assert shown in page
    for header in ("First sign-in", "Last sign-in", "Email trusted"):
        assert header in page
    assert f'href="{user_page(identity.user)}"' in page
    assert change_link(identity) in page


@pytest.mark.parametrize("search_by", ["email", "object_id", "tenant_id", "username"])
def test_identities_are_found_by_email_object_id_tenant_id_and_username(
    admin_client: Client, browser: SignInDriver, ada: FakeUser, search_by: str
) -> None:
    browser.signed_in(ada)
    identity = identity_of(ada)
    elsewhere = MicrosoftIdentity.objects.create(
        user=User.objects.create_user(username="someone-else"),
        tenant_id="11111111-2222-3333-4444-555555555555",
        object_id="66666666-7777-8888-9999-000000000000",
        email="someone@fabrikam.example",
    )
    term = {
        "email": "ADA@contoso.example",
        "object_id": identity.object_id,
        "tenant_id": identity.tenant_id,
        "username": identity.user.get_username(),
    }[search_by]

    page = admin_client.get(IDENTITIES, {"q": term}).content.decode()

    assert change_link(identity) in page
    assert change_link(elsewhere) not in page


def test_identities_cannot_be_added_or_edited_in_the_admin(
    admin_client: Client, browser: SignInDriver, ada: FakeUser
) -> None:
    browser.signed_in(ada)
    identity = identity_of(ada)

    assert admin_client.get(f"{IDENTITIES}add/").status_code == 403
    page = admin_client.get(change_link(identity))
    assert page.status_code == 200
    assert identity.object_id in page.content.decode()
    assert 'name="_save"' not in page.content.decode()
    edit = admin_client.post(change_link(identity), {"object_id": "someone-else", "user": "1"})
    assert edit.status_code == 403
    assert identity_of(ada).tenant_id == identity.tenant_id


def test_deleting_an_identity_ends_its_sessions_as_the_administrators_doing(
    admin_client: Client,
    admin_user: Any,
    browser: SignInDriver,
    ada: FakeUser,
    ended: list[dict[str, Any]],
) -> None:
    tokens = browser.signed_in(ada)
    identity = identity_of(ada)
    session_id = session_of(tokens).pk

    confirmation = admin_client.get(f"{IDENTITIES}{identity.pk}/delete/")
    confirmed = admin_client.post(f"{IDENTITIES}{identity.pk}/delete/", {"post": "yes"})

    # The page asks, naming the session that goes with the identity.
    assert confirmation.status_code == 200
    assert str(session_id) in confirmation.content.decode()

    assert confirmed.status_code == 302
    assert not MicrosoftIdentity.objects.filter(pk=identity.pk).exists()
    # The user stays; only the binding to the Microsoft account is gone.
    assert User.objects.filter(pk=identity.user.pk).exists()
    assert [(event["session_id"], event["reason"], event["actor_id"]) for event in ended] == [
        (session_id, "admin", admin_user.pk)
    ]
    assert refresh(browser.client, tokens["refresh"]).status_code == 401


# --- Sessions ----------------------------------------------------------------------------


@pytest.fixture
def three_sessions(browser: SignInDriver, ada: FakeUser) -> dict[str, RefreshSession]:
    """One session of Ada's in each status."""
    made = {}
    for status in ("active", "revoked", "expired"):
        browser.signed_in(ada)
        made[status] = RefreshSession.objects.latest("created_at")
    RefreshSession.objects.filter(pk=made["revoked"].pk).update(
        revoked_at=made["revoked"].created_at, revoked_reason=RevocationReason.LOGOUT
    )
    RefreshSession.objects.filter(pk=made["expired"].pk).update(
        expires_at=made["expired"].created_at
    )
    return {status: RefreshSession.objects.get(pk=one.pk) for status, one in made.items()}


@pytest.mark.parametrize("status", ["active", "revoked", "expired"])
def test_the_session_list_filters_by_status(
    admin_client: Client, three_sessions: dict[str, RefreshSession], status: str
) -> None:
    assert three_sessions[status].status == status

    response = admin_client.get(SESSIONS, {"status": status})

    assert response.status_code == 200
    page = response.content.decode()
    listed = {name for name, one in three_sessions.items() if change_link(one) in page}
    assert listed == {status}


def test_the_session_list_shows_each_sessions_user_dates_status_and_user_agent(
    admin_client: Client, three_sessions: dict[str, RefreshSession]
) -> None:
    RefreshSession.objects.update(user_agent="Laptop Browser/1.0")

    page = admin_client.get(SESSIONS).content.decode()

    assert all(change_link(one) in page for one in three_sessions.values())
    user = three_sessions["active"].user
    assert f'href="{user_page(user)}"' in page
    for header in ("Started", "Last refreshed", "Expires", "Status", "Revoked reason"):
        assert header in page
    assert "Laptop Browser/1.0" in page
    assert "Signed out" in page  # the revoked one's reason, as people read it


@pytest.mark.parametrize("search_by", ["username", "email", "object_id"])
def test_sessions_are_found_by_the_users_username_and_email_and_the_object_id(
    admin_client: Client, browser: SignInDriver, ada: FakeUser, grace: FakeUser, search_by: str
) -> None:
    adas = session_of(browser.signed_in(ada))
    graces = session_of(browser.signed_in(grace))
    identity = identity_of(ada)
    term = {
        "username": identity.user.get_username(),
        "email": "Ada@Contoso.example",
        "object_id": identity.object_id,
    }[search_by]

    page = admin_client.get(SESSIONS, {"q": term}).content.decode()

    assert change_link(adas) in page
    assert change_link(graces) not in page


def test_no_admin_page_shows_the_refresh_token_id_or_microsofts_session_id(
    admin_client: Client, browser: SignInDriver, ada: FakeUser
) -> None:
    tokens = browser.signed_in(ada)
    session = session_of(tokens)
    assert session.current_jti
    assert session.microsoft_session_id

    pages = [
        admin_client.get(SESSIONS),
        admin_client.get(change_link(session)),
        admin_client.get(user_page(session.user)),
        admin_client.get(IDENTITIES),
    ]

    for page in pages:
        assert page.status_code == 200
        text = page.content.decode()
        assert session.current_jti not in text
        assert session.microsoft_session_id not in text
        assert tokens["refresh"] not in text


def test_sessions_cannot_be_added_edited_or_deleted_in_the_admin(
    admin_client: Client, browser: SignInDriver, ada: FakeUser
) -> None:
    session = session_of(browser.signed_in(ada))

    assert admin_client.get(f"{SESSIONS}add/").status_code == 403
    page = admin_client.get(change_link(session)).content.decode()
    assert 'name="_save"' not in page
    assert admin_client.get(f"{SESSIONS}{session.pk}/delete/").status_code == 403
    changelist = admin_client.get(SESSIONS).content.decode()
    assert 'value="delete_selected"' not in changelist
    assert 'value="revoke_selected_sessions"' in changelist


def test_revoking_selected_sessions_ends_them_and_audits_the_administrator(
    admin_client: Client,
    admin_user: Any,
    browser: SignInDriver,
    ada: FakeUser,
    grace: FakeUser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    adas_tokens = browser.signed_in(ada)
    adas = session_of(adas_tokens)
    graces_tokens = browser.signed_in(grace)
    caplog.set_level(logging.INFO, logger="sso_api.audit")

    response = admin_client.post(
        SESSIONS,
        {"action": "revoke_selected_sessions", "_selected_action": [str(adas.pk)]},
        follow=True,
    )

    assert response.status_code == 200
    assert "Ended 1 session." in response.content.decode()
    assert refresh_code(browser.client, adas_tokens["refresh"]) == (401, "session_revoked")
    assert refresh_code(browser.client, graces_tokens["refresh"])[0] == 200
    events = [
        record.sso_event  # type: ignore[attr-defined]
        for record in caplog.records
        if record.name == "sso_api.audit" and "session_revoked" in record.getMessage()
    ]
    assert events == [
        {
            "event": "session_revoked",
            "session_id": adas.pk,
            "user_id": adas.user_id,
            "reason": "admin",
            "actor_id": admin_user.pk,
        }
    ]
    assert f"reason=admin actor_id={admin_user.pk}" in caplog.text


def test_revoking_sessions_that_already_ended_says_so(
    admin_client: Client, three_sessions: dict[str, RefreshSession], ended: list[dict[str, Any]]
) -> None:
    selected = [str(one.pk) for one in three_sessions.values()]

    response = admin_client.post(
        SESSIONS, {"action": "revoke_selected_sessions", "_selected_action": selected}, follow=True
    )

    assert "Ended 1 session. 2 others were already revoked or expired." in response.content.decode()
    assert [event["session_id"] for event in ended] == [three_sessions["active"].pk]
    revoked = RefreshSession.objects.get(pk=three_sessions["revoked"].pk)
    assert revoked.revoked_reason == RevocationReason.LOGOUT


def test_revoking_sessions_needs_the_change_permission_of_sessions(
    browser: SignInDriver, ada: FakeUser
) -> None:
    session = session_of(browser.signed_in(ada))
    viewer, _ = staff_client("viewer", "view_refreshsession")
    operator, _ = staff_client("operator", "view_refreshsession", "change_refreshsession")
    revoke = {"action": "revoke_selected_sessions", "_selected_action": [str(session.pk)]}

    assert 'value="revoke_selected_sessions"' not in viewer.get(SESSIONS).content.decode()
    viewer.post(SESSIONS, revoke)
    assert RefreshSession.objects.get(pk=session.pk).status == "active"

    assert 'value="revoke_selected_sessions"' in operator.get(SESSIONS).content.decode()
    operator.post(SESSIONS, revoke)
    assert RefreshSession.objects.get(pk=session.pk).status == "revoked"


# --- The user's page ----------------------------------------------------------------------


def test_the_user_page_lists_identities_and_sessions_and_offers_to_end_them(
    admin_client: Client, browser: SignInDriver, ada: FakeUser
) -> None:
    browser.client = Client(headers={"User-Agent": "Phone Browser/2.0"})
    session = session_of(browser.signed_in(ada))
    identity = identity_of(ada)

    response = admin_client.get(user_page(identity.user))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Microsoft identities" in page
    assert identity.object_id in page
    assert change_link(identity) in page
    assert "Sign-in sessions (the newest)" in page
    assert "Phone Browser/2.0" in page
    assert change_link(session) in page
    form = page[page.index(f'action="{end_sessions_url(identity.user)}"') :]
    form = form[: form.index("</form>")]
    assert 'name="csrfmiddlewaretoken"' in form
    assert "End all sessions" in form
    # The inlines are read-only: nothing of them is submitted as an edit.
    assert "microsoft_identities-0-object_id" not in page


def test_end_all_sessions_ends_every_live_session_of_the_user_and_returns_to_their_page(
    admin_client: Client,
    admin_user: Any,
    browser: SignInDriver,
    ada: FakeUser,
    grace: FakeUser,
    ended: list[dict[str, Any]],
) -> None:
    laptop = browser.signed_in(ada)
    phone = browser.signed_in(ada)
    other = browser.signed_in(grace)
    user = identity_of(ada).user

    response = admin_client.post(end_sessions_url(user))

    assert response.status_code == 302
    assert response["Location"] == user_page(user)
    assert f"Ended 2 sessions of {user}." in admin_client.get(user_page(user)).content.decode()
    for tokens in (laptop, phone):
        assert refresh_code(browser.client, tokens["refresh"]) == (401, "session_revoked")
    assert refresh_code(browser.client, other["refresh"])[0] == 200
    assert [(event["reason"], event["actor_id"]) for event in ended] == [
        ("admin", admin_user.pk)
    ] * 2
    # The user's admin history says who did it.
    entry = LogEntry.objects.get(object_id=str(user.pk))
    assert (entry.user.pk, entry.get_change_message()) == (
        admin_user.pk,
        "Ended 2 sign-in sessions.",
    )


def test_end_all_sessions_does_nothing_for_a_get(
    admin_client: Client, browser: SignInDriver, ada: FakeUser
) -> None:
    tokens = browser.signed_in(ada)
    user = identity_of(ada).user

    assert admin_client.get(end_sessions_url(user)).status_code == 405
    assert refresh_code(browser.client, tokens["refresh"])[0] == 200


def test_end_all_sessions_needs_the_csrf_token(
    admin_user: Any, browser: SignInDriver, ada: FakeUser
) -> None:
    tokens = browser.signed_in(ada)
    user = identity_of(ada).user
    careful = Client(enforce_csrf_checks=True)
    careful.force_login(admin_user)

    assert careful.post(end_sessions_url(user)).status_code == 403
    assert refresh_code(browser.client, tokens["refresh"])[0] == 200


def test_end_all_sessions_needs_the_change_permission_of_the_user(
    browser: SignInDriver, ada: FakeUser
) -> None:
    tokens = browser.signed_in(ada)
    user = identity_of(ada).user
    viewer, _ = staff_client("viewer", "view_user")
    operator, _ = staff_client("operator", "view_user", "change_user")

    viewers_page = viewer.get(user_page(user))
    assert viewers_page.status_code == 200
    assert "End all sessions" not in viewers_page.content.decode()
    assert viewer.post(end_sessions_url(user)).status_code == 403
    assert refresh_code(browser.client, tokens["refresh"])[0] == 200

    assert "End all sessions" in operator.get(user_page(user)).content.decode()
    assert operator.post(end_sessions_url(user)).status_code == 302
    assert refresh_code(browser.client, tokens["refresh"]) == (401, "session_revoked")


def test_end_all_sessions_of_an_unknown_user_is_not_found(admin_client: Client) -> None:
    assert admin_client.post("/admin/auth/user/999999/end-sessions/").status_code == 404


def test_the_user_list_action_ends_all_sessions_of_the_selected_users(
    admin_client: Client,
    admin_user: Any,
    browser: SignInDriver,
    ada: FakeUser,
    grace: FakeUser,
    ended: list[dict[str, Any]],
) -> None:
    adas = browser.signed_in(ada)
    graces = browser.signed_in(grace)
    selected = [str(identity_of(person).user.pk) for person in (ada, grace)]
    users = reverse(f"admin:{User._meta.app_label}_{User._meta.model_name}_changelist")

    listing = admin_client.get(users).content.decode()
    response = admin_client.post(
        users,
        {"action": "end_all_sessions_of_selected_users", "_selected_action": selected},
        follow=True,
    )

    assert 'value="end_all_sessions_of_selected_users"' in listing
    assert "Ended 2 sessions of 2 users." in response.content.decode()
    for tokens in (adas, graces):
        assert refresh_code(browser.client, tokens["refresh"]) == (401, "session_revoked")
    assert {(event["reason"], event["actor_id"]) for event in ended} == {("admin", admin_user.pk)}


# --- The mixin and the user model's registration --------------------------------------------


def test_the_user_models_admin_gains_the_mixin_when_sso_api_loads_after_it() -> None:
    # tests/settings.py lists django.contrib.auth before sso_api, as the docs ask.
    registered = admin.site.get_model_admin(User)

    assert isinstance(registered, SSOUserAdminMixin)
    assert isinstance(registered, UserAdmin)
    assert "end_all_sessions_of_selected_users" in list(registered.actions or ())


def test_adding_the_mixin_to_another_site_keeps_the_registered_admin_and_happens_once() -> None:
    site = admin.AdminSite(name="elsewhere")
    assert add_sso_to_user_admin(site) is False  # the user model is not registered there

    class ProjectUserAdmin(UserAdmin):  # type: ignore[type-arg]
        actions = ("a_project_action",)

        @admin.action(description="A project's own action")
        def a_project_action(self, request: Any, queryset: Any) -> None: ...

    site.register(User, ProjectUserAdmin)

    assert add_sso_to_user_admin(site) is True
    upgraded = site.get_model_admin(User)
    assert isinstance(upgraded, SSOUserAdminMixin)
    assert isinstance(upgraded, ProjectUserAdmin)
    assert list(upgraded.actions or ()) == [
        "a_project_action",
        "end_all_sessions_of_selected_users",
    ]
    assert add_sso_to_user_admin(site) is False
    assert site.get_model_admin(User) is upgraded


def test_a_project_user_admin_with_the_mixin_is_left_as_it_is() -> None:
    site = admin.AdminSite(name="project")

    class ProjectUserAdmin(SSOUserAdminMixin, UserAdmin):  # type: ignore[type-arg]
        actions = None  # this project wants no actions at all

    site.register(User, ProjectUserAdmin)

    assert add_sso_to_user_admin(site) is False
    assert type(site.get_model_admin(User)) is ProjectUserAdmin
    assert site.get_model_admin(User).actions is None


@pytest.mark.parametrize(
    "lookup", ["current_jti__startswith", "microsoft_session_id__startswith", "current_jti"]
)
def test_the_session_list_cannot_be_filtered_on_what_it_never_shows(
    admin_client: Client, three_sessions: dict[str, RefreshSession], lookup: str
) -> None:
    response = admin_client.get(SESSIONS, {lookup: "a"})

    assert response.status_code == 400
