"""Who may sign in, and which Django user a Microsoft account becomes."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connections

from sso_api.exceptions import LoginRefused
from sso_api.models import MicrosoftIdentity
from sso_api.policy import app_is_single_tenant, domain_allowed
from sso_api.testing import FakeIdentityPlatform, FakeTenant, FakeUser
from sso_api.testing.client import SignInDriver

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture(scope="session")
def attacker_tenant(identity_platform: FakeIdentityPlatform) -> FakeTenant:
    return identity_platform.add_tenant(name="Attacker", domain="attacker.example")


# --- Binding by (tenant id, object id) ----------------------------------------------------


def test_a_user_is_bound_to_tenant_and_object_id_not_to_email(
    browser: SignInDriver, identity_platform: FakeIdentityPlatform, contoso: FakeTenant
) -> None:
    person = identity_platform.add_user(
        contoso, name="Mo Renamed", email="mo@contoso.example", email_verified=True
    )
    first = browser.signed_in(person)["user"]

    person.email = "mo.new@contoso.example"
    person.preferred_username = "mo.new@contoso.example"
    second = browser.signed_in(person)["user"]

    assert second["id"] == first["id"]
    assert User.objects.count() == 1


def test_nOAuth_a_foreign_tenant_carrying_a_victims_unverified_email_gets_nothing(
    browser: SignInDriver,
    multi_tenant: Any,
    ada: FakeUser,
    identity_platform: FakeIdentityPlatform,
    attacker_tenant: FakeTenant,
) -> None:
    multi_tenant.MICROSOFT_SSO_UNIQUE_EMAIL = True
    multi_tenant.MICROSOFT_SSO_SUPERUSER_LIST = ["ada@contoso.example"]
    victim = browser.signed_in(ada)["user"]
    impostor = identity_platform.add_user(
        attacker_tenant, name="Ada Lovelace", email="ada@contoso.example", email_verified=False
    )

    attempt = browser.sign_in(impostor)

    assert attempt.error == "email_not_verified"
    assert MicrosoftIdentity.objects.filter(user_id=victim["id"]).count() == 1


def test_nOAuth_without_unique_email_the_impostor_becomes_a_separate_powerless_user(
    browser: SignInDriver,
    multi_tenant: Any,
    ada: FakeUser,
    identity_platform: FakeIdentityPlatform,
    attacker_tenant: FakeTenant,
) -> None:
    multi_tenant.MICROSOFT_SSO_SUPERUSER_LIST = ["ada@contoso.example"]
    multi_tenant.MICROSOFT_SSO_STAFF_LIST = ["ada@contoso.example"]
    victim = browser.signed_in(ada)["user"]
    impostor = identity_platform.add_user(
        attacker_tenant, name="Ada Lovelace", email="ada@contoso.example", email_verified=False
    )

    impostor_user = browser.signed_in(impostor)["user"]

    assert impostor_user["id"] != victim["id"]
    assert impostor_user["email"] == ""
    created = User.objects.get(pk=impostor_user["id"])
    assert not created.is_staff
    assert not created.is_superuser
    assert User.objects.get(pk=victim["id"]).is_superuser


def test_unique_email_links_a_verified_email_to_the_existing_user(
    browser: SignInDriver, multi_tenant: Any, ada: FakeUser
) -> None:
    multi_tenant.MICROSOFT_SSO_UNIQUE_EMAIL = True
    existing = User.objects.create_user(username="ada", email="Ada@Contoso.example")

    body = browser.signed_in(ada)

    assert body["user"]["id"] == str(existing.pk)


def test_in_a_single_tenant_app_a_members_email_is_trusted_without_xms_edov(
    browser: SignInDriver, sso: Any, grace: FakeUser
) -> None:
    sso.MICROSOFT_SSO_UNIQUE_EMAIL = True
    existing = User.objects.create_user(username="grace", email="grace@contoso.example")
    assert browser.signed_in(grace)["user"]["id"] == str(existing.pk)


def test_in_a_multi_tenant_app_an_email_without_xms_edov_is_not_trusted(
    browser: SignInDriver, multi_tenant: Any, grace: FakeUser
) -> None:
    multi_tenant.MICROSOFT_SSO_UNIQUE_EMAIL = True
    User.objects.create_user(username="grace", email="grace@contoso.example")
    assert browser.sign_in(grace).error == "email_not_verified"


def test_a_guests_email_is_not_trusted_even_in_a_single_tenant_app(
    browser: SignInDriver,
    sso: Any,
    identity_platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    attacker_tenant: FakeTenant,
) -> None:
    sso.MICROSOFT_SSO_STAFF_LIST = ["boss@contoso.example"]
    guest = identity_platform.add_user(
        contoso,
        name="Guest",
        email="boss@contoso.example",
        email_verified=None,
        guest=True,
        home_tenant=attacker_tenant,
    )
    user = browser.signed_in(guest)["user"]
    assert user["email"] == ""
    assert not User.objects.get(pk=user["id"]).is_staff


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_first_sign_ins_create_one_user(
    sso: Any, identity_platform: FakeIdentityPlatform, contoso: FakeTenant
) -> None:
    person = identity_platform.add_user(
        contoso, name="Rush Hour", email="rush@contoso.example", email_verified=True
    )
    # Each browser has its callback answer ready; the callbacks then arrive together.
    browsers = [SignInDriver(identity_platform) for _ in range(50)]
    answers = []
    for each in browsers:
        started = each.start(next="/").json()
        answers.append(identity_platform.authorize(started["authorization_url"], user=person))
    barrier = threading.Barrier(10)

    def deliver(index: int) -> str:
        try:
            if index < 10:
                barrier.wait()
            return str(browsers[index].deliver(answers[index])["Location"])
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=10) as pool:
        locations = list(pool.map(deliver, range(50)))

    assert all("sso_code=" in location for location in locations), locations
    assert User.objects.count() == 1
    assert MicrosoftIdentity.objects.count() == 1


# --- Tenants and domains ------------------------------------------------------------------


def test_a_tenant_outside_allowed_tenants_is_refused(
    browser: SignInDriver,
    multi_tenant: Any,
    contoso: FakeTenant,
    fabrikam: FakeTenant,
    identity_platform: FakeIdentityPlatform,
    ada: FakeUser,
) -> None:
    multi_tenant.MICROSOFT_SSO_ALLOWED_TENANTS = [contoso.tenant_id.upper()]
    outsider = identity_platform.add_user(
        fabrikam, name="Out Sider", email="out@fabrikam.example", email_verified=True
    )
    attempt = browser.sign_in(outsider)
    assert attempt.error == "tenant_not_allowed"
    assert not User.objects.exists()
    assert browser.sign_in(ada).error is None


@pytest.mark.parametrize(
    ("email", "allowed", "expected"),
    [
        ("a@contoso.example", [], False),
        ("a@contoso.example", ["*"], True),
        (None, ["*"], True),
        ("a@contoso.example", ["contoso.example"], True),
        ("a@CONTOSO.example", ["contoso.example"], True),
        ("a@evilcontoso.example", ["contoso.example"], False),
        ("a@contoso.example.evil", ["contoso.example"], False),
        ("a@eu.contoso.example", ["contoso.example"], False),
        ("a@eu.contoso.example", ["*.contoso.example"], True),
        ("a@evilcontoso.example", ["*.contoso.example"], False),
        (None, ["contoso.example"], False),
    ],
)
def test_allowable_domains_match_exactly_or_by_subdomain_wildcard(
    email: str | None, allowed: list[str], expected: bool
) -> None:
    assert domain_allowed(email.lower() if email else None, allowed) is expected


def test_an_empty_domain_list_lets_nobody_in(
    browser: SignInDriver, sso: Any, ada: FakeUser
) -> None:
    sso.MICROSOFT_SSO_ALLOWABLE_DOMAINS = []
    assert browser.sign_in(ada).error == "domain_not_allowed"
    assert not User.objects.exists()


def test_the_domain_list_only_trusts_verified_email(
    browser: SignInDriver,
    multi_tenant: Any,
    identity_platform: FakeIdentityPlatform,
    attacker_tenant: FakeTenant,
) -> None:
    multi_tenant.MICROSOFT_SSO_ALLOWABLE_DOMAINS = ["contoso.example"]
    impostor = identity_platform.add_user(
        attacker_tenant, name="Imp", email="imp@contoso.example", email_verified=False
    )
    assert browser.sign_in(impostor).error == "domain_not_allowed"


# --- Creation, updates, lists and hooks ---------------------------------------------------


def test_auto_create_off_refuses_unknown_accounts(
    browser: SignInDriver, sso: Any, ada: FakeUser
) -> None:
    sso.MICROSOFT_SSO_AUTO_CREATE_USERS = False
    assert browser.sign_in(ada).error == "user_not_found"
    assert not User.objects.exists()


def test_staff_and_superuser_lists_use_the_trusted_email(
    browser: SignInDriver, sso: Any, ada: FakeUser, grace: FakeUser
) -> None:
    sso.MICROSOFT_SSO_STAFF_LIST = ["GRACE@contoso.example"]
    sso.MICROSOFT_SSO_SUPERUSER_LIST = ["ada@contoso.example"]
    ada_user = User.objects.get(pk=browser.signed_in(ada)["user"]["id"])
    grace_user = User.objects.get(pk=browser.signed_in(grace)["user"]["id"])
    assert ada_user.is_superuser
    assert ada_user.is_staff
    assert grace_user.is_staff
    assert not grace_user.is_superuser


def test_the_first_user_becomes_superuser_when_asked(
    browser: SignInDriver, sso: Any, ada: FakeUser, grace: FakeUser
) -> None:
    sso.MICROSOFT_SSO_AUTO_CREATE_FIRST_SUPERUSER = True
    first = User.objects.get(pk=browser.signed_in(ada)["user"]["id"])
    second = User.objects.get(pk=browser.signed_in(grace)["user"]["id"])
    assert first.is_superuser
    assert not second.is_superuser


def test_user_data_is_refreshed_only_when_asked(
    browser: SignInDriver, sso: Any, identity_platform: FakeIdentityPlatform, contoso: FakeTenant
) -> None:
    person = identity_platform.add_user(
        contoso,
        name="Old Name",
        given_name="Old",
        family_name="Name",
        email="old@contoso.example",
        email_verified=True,
    )
    browser.signed_in(person)
    person.given_name = "New"
    assert browser.signed_in(person)["user"]["first_name"] == "Old"

    sso.MICROSOFT_SSO_ALWAYS_UPDATE_USER_DATA = True
    assert browser.signed_in(person)["user"]["first_name"] == "New"


def test_an_inactive_user_cannot_sign_in(browser: SignInDriver, ada: FakeUser) -> None:
    browser.signed_in(ada)
    User.objects.update(is_active=False)
    assert browser.sign_in(ada).error == "user_inactive"


def refuse_everyone(claims: Any, request: Any) -> bool:
    return False


def add_nickname(claims: Any, request: Any, fields: dict[str, Any]) -> dict[str, Any]:
    return {"last_name": f"{fields['last_name']} (via hook)"}


def explode(user: Any, claims: Any, request: Any) -> None:
    raise RuntimeError("contains a secret: hunter2")


def refuse_with_code(user: Any, claims: Any, request: Any) -> None:
    raise LoginRefused("custom refusal")


def test_pre_validate_hook_can_refuse(browser: SignInDriver, sso: Any, ada: FakeUser) -> None:
    sso.MICROSOFT_SSO_PRE_VALIDATE_CALLBACK = "tests.test_identity.refuse_everyone"
    assert browser.sign_in(ada).error == "login_refused"
    assert not User.objects.exists()


def test_pre_create_hook_adds_fields(browser: SignInDriver, sso: Any, ada: FakeUser) -> None:
    sso.MICROSOFT_SSO_PRE_CREATE_CALLBACK = add_nickname
    assert browser.signed_in(ada)["user"]["last_name"] == "Lovelace (via hook)"


@pytest.mark.parametrize("hook", [explode, refuse_with_code])
def test_a_failing_pre_login_hook_refuses_and_leaves_no_user(
    browser: SignInDriver, sso: Any, ada: FakeUser, hook: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sso.MICROSOFT_SSO_PRE_LOGIN_CALLBACK = hook
    attempt = browser.sign_in(ada)
    assert attempt.error == "login_refused"
    assert not User.objects.exists()
    assert "hunter2" not in caplog.text


# --- Usernames and edge cases of email trust -----------------------------------------------


def test_an_untrusted_email_or_upn_never_becomes_the_username(
    browser: SignInDriver,
    multi_tenant: Any,
    identity_platform: FakeIdentityPlatform,
    attacker_tenant: FakeTenant,
) -> None:
    squatter = identity_platform.add_user(
        attacker_tenant,
        name="Squatter",
        email="admin@contoso.example",
        email_verified=False,
        preferred_username="admin",
    )
    user = browser.signed_in(squatter)["user"]
    assert user["username"] == f"ms-{squatter.object_id}"


def test_a_taken_username_gets_a_stable_suffix_instead_of_linking(
    browser: SignInDriver, sso: Any, ada: FakeUser
) -> None:
    other = User.objects.create_user(username="ada@contoso.example", email="someone@else.example")
    user = browser.signed_in(ada)["user"]
    assert user["id"] != str(other.pk)
    assert user["username"].startswith("ada@contoso.example-")


def test_the_first_superuser_needs_a_trusted_email(
    browser: SignInDriver,
    multi_tenant: Any,
    identity_platform: FakeIdentityPlatform,
    attacker_tenant: FakeTenant,
) -> None:
    multi_tenant.MICROSOFT_SSO_AUTO_CREATE_FIRST_SUPERUSER = True
    stranger = identity_platform.add_user(
        attacker_tenant, name="First Comer", email="first@attacker.example", email_verified=None
    )
    user = User.objects.get(pk=browser.signed_in(stranger)["user"]["id"])
    assert not user.is_superuser


def test_several_users_with_one_email_refuse_to_link(
    browser: SignInDriver, multi_tenant: Any, ada: FakeUser
) -> None:
    multi_tenant.MICROSOFT_SSO_UNIQUE_EMAIL = True
    User.objects.create_user(username="ada1", email="ada@contoso.example")
    User.objects.create_user(username="ada2", email="ADA@contoso.example")
    assert browser.sign_in(ada).error == "login_refused"
    assert not MicrosoftIdentity.objects.exists()


@pytest.mark.parametrize(
    ("issuer", "tenant_id", "single"),
    [
        ("https://login.microsoftonline.com/{tenantid}/v2.0", "t", False),
        ("https://login.microsoftonline.com/t/v2.0", "t", True),
        (
            "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0",
            "9188040d-6c67-4c5b-b112-36a304b66dad",
            False,
        ),
    ],
    ids=["organizations", "one-tenant", "consumers"],
)
def test_only_an_organizations_own_tenant_counts_as_single_tenant(
    issuer: str, tenant_id: str, single: bool
) -> None:
    assert app_is_single_tenant(issuer, tenant_id) is single


def test_a_wildcard_staff_list_needs_a_trusted_email(
    browser: SignInDriver,
    multi_tenant: Any,
    identity_platform: FakeIdentityPlatform,
    attacker_tenant: FakeTenant,
) -> None:
    multi_tenant.MICROSOFT_SSO_STAFF_LIST = ["*"]
    multi_tenant.MICROSOFT_SSO_SUPERUSER_LIST = ["*"]
    stranger = identity_platform.add_user(
        attacker_tenant, name="No Mail", email=None, email_verified=None
    )
    user = User.objects.get(pk=browser.signed_in(stranger)["user"]["id"])
    assert not user.is_staff
    assert not user.is_superuser


def choose_username(claims: Any, request: Any, fields: dict[str, Any]) -> dict[str, Any]:
    return {"username": f"emp-{claims.object_id[:8]}"}


def test_pre_create_hook_may_choose_the_username(
    browser: SignInDriver, sso: Any, ada: FakeUser
) -> None:
    sso.MICROSOFT_SSO_PRE_CREATE_CALLBACK = choose_username
    assert browser.signed_in(ada)["user"]["username"] == f"emp-{ada.object_id[:8]}"
