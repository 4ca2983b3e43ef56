# tests/test_sign_in.py
import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db


def test_a_new_employee_gets_an_account(sso_sign_in, sso_make_user):
    employee = sso_make_user("New Employee", email="new@contoso.example")

    tokens = sso_sign_in(employee)

    assert tokens["user"]["email"] == "new@contoso.example"
    assert get_user_model().objects.filter(email="new@contoso.example").exists()


def test_our_orders_api_takes_the_access_token(sso_sign_in, sso_make_user, client):
    tokens = sso_sign_in(sso_make_user())
    response = client.get("/api/orders/", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert response.status_code == 200


def test_partners_are_kept_out(sso_settings, sso_identity_platform, sso_tenant,
                               sso_make_tenant, sso_make_user, sso_driver):
    sso_settings.MICROSOFT_SSO_TENANT_ID = "organizations"
    sso_settings.MICROSOFT_SSO_AUTHORITY = sso_identity_platform.authority("organizations")
    sso_settings.MICROSOFT_SSO_ALLOWED_TENANTS = [sso_tenant.tenant_id]
    partner = sso_make_user(tenant=sso_make_tenant("Partner"))

    assert sso_driver.sign_in(partner).error == "tenant_not_allowed"


def test_an_outage_at_microsoft_is_reported(sso_identity_platform, sso_make_user, sso_driver):
    sso_identity_platform.faults.token_endpoint_status = 503
    assert sso_driver.sign_in(sso_make_user()).error == "provider_unavailable"
