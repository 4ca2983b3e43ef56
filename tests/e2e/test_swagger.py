"""Swagger UI in the demo signs in through the API's own flow and calls /me/ with it."""

from __future__ import annotations

from playwright.sync_api import Page, expect

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
