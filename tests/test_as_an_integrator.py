"""Written exactly as a project using sso_api would write it: only the plugin's fixtures.

Nothing here comes from this repository's conftest.py; the ``sso_*`` fixtures are those
that ``pip install sso-api`` brings to any pytest-django suite.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db


def test_a_new_employee_signs_in_and_gets_an_account(sso_sign_in: Any, sso_make_user: Any) -> None:
    employee = sso_make_user("New Employee", email="new.employee@contoso.example")

    result = sso_sign_in(employee)

    assert result["user"]["email"] == "new.employee@contoso.example"
    assert get_user_model().objects.filter(email="new.employee@contoso.example").exists()


def test_our_api_accepts_the_access_token(
    sso_sign_in: Any, sso_make_user: Any, client: Client
) -> None:
    tokens = sso_sign_in(sso_make_user())

    response = client.get("/api/sso/me/", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")

    assert response.status_code == 200
    assert response.json()["id"] == tokens["user"]["id"]


def test_only_our_tenant_may_sign_in(
    sso_settings: Any,
    sso_identity_platform: Any,
    sso_tenant: Any,
    sso_make_tenant: Any,
    sso_make_user: Any,
    sso_driver: Any,
) -> None:
    sso_settings.MICROSOFT_SSO_TENANT_ID = "organizations"
    sso_settings.MICROSOFT_SSO_AUTHORITY = sso_identity_platform.authority("organizations")
    sso_settings.MICROSOFT_SSO_ALLOWED_TENANTS = [sso_tenant.tenant_id]
    outsider = sso_make_user(tenant=sso_make_tenant("Partner"))

    assert sso_driver.sign_in(outsider).error == "tenant_not_allowed"
    assert sso_driver.sign_in(sso_make_user()).error is None


def grant_staff_to_admins(user: Any, claims: Any, request: Any) -> None:
    """The project's own rule: the app role "Admin" makes a user staff."""
    if "Admin" in claims.roles and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])


def test_an_app_role_can_drive_our_permissions(
    sso_settings: Any, sso_sign_in: Any, sso_make_user: Any
) -> None:
    sso_settings.MICROSOFT_SSO_PRE_LOGIN_CALLBACK = grant_staff_to_admins
    admin = sso_make_user(roles=["Admin"], groups=["b1c5a3f0-0000-4000-8000-000000000001"])
    reader = sso_make_user(roles=["Reader"])

    admin_user = get_user_model().objects.get(pk=sso_sign_in(admin)["user"]["id"])
    reader_user = get_user_model().objects.get(pk=sso_sign_in(reader)["user"]["id"])

    assert admin_user.is_staff
    assert not reader_user.is_staff


def test_an_unverified_email_does_not_link_to_an_existing_account(
    sso_settings: Any,
    sso_make_user: Any,
    sso_make_tenant: Any,
    sso_driver: Any,
    sso_identity_platform: Any,
) -> None:
    sso_settings.MICROSOFT_SSO_TENANT_ID = "organizations"
    sso_settings.MICROSOFT_SSO_AUTHORITY = sso_identity_platform.authority("organizations")
    sso_settings.MICROSOFT_SSO_UNIQUE_EMAIL = True
    get_user_model().objects.create_user(username="boss", email="boss@contoso.example")
    impostor = sso_make_user(
        email="boss@contoso.example", email_verified=False, tenant=sso_make_tenant("Elsewhere")
    )

    assert sso_driver.sign_in(impostor).error == "email_not_verified"


def test_a_disabled_account_cannot_sign_in(sso_make_user: Any, sso_driver: Any) -> None:
    attempt = sso_driver.sign_in(sso_make_user(disabled=True))

    assert attempt.error == "access_denied"
    assert attempt.sso_code is None


def test_an_outage_at_microsoft_is_reported_not_crashed(
    sso_identity_platform: Any, sso_make_user: Any, sso_driver: Any
) -> None:
    sso_identity_platform.faults.token_endpoint_status = 503

    assert sso_driver.sign_in(sso_make_user()).error == "provider_unavailable"
    assert not get_user_model().objects.exists()
