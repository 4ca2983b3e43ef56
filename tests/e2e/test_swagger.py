"""Swagger UI in the demo signs in either way: through the API's own flow, calling /me/
with our token, or with its own "Authorize" dialog and the entraOAuth2 scheme, calling the
admin report with an Entra access token."""

from __future__ import annotations

import base64
import json
from typing import Any

from playwright.sync_api import Page, Request, Response, expect

from tests.e2e.conftest import Demo, screenshot


def test_swagger_ui_signs_in_and_tries_me(page: Page, query_demo: Demo) -> None:
    # Query mode, whose demo issues long-lived access tokens: the default demo's expire in
    # seconds, for the refresh test, which a slow machine could outlast here.
    demo = query_demo
    page.goto(demo.api + "/api/docs/")
    expect(page.locator("#sso-status")).to_contain_text("Not signed in")
    page.click("#sso-sign-in")
    page.wait_for_url(demo.pages + "/**")
    page.click(f'[data-object-id="{demo.user("ada@contoso.example")["object_id"]}"]')
    page.wait_for_url(demo.api + "/api/docs/**")
    expect(page.locator("#sso-status")).to_contain_text("Signed in as Ada Lovelace")
    assert "sso_code" not in page.url
    screenshot(page, "swagger-ui-signed-in", demo)

    operation = page.locator("#operations-sso-sso_me")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()

    status = operation.locator(".live-responses-table tbody td.response-col_status").first
    expect(status).to_have_text("200")
    expect(operation.locator(".live-responses-table")).to_contain_text("ada@contoso.example")


def _claims(raw_token: str) -> dict[str, Any]:
    """A JWT's payload, unverified: what the test reads to tell whose token was sent."""
    payload = raw_token.split(".")[1]
    unverified_claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return unverified_claims


def test_swagger_ui_authorizes_with_entra_and_reads_the_admin_report(
    page: Page, query_demo: Demo
) -> None:
    demo = query_demo
    token_endpoint = f"{demo.pages}/organizations/oauth2/v2.0/token"
    token_answers: list[Response] = []
    sent_tokens: list[str] = []

    def record_token_answer(answer: Response) -> None:
        if answer.url == token_endpoint:
            token_answers.append(answer)

    def record_bearer(request: Request) -> None:
        authorization = request.headers.get("authorization", "")
        if "/api/example/admin-report/" in request.url and authorization.startswith("Bearer "):
            sent_tokens.append(authorization.removeprefix("Bearer "))

    page.on("response", record_token_answer)
    page.on("request", record_bearer)
    page.goto(demo.api + "/api/docs/")
    page.locator(".auth-wrapper .btn.authorize").click()
    entra = page.locator(".auth-container", has_text="entraOAuth2")
    expect(entra).to_contain_text("authorizationCode with PKCE")
    expect(entra.get_by_label("client_id:")).to_have_value("demo-swagger-ui")

    with page.expect_popup() as opened:
        entra.get_by_role("button", name="Apply given OAuth2 credentials").click()
    sign_in = opened.value
    sign_in.wait_for_url(demo.pages + "/**")
    sign_in.click(f'[data-object-id="{demo.user("ada@contoso.example")["object_id"]}"]')
    # oauth2-redirect.html hands the code to Swagger UI and closes the window.
    sign_in.wait_for_event("close")

    expect(entra.get_by_role("heading", name="Authorized")).to_be_visible()
    # The code went cross-origin to the fake's token endpoint, which let this page read it.
    assert [answer.status for answer in token_answers] == [200]
    assert token_answers[0].headers["access-control-allow-origin"] == demo.api
    screenshot(page, "swagger-ui-entra-authorized", demo)
    page.locator(".auth-btn-wrapper .btn-done").first.click()

    operation = page.locator("#operations-example-example_admin_report")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()

    status = operation.locator(".live-responses-table tbody td.response-col_status").first
    expect(status).to_have_text("200")
    expect(operation.locator(".live-responses-table")).to_contain_text("Only admins read this.")
    expect(operation.locator(".live-responses-table")).to_contain_text('"Admin"')
    # What Swagger UI sent is Entra's access token for this API, issued to Swagger UI's
    # own registration for Ada: not one of the API's own tokens.
    claims = _claims(sent_tokens[-1])
    assert (claims["aud"], claims["appid"], claims["scp"]) == (
        "api://demo-client",
        "demo-swagger-ui",
        "access_as_user",
    )
    assert claims["oid"] == demo.user("ada@contoso.example")["object_id"]
    # Her account, first seen through that token, became a user of the API.
    assert demo.count("sso_api_microsoftidentity") == 1
