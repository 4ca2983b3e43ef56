"""Authorization from Entra in the demo's SPA: app roles, groups and the admin report.

The demo maps Contoso's groups "Contoso staff" and "Engineering" to Django groups of the
same names, and every app role becomes a Django group too (the example's default). The SPA
shows the signed-in user's app roles and Django groups, and asks the example project's
admin report, which only holders of the ``Admin`` app role may read.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Demo, screenshot
from tests.e2e.test_browser import expect_signed_in_as, sign_in

ADA = "ada@contoso.example"  # app role Admin; Platform team < Engineering < Contoso staff
GRACE = "grace@contoso.example"  # no app role; Support < Contoso staff
DOROTHY = "dorothy@contoso.example"  # in too many groups for her token: overage


def expect_badges(page: Page, test_id: str, names: list[str]) -> None:
    expect(page.get_by_test_id(test_id).get_by_role("listitem")).to_have_text(names)


def read_admin_report(page: Page) -> None:
    page.get_by_test_id("admin-report").click()
    expect(page.get_by_test_id("admin-report-result")).to_be_visible()


def test_ada_shows_her_app_role_and_groups_and_may_read_the_admin_report(
    page: Page, demo: Demo
) -> None:
    sign_in(page, demo, ADA)
    expect_signed_in_as(page, "Ada Lovelace")

    expect_badges(page, "user-roles", ["Admin"])
    # Her app role mirrored, and the two mapped groups she is in through nesting.
    expect_badges(page, "user-groups", ["Admin", "Contoso staff", "Engineering"])
    read_admin_report(page)
    result = page.get_by_test_id("admin-report-result")
    expect(result).to_contain_text("Allowed")
    expect(result).to_contain_text("HTTP 200")
    expect(page.get_by_test_id("admin-report-message")).to_have_text("Only admins read this.")
    expect(page.get_by_test_id("admin-report-code")).to_have_count(0)
    expect(page.get_by_test_id("error")).to_have_count(0)
    screenshot(page, "spa-admin-report", demo)


def test_grace_holds_no_app_role_and_the_admin_report_refuses_her(page: Page, demo: Demo) -> None:
    sign_in(page, demo, GRACE)
    expect_signed_in_as(page, "Grace Hopper")

    expect(page.get_by_test_id("user-roles")).to_have_text("none")
    expect_badges(page, "user-groups", ["Contoso staff"])
    read_admin_report(page)
    result = page.get_by_test_id("admin-report-result")
    expect(result).to_contain_text("Refused")
    expect(result).to_contain_text("HTTP 403")
    expect(page.get_by_test_id("admin-report-message")).to_have_text(
        "Your account does not hold the app role this requires."
    )
    expect(page.get_by_test_id("admin-report-code")).to_have_text("app_role_required")
    # A refusal is the answer asked for, not a failed sign-in: the session stays.
    expect(page.get_by_test_id("error")).to_have_count(0)
    expect_signed_in_as(page, "Grace Hopper")


def test_dorothys_groups_in_overage_are_read_from_microsoft_graph(page: Page, demo: Demo) -> None:
    dorothy = demo.user(DOROTHY)
    assert dorothy["group_overage"]  # her id_token carries no groups, only the marker

    sign_in(page, demo, DOROTHY)
    expect_signed_in_as(page, "Dorothy Vaughan")

    # Only the fake's Microsoft Graph can have named these groups: her token did not.
    expect_badges(page, "user-groups", ["Contoso staff", "Engineering"])
    expect(page.get_by_test_id("user-roles")).to_have_text("none")
    expect(page.get_by_test_id("error")).to_have_count(0)
