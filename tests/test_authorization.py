"""Authorization from Entra: app roles and groups become Django groups, flags and roles."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, transaction
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from sso_api import policy
from sso_api.authentication import AccessTokenAuthentication
from sso_api.claims import MicrosoftClaims
from sso_api.conf import sso_settings
from sso_api.models import EntraGroupMembership, MicrosoftIdentity
from sso_api.permissions import HasAppRole
from sso_api.testing import FakeIdentityPlatform, FakeTenant, FakeUser
from sso_api.testing.client import SignInDriver

pytestmark = pytest.mark.django_db
User = get_user_model()

READERS = str(uuid.UUID(int=0xA11CE))
WRITERS = str(uuid.UUID(int=0xB0B))


@pytest.fixture
def person(identity_platform: FakeIdentityPlatform, contoso: FakeTenant) -> FakeUser:
    """A Contoso member with a verified email and, to begin with, no roles or groups."""
    return identity_platform.add_user(
        contoso,
        name="Rita Roles",
        email=f"rita-{uuid.uuid4().hex[:8]}@contoso.example",
        email_verified=True,
    )


def group_names(user: Any) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def signed_in_user(browser: SignInDriver, person: FakeUser) -> Any:
    body = browser.signed_in(person)
    return User.objects.get(pk=body["user"]["id"])


# --- Sync at every sign-in ----------------------------------------------------------------


def test_mapped_groups_are_gained_and_lost_across_sign_ins(
    browser: SignInDriver, person: FakeUser, sso: Any
) -> None:
    sso.MICROSOFT_SSO_GROUP_MAP = {"Reports.Read": "Readers", WRITERS: "Writers"}
    person.roles = ("Reports.Read",)
    person.groups = (WRITERS,)
    user = signed_in_user(browser, person)
    assert group_names(user) == {"Readers", "Writers"}

    person.roles = ()
    user = signed_in_user(browser, person)

    assert group_names(user) == {"Writers"}
    assert set(EntraGroupMembership.objects.values_list("group__name", flat=True)) == {"Writers"}


def test_a_membership_given_by_hand_is_never_touched(
    browser: SignInDriver, person: FakeUser, sso: Any
) -> None:
    sso.MICROSOFT_SSO_GROUP_MAP = {"Editor": ["Editors", "Staff room"]}
    user = signed_in_user(browser, person)
    by_hand = [Group.objects.create(name="Auditors"), Group.objects.create(name="Editors")]
    user.groups.add(*by_hand)

    person.roles = ("Editor",)
    assert group_names(signed_in_user(browser, person)) == {"Auditors", "Editors", "Staff room"}
    person.roles = ()
    user = signed_in_user(browser, person)

    # Editors was held by hand before Entra granted it too: it stays, as does Auditors.
    assert group_names(user) == {"Auditors", "Editors"}


def test_several_keys_may_grant_one_group_and_one_key_several(
    browser: SignInDriver, person: FakeUser, sso: Any
) -> None:
    sso.MICROSOFT_SSO_GROUP_MAP = {
        "Admin": ["Operators", "Auditors"],
        READERS: "Operators",
        "Support": "Operators",
    }
    person.roles = ("Support",)
    person.groups = (READERS,)
    assert group_names(signed_in_user(browser, person)) == {"Operators"}

    person.roles = ("Admin",)
    person.groups = ()
    assert group_names(signed_in_user(browser, person)) == {"Operators", "Auditors"}

    person.roles = ()
    assert group_names(signed_in_user(browser, person)) == set()


def test_group_object_ids_match_in_any_case(
    browser: SignInDriver, person: FakeUser, sso: Any
) -> None:
    sso.MICROSOFT_SSO_GROUP_MAP = {READERS.upper(): "Readers"}
    person.groups = (READERS,)
    assert group_names(signed_in_user(browser, person)) == {"Readers"}


def test_app_role_values_match_exactly(browser: SignInDriver, person: FakeUser, sso: Any) -> None:
    sso.MICROSOFT_SSO_GROUP_MAP = {"admin": "Admins"}
    person.roles = ("Admin",)
    assert group_names(signed_in_user(browser, person)) == set()


def test_mirrored_roles_become_groups_of_the_same_name_and_go_with_them(
    browser: SignInDriver, person: FakeUser, sso: Any
) -> None:
    sso.MICROSOFT_SSO_MIRROR_ROLES = True
    person.roles = ("Admin", "Reports.Read")
    assert group_names(signed_in_user(browser, person)) == {"Admin", "Reports.Read"}

    person.roles = ("Reports.Read",)
    assert group_names(signed_in_user(browser, person)) == {"Reports.Read"}


@pytest.mark.parametrize("flag", ["is_staff", "is_superuser"])
def test_a_flag_the_map_names_is_owned_by_entra(
    browser: SignInDriver, person: FakeUser, sso: Any, flag: str
) -> None:
    sso.MICROSOFT_SSO_FLAG_MAP = {flag: ["Admin", WRITERS]}
    person.groups = (WRITERS,)
    assert getattr(signed_in_user(browser, person), flag) is True

    person.groups = ()
    user = signed_in_user(browser, person)
    assert getattr(user, flag) is False

    # Set by hand, it is cleared again at the next sign-in: Entra owns it.
    User.objects.filter(pk=user.pk).update(**{flag: True})
    assert getattr(signed_in_user(browser, person), flag) is False


def test_superuser_by_the_map_is_staff_too(
    browser: SignInDriver, person: FakeUser, sso: Any
) -> None:
    sso.MICROSOFT_SSO_FLAG_MAP = {"is_superuser": ["Admin"], "is_staff": []}
    person.roles = ("Admin",)
    user = signed_in_user(browser, person)
    assert (user.is_superuser, user.is_staff) == (True, True)


def test_the_lists_still_grant_an_owned_flag(
    browser: SignInDriver, person: FakeUser, sso: Any
) -> None:
    sso.MICROSOFT_SSO_FLAG_MAP = {"is_staff": ["Support"]}
    sso.MICROSOFT_SSO_STAFF_LIST = [person.email]
    assert signed_in_user(browser, person).is_staff is True


def test_a_flag_the_map_does_not_name_is_never_cleared(
    browser: SignInDriver, person: FakeUser, sso: Any
) -> None:
    sso.MICROSOFT_SSO_FLAG_MAP = {"is_staff": ["Support"]}
    user = signed_in_user(browser, person)
    User.objects.filter(pk=user.pk).update(is_superuser=True)
    assert signed_in_user(browser, person).is_superuser is True


def test_a_revoked_superuser_loses_staff_too(
    browser: SignInDriver, person: FakeUser, sso: Any
) -> None:
    sso.MICROSOFT_SSO_FLAG_MAP = {"is_superuser": ["Admin"]}
    person.roles = ("Admin",)
    assert signed_in_user(browser, person).is_staff is True

    person.roles = ()
    user = signed_in_user(browser, person)

    assert (user.is_superuser, user.is_staff) == (False, False)


def test_a_group_named_like_a_role_grants_nothing_the_role_grants(
    browser: SignInDriver, person: FakeUser, sso: Any
) -> None:
    sso.MICROSOFT_SSO_GROUP_MAP = {"Admin": "Admins"}
    sso.MICROSOFT_SSO_FLAG_MAP = {"is_superuser": ["Admin"]}
    person.groups = ("Admin",)  # a group emitted under its name, not its object id
    user = signed_in_user(browser, person)
    assert (group_names(user), user.is_superuser) == (set(), False)


def test_group_ids_emitted_as_role_claims_still_match(
    browser: SignInDriver, person: FakeUser, sso: Any
) -> None:
    sso.MICROSOFT_SSO_GROUP_MAP = {READERS: "Readers"}
    person.roles = (READERS,)
    assert group_names(signed_in_user(browser, person)) == {"Readers"}


def editor_whose_membership_was_removed_by_hand(
    browser: SignInDriver, person: FakeUser, sso: Any
) -> tuple[Any, Group]:
    """``person``'s user, granted "Editors" by Entra, after an administrator took it away;
    and the group."""
    sso.MICROSOFT_SSO_GROUP_MAP = {"Editor": "Editors"}
    person.roles = ("Editor",)
    user = signed_in_user(browser, person)
    editors = Group.objects.get(name="Editors")
    user.groups.remove(editors)
    return user, editors


def test_a_membership_removed_by_hand_and_given_again_by_hand_stays(
    browser: SignInDriver, person: FakeUser, sso: Any
) -> None:
    user, editors = editor_whose_membership_was_removed_by_hand(browser, person, sso)
    person.roles = ()
    signed_in_user(browser, person)
    user.groups.add(editors)  # and later an administrator gives it back by hand

    assert group_names(signed_in_user(browser, person)) == {"Editors"}


def test_a_refused_sign_in_leaves_memberships_and_flags_as_they_were(
    browser: SignInDriver, person: FakeUser, sso: Any
) -> None:
    sso.MICROSOFT_SSO_GROUP_MAP = {"Admin": "Admins", "Reports.Read": "Readers"}
    sso.MICROSOFT_SSO_FLAG_MAP = {"is_staff": ["Admin"]}
    person.roles = ("Admin",)
    user = signed_in_user(browser, person)

    def refuse(*args: Any) -> None:
        raise RuntimeError("the project's own hook fails")

    sso.MICROSOFT_SSO_PRE_LOGIN_CALLBACK = refuse
    person.roles = ("Reports.Read",)
    attempt = browser.sign_in(person)

    assert attempt.error == "login_refused"
    user.refresh_from_db()
    assert group_names(user) == {"Admins"}
    assert user.is_staff is True
    assert not Group.objects.filter(name="Readers").exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_sign_ins_create_one_user_with_each_group_once(
    sso: Any, identity_platform: FakeIdentityPlatform, contoso: FakeTenant
) -> None:
    sso.MICROSOFT_SSO_GROUP_MAP = {"Admin": ["Admins", "Everyone"], READERS: "Readers"}
    person = identity_platform.add_user(
        contoso,
        name="Rush Roles",
        email="rush.roles@contoso.example",
        email_verified=True,
        roles=["Admin"],
        groups=[READERS],
    )
    browsers = [SignInDriver(identity_platform) for _ in range(12)]
    answers = []
    for each in browsers:
        started = each.start(next="/").json()
        answers.append(identity_platform.authorize(started["authorization_url"], user=person))
    barrier = threading.Barrier(len(browsers))

    def deliver(index: int) -> str:
        try:
            barrier.wait()
            return str(browsers[index].deliver(answers[index])["Location"])
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(browsers)) as pool:
        locations = list(pool.map(deliver, range(len(browsers))))

    assert all("sso_code=" in location for location in locations), locations
    user = User.objects.get()
    assert group_names(user) == {"Admins", "Everyone", "Readers"}
    assert EntraGroupMembership.objects.count() == 3
    assert Group.objects.filter(name__in=["Admins", "Everyone", "Readers"]).count() == 3


# --- What a sign-in costs in SQL, and what it must still change ---------------------------


@pytest.fixture
def group_syncs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The SQL statements of each sync of a user's groups during the test, one list a sync."""
    syncs: list[list[str]] = []
    real = policy._sync_groups

    def counted(user: Any, wanted_names: set[str]) -> None:
        with CaptureQueriesContext(connections["default"]) as queries:
            real(user, wanted_names)
        syncs.append([query["sql"] for query in queries.captured_queries])

    monkeypatch.setattr(policy, "_sync_groups", counted)
    return syncs


def takes_the_users_lock(statements: list[str]) -> bool:
    """Whether the statements lock the user's row: ``SELECT ... FOR UPDATE`` of it, or on
    SQLite, which has no FOR UPDATE (its transactions take the database's write lock when
    they begin), the same SELECT without it."""
    connection = connections["default"]
    user_table = f"FROM {connection.ops.quote_name(User._meta.db_table)} "
    return any(
        user_table in sql and ("FOR UPDATE" in sql or not connection.features.has_select_for_update)
        for sql in statements
    )


@pytest.mark.parametrize(
    "authorization",
    [{"MICROSOFT_SSO_MIRROR_ROLES": True}, {"MICROSOFT_SSO_GROUP_MAP": {"Admin": "Admins"}}],
    ids=["mirrored roles", "group map"],
)
def test_a_returning_user_whose_groups_did_not_change_costs_one_statement_and_no_lock(
    browser: SignInDriver,
    person: FakeUser,
    sso: Any,
    group_syncs: list[list[str]],
    authorization: dict[str, Any],
) -> None:
    for name, value in authorization.items():
        setattr(sso, name, value)
    person.roles = ("Admin", "Reports.Read")
    user = signed_in_user(browser, person)
    user.groups.add(Group.objects.create(name="Given by hand"))
    before = group_names(user)
    group_syncs.clear()

    assert group_names(signed_in_user(browser, person)) == before

    [statements] = group_syncs
    assert len(statements) == 1, statements
    assert statements[0].startswith("SELECT")
    assert not takes_the_users_lock(statements)


def test_a_returning_user_without_roles_costs_one_statement(
    browser: SignInDriver, person: FakeUser, sso: Any, group_syncs: list[list[str]]
) -> None:
    sso.MICROSOFT_SSO_MIRROR_ROLES = True
    signed_in_user(browser, person)
    group_syncs.clear()

    assert group_names(signed_in_user(browser, person)) == set()
    assert [len(statements) for statements in group_syncs] == [1]


def test_a_lost_role_takes_the_lock_and_loses_its_group(
    browser: SignInDriver, person: FakeUser, sso: Any, group_syncs: list[list[str]]
) -> None:
    sso.MICROSOFT_SSO_MIRROR_ROLES = True
    person.roles = ("Admin", "Reports.Read")
    signed_in_user(browser, person)
    group_syncs.clear()

    person.roles = ("Reports.Read",)
    user = signed_in_user(browser, person)

    assert group_names(user) == {"Reports.Read"}
    assert set(EntraGroupMembership.objects.values_list("group__name", flat=True)) == {
        "Reports.Read"
    }
    [statements] = group_syncs
    assert takes_the_users_lock(statements)


def test_a_group_deleted_since_is_created_again_and_granted(
    browser: SignInDriver, person: FakeUser, sso: Any, group_syncs: list[list[str]]
) -> None:
    sso.MICROSOFT_SSO_GROUP_MAP = {"Admin": "Admins"}
    person.roles = ("Admin",)
    signed_in_user(browser, person)
    Group.objects.filter(name="Admins").delete()  # its memberships and grant go with it
    group_syncs.clear()

    user = signed_in_user(browser, person)

    assert group_names(user) == {"Admins"}
    assert EntraGroupMembership.objects.filter(user=user, group__name="Admins").exists()
    assert takes_the_users_lock(group_syncs[0])


def test_a_grant_removed_by_hand_is_forgotten_when_entra_no_longer_grants_it(
    browser: SignInDriver, person: FakeUser, sso: Any, group_syncs: list[list[str]]
) -> None:
    editor_whose_membership_was_removed_by_hand(browser, person, sso)
    person.roles = ()
    group_syncs.clear()

    assert group_names(signed_in_user(browser, person)) == set()

    # Nothing to add or remove, but the stale grant had to go: this sign-in changed it.
    assert not EntraGroupMembership.objects.exists()
    assert takes_the_users_lock(group_syncs[0])


def test_a_grant_removed_by_hand_while_entra_still_grants_it_comes_back(
    browser: SignInDriver, person: FakeUser, sso: Any
) -> None:
    editor_whose_membership_was_removed_by_hand(browser, person, sso)

    user = signed_in_user(browser, person)

    assert group_names(user) == {"Editors"}
    assert EntraGroupMembership.objects.filter(user=user, group__name="Editors").exists()


def test_a_group_given_by_hand_that_entra_now_grants_changes_nothing(
    browser: SignInDriver, person: FakeUser, sso: Any, group_syncs: list[list[str]]
) -> None:
    sso.MICROSOFT_SSO_GROUP_MAP = {"Editor": "Editors"}
    user = signed_in_user(browser, person)
    user.groups.add(Group.objects.create(name="Editors"))
    person.roles = ("Editor",)
    group_syncs.clear()

    assert group_names(signed_in_user(browser, person)) == {"Editors"}

    # Held already: nothing is granted, so it stays a membership given by hand.
    assert not EntraGroupMembership.objects.exists()
    assert [len(statements) for statements in group_syncs] == [1]


def account_claims(person: FakeUser, roles: tuple[str, ...]) -> MicrosoftClaims:
    """The claims of a validated id_token of ``person``, holding ``roles``."""
    return MicrosoftClaims(
        tenant_id=person.tenant_id,
        object_id=person.object_id,
        subject=person.object_id,
        issuer=f"https://login.microsoftonline.com/{person.tenant_id}/v2.0",
        session_id=None,
        email=person.email,
        email_verified=True,
        preferred_username=person.preferred_username,
        name=person.name,
        given_name="",
        family_name="",
        is_guest=False,
        roles=roles,
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "rivals",
    [(("Shared", "A1", "A2"), ("Shared", "B1")), (("Shared", "Before"), ("Shared", "A1"))],
    ids=["both change", "one changes nothing"],
)
def test_concurrent_sign_ins_of_a_returning_user_leave_one_sign_ins_groups(
    browser: SignInDriver,
    person: FakeUser,
    sso: Any,
    rivals: tuple[tuple[str, ...], tuple[str, ...]],
) -> None:
    sso.MICROSOFT_SSO_MIRROR_ROLES = True
    before = ("Shared", "Before")
    person.roles = before
    user = signed_in_user(browser, person)
    outcomes = {frozenset(roles) for roles in rivals}

    def sign_in_with(roles: tuple[str, ...], barrier: threading.Barrier) -> None:
        try:
            connections["default"].ensure_connection()
            barrier.wait()
            policy.sign_in(
                account_claims(person, roles),
                RequestFactory().get("/"),
                sso_settings(),
                single_tenant_app=True,
            )
        finally:
            connections.close_all()

    for _ in range(10):
        barrier = threading.Barrier(len(rivals))
        with ThreadPoolExecutor(max_workers=len(rivals)) as pool:
            list(pool.map(sign_in_with, rivals, [barrier] * len(rivals)))

        held = frozenset(group_names(user))
        assert held in outcomes
        granted = EntraGroupMembership.objects.values_list("group__name", flat=True)
        assert set(granted) == held
        # Back to where both began, for the next round.
        policy.sign_in(
            account_claims(person, before),
            RequestFactory().get("/"),
            sso_settings(),
            single_tenant_app=True,
        )


@pytest.mark.django_db(transaction=True)
def test_a_sign_in_with_nothing_to_change_waits_for_one_of_the_same_account_that_changes(
    browser: SignInDriver, person: FakeUser, sso: Any
) -> None:
    """The roles a sign-in stores always match the groups it leaves, even when a sign-in
    that needs no group change runs while another one (the role just removed) commits."""
    sso.MICROSOFT_SSO_MIRROR_ROLES = True
    person.roles = ("Reports.Read",)
    user = signed_in_user(browser, person)
    removal_done, rival_started = threading.Event(), threading.Event()

    def sign_in_as_of(roles: tuple[str, ...]) -> None:
        policy.sign_in(
            account_claims(person, roles),
            RequestFactory().get("/"),
            sso_settings(),
            single_tenant_app=True,
        )

    def remove_the_role_and_hold_the_commit() -> None:
        try:
            with transaction.atomic():
                sign_in_as_of(())
                removal_done.set()
                rival_started.wait(10)
                time.sleep(0.5)  # the rival's sign-in is now waiting on ours, or done
        finally:
            connections.close_all()

    def sign_in_with_the_role_still_held() -> None:
        try:
            removal_done.wait(10)
            rival_started.set()
            sign_in_as_of(("Reports.Read",))
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        for outcome in [
            pool.submit(remove_the_role_and_hold_the_commit),
            pool.submit(sign_in_with_the_role_still_held),
        ]:
            outcome.result()

    # The later sign-in is whole: its role, and the group its role grants.
    assert MicrosoftIdentity.objects.get(user=user).roles == ["Reports.Read"]
    assert group_names(user) == {"Reports.Read"}


def test_no_map_means_no_group_is_touched(
    browser: SignInDriver, person: FakeUser, sso: Any
) -> None:
    user = signed_in_user(browser, person)
    user.groups.add(Group.objects.create(name="Manual"))
    person.roles = ("Admin",)
    assert group_names(signed_in_user(browser, person)) == {"Manual"}


def test_a_sign_in_without_overage_makes_exactly_one_outbound_call(
    browser: SignInDriver, person: FakeUser, sso: Any, identity_platform: FakeIdentityPlatform
) -> None:
    sso.MICROSOFT_SSO_GROUP_MAP = {READERS: "Readers"}
    person.groups = (READERS,)
    browser.signed_in(person)  # discovery and keys are fetched once per process
    identity_platform.clear_requests()

    browser.signed_in(person)

    assert identity_platform.count("token") == 1
    assert identity_platform.count("graph") == 0
    assert identity_platform.count("metadata") + identity_platform.count("keys") == 0


# --- Using it: the access token, /me/ and the permission ----------------------------------


def me(client: Client, access: str) -> Any:
    return client.get("/api/sso/me/", HTTP_AUTHORIZATION=f"Bearer {access}").json()


def test_the_access_token_carries_the_roles_also_after_a_refresh(
    browser: SignInDriver, person: FakeUser, sso: Any
) -> None:
    sso.MICROSOFT_SSO_GROUP_MAP = {"Admin": "Admins"}
    person.roles = ("Admin", "Reports.Read")
    tokens = browser.signed_in(person)
    claims = jwt.decode(tokens["access"], options={"verify_signature": False})
    assert claims["roles"] == ["Admin", "Reports.Read"]
    assert tokens["user"]["roles"] == ["Admin", "Reports.Read"]
    assert tokens["user"]["groups"] == ["Admins"]

    refreshed = browser.client.post(
        "/api/sso/token/refresh/", {"refresh": tokens["refresh"]}, content_type="application/json"
    ).json()

    body = me(browser.client, refreshed["access"])
    assert body["roles"] == ["Admin", "Reports.Read"]
    assert body["groups"] == ["Admins"]


class ReportsView(APIView):
    authentication_classes = (AccessTokenAuthentication,)
    permission_classes = (HasAppRole,)
    required_app_roles: tuple[str, ...] = ("Reports.Read",)

    def get(self, request: Any) -> Response:
        return Response({"ok": True})


class AdminOrEditorView(ReportsView):
    permission_classes = (HasAppRole.any_of("Admin", "Editor"),)


def call(view: type[APIView], access: str | None) -> Response:
    headers = {"Authorization": f"Bearer {access}"} if access else {}
    request = APIRequestFactory().get("/reports/", headers=headers)
    response: Response = view.as_view()(request)
    return response


@pytest.mark.parametrize(
    ("roles", "view", "allowed"),
    [
        (("Reports.Read",), ReportsView, True),
        (("Reports.Read", "Admin"), ReportsView, True),
        (("Admin",), ReportsView, False),
        ((), ReportsView, False),
        (("Editor",), AdminOrEditorView, True),
        (("Reports.Read",), AdminOrEditorView, False),
    ],
)
def test_the_app_role_permission_decides_from_the_token_alone(
    browser: SignInDriver,
    person: FakeUser,
    roles: tuple[str, ...],
    view: type[APIView],
    allowed: bool,
    django_assert_num_queries: Any,
) -> None:
    person.roles = roles
    access = browser.signed_in(person)["access"]

    with django_assert_num_queries(0):
        response = call(view, access)

    if allowed:
        assert response.status_code == 200
    else:
        assert response.status_code == 403
        assert response.data == {
            "detail": "Your account does not hold the app role this requires.",
            "code": "app_role_required",
        }


def test_the_app_role_permission_asks_for_a_token_first() -> None:
    assert call(ReportsView, None).status_code == 401


def test_a_view_without_required_roles_is_a_configuration_error(
    browser: SignInDriver, person: FakeUser
) -> None:
    class Forgotten(ReportsView):
        required_app_roles = ()

    access = browser.signed_in(person)["access"]
    with pytest.raises(ImproperlyConfigured, match="required_app_roles"):
        call(Forgotten, access)


def test_a_token_minted_elsewhere_grants_no_app_role_whatever_it_carries(
    browser: SignInDriver, person: FakeUser
) -> None:
    from rest_framework_simplejwt.tokens import AccessToken

    user = signed_in_user(browser, person)
    token = AccessToken.for_user(user)
    token["roles"] = ["Reports.Read"]  # a project's own claim, not Entra's app roles

    response = call(ReportsView, str(token))

    assert response.status_code == 403
    assert me(browser.client, str(token))["roles"] == []


def test_me_makes_no_query_with_roles_and_groups(
    browser: SignInDriver, person: FakeUser, sso: Any
) -> None:
    sso.MICROSOFT_SSO_MIRROR_ROLES = True
    person.roles = ("Admin",)
    access = browser.signed_in(person)["access"]
    with CaptureQueriesContext(connections["default"]) as queries:
        body = me(browser.client, access)
    assert len(queries) == 0
    assert (body["roles"], body["groups"]) == (["Admin"], ["Admin"])


def test_the_schema_documents_the_app_role_permissions_errors() -> None:
    import yaml

    committed = Path(__file__).resolve().parent.parent / "docs" / "openapi.yaml"
    operation = yaml.safe_load(committed.read_text())["paths"]["/api/example/admin-report/"]
    responses = operation["get"]["responses"]
    assert set(responses) == {"200", "401", "403"}
    assert "`app_role_required`" in responses["403"]["description"]


# --- Group overage --------------------------------------------------------------------------


@pytest.fixture
def nested(identity_platform: FakeIdentityPlatform, contoso: FakeTenant) -> dict[str, Any]:
    """Staff > Engineering > Platform, and five project groups: a member of Platform and
    the projects holds eight groups, transitively."""
    staff = identity_platform.add_group(contoso, "Staff")
    engineering = identity_platform.add_group(contoso, "Engineering", member_of=[staff])
    platform_team = identity_platform.add_group(contoso, "Platform", member_of=[engineering])
    projects = [identity_platform.add_group(contoso, f"Project {n}") for n in range(5)]
    return {
        "staff": staff,
        "engineering": engineering,
        "platform": platform_team,
        "projects": projects,
    }


@pytest.fixture
def in_overage(
    person: FakeUser, nested: dict[str, Any], identity_platform: FakeIdentityPlatform, sso: Any
) -> FakeUser:
    """``person`` in more groups than the platform puts in a token (the limit lowered to 4),
    with Graph answering two groups a page."""
    person.groups = (nested["platform"].object_id, *(p.object_id for p in nested["projects"]))
    identity_platform.group_overage_limit = 4
    identity_platform.graph_page_size = 2
    sso.MICROSOFT_SSO_GROUP_MAP = {
        nested["staff"].object_id: "Staff",
        nested["platform"].object_id: "Platform",
        "Admin": "Admins",
    }
    sso.MICROSOFT_SSO_FLAG_MAP = {"is_staff": [nested["engineering"].object_id]}
    sso.MICROSOFT_SSO_SCOPES = ["email", "User.Read"]
    return person


@pytest.mark.parametrize("overage_claim", ["claim_sources", "hasgroups"])
def test_overage_resolves_nested_groups_through_every_graph_page(
    browser: SignInDriver,
    in_overage: FakeUser,
    identity_platform: FakeIdentityPlatform,
    overage_claim: Literal["claim_sources", "hasgroups"],
) -> None:
    identity_platform.faults.overage_claim = overage_claim
    identity_platform.clear_requests()

    user = signed_in_user(browser, in_overage)

    assert group_names(user) == {"Staff", "Platform"}
    assert user.is_staff is True
    # Eight groups, two a page: four pages, one sign-in.
    assert identity_platform.count("graph") == 4
    assert identity_platform.count("token") == 1


def test_without_a_group_id_in_the_maps_overage_costs_no_graph_call(
    browser: SignInDriver, in_overage: FakeUser, identity_platform: FakeIdentityPlatform, sso: Any
) -> None:
    sso.MICROSOFT_SSO_GROUP_MAP = {"Admin": "Admins"}
    sso.MICROSOFT_SSO_FLAG_MAP = {}
    in_overage.roles = ("Admin",)
    identity_platform.clear_requests()

    assert group_names(signed_in_user(browser, in_overage)) == {"Admins"}
    assert identity_platform.count("graph") == 0


GRAPH_FAULTS = [
    {"graph_status": 503},
    {"graph_status": 500},
    {"graph_status": 429, "graph_retry_after": 30},
    {"graph_delay": 3.0},
    {"graph_malformed": "not_json"},
    {"graph_malformed": "no_value"},
    {"graph_malformed": "value_not_list"},
    {"graph_malformed": "foreign_next_link"},
    {"graph_fault_page": 3, "graph_status": 503},
]


@pytest.mark.parametrize(
    "fault", GRAPH_FAULTS, ids=lambda fault: "-".join(map(str, fault.values()))
)
def test_a_failing_graph_refuses_the_sign_in_and_changes_nothing(
    browser: SignInDriver,
    in_overage: FakeUser,
    identity_platform: FakeIdentityPlatform,
    nested: dict[str, Any],
    fault: dict[str, Any],
) -> None:
    # A first sign-in within the limit: Platform and Staff granted, staff flag set.
    in_overage.groups = (nested["platform"].object_id,)
    user = signed_in_user(browser, in_overage)
    assert group_names(user) == {"Staff", "Platform"}
    in_overage.groups = (nested["platform"].object_id, *(p.object_id for p in nested["projects"]))
    for name, value in fault.items():
        setattr(identity_platform.faults, name, value)

    attempt = browser.sign_in(in_overage)

    assert attempt.error == "groups_unavailable"
    user.refresh_from_db()
    assert group_names(user) == {"Staff", "Platform"}
    assert user.is_staff is True


def test_a_failing_graph_creates_no_user(
    browser: SignInDriver, in_overage: FakeUser, identity_platform: FakeIdentityPlatform
) -> None:
    identity_platform.faults.graph_status = 503
    assert browser.sign_in(in_overage).error == "groups_unavailable"
    assert not User.objects.exists()


def test_the_exception_handler_gives_a_projects_own_views_our_error_shape(
    settings: Any,
) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "EXCEPTION_HANDLER": "sso_api.views.exception_handler",
    }
    response = call(ReportsView, None)
    assert response.status_code == 401
    assert response.data == {
        "detail": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }


def test_the_exception_handler_keeps_the_app_role_refusal_in_our_shape(
    settings: Any, browser: SignInDriver, person: FakeUser
) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "EXCEPTION_HANDLER": "sso_api.views.exception_handler",
    }
    response = call(ReportsView, browser.signed_in(person)["access"])
    assert response.status_code == 403
    assert response.data == {
        "detail": "Your account does not hold the app role this requires.",
        "code": "app_role_required",
    }


def test_the_exception_handler_does_not_repeat_the_method(
    settings: Any,
) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "EXCEPTION_HANDLER": "sso_api.views.exception_handler",
    }

    class Open(APIView):
        def get(self, request: Any) -> Response:
            return Response({"ok": True})

    method = Open.as_view()(APIRequestFactory().generic("BREW<b>", "/open/"))
    assert (method.status_code, method.data) == (
        405,
        {"detail": "This HTTP method is not allowed here.", "code": "method_not_allowed"},
    )
