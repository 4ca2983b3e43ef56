"""The demo as a person first meets it: the banner, a fresh browser, quiet logs.

A fresh Chromium profile trusts no test CA and has no certificate exceptions, so these
tests see what someone who just ran ``./scripts/demo.sh`` sees: no certificate warning,
no error in the browser console, a banner that says what to do.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import (
    BrowserContext,
    ConsoleMessage,
    Error,
    Frame,
    Page,
    Playwright,
    Request,
    expect,
)

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, Demo

ADA = "ada@contoso.example"


@pytest.fixture
def fresh_profile(playwright: Playwright, tmp_path: Path) -> Iterator[BrowserContext]:
    """Chromium with a new, empty profile and no flag or option about certificates."""
    assert not [flag for flag in CHROMIUM_ARGS if re.search("cert|insecure|ssl", flag, re.I)]
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS
    )
    yield context
    context.close()


def watch_for_trouble(page: Page) -> list[str]:
    """A list that fills with console errors, script errors and certificate failures."""
    trouble: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            trouble.append(f"console error on {page.url}: {message.text}")

    def script_error(error: Error) -> None:
        trouble.append(f"script error on {page.url}: {error}")

    def failed(request: Request) -> None:
        if re.search("CERT|SSL", request.failure or ""):
            trouble.append(f"{request.url}: {request.failure}")

    def navigated(frame: Frame) -> None:
        # Chromium shows its certificate interstitial as an error page.
        if frame.url.startswith("chrome-error:"):
            trouble.append(f"an error page ({frame.url}) instead of the page asked for")

    page.on("console", console)
    page.on("pageerror", script_error)
    page.on("requestfailed", failed)
    page.on("framenavigated", navigated)
    return trouble


def sign_in_as_ada(page: Page, demo: Demo) -> None:
    page.goto(demo.spa + "/")
    page.get_by_test_id("sign-in").click()
    page.wait_for_url(demo.pages + "/**")
    page.click(f'[data-object-id="{demo.user(ADA)["object_id"]}"]')
    page.wait_for_url(demo.spa + "/**")
    expect(page.get_by_test_id("user-name")).to_have_text("Ada Lovelace")


def test_a_fresh_browser_signs_in_without_a_certificate_warning_or_console_error(
    fresh_profile: BrowserContext, demo: Demo
) -> None:
    page = fresh_profile.new_page()
    page.set_default_timeout(15_000)
    trouble = watch_for_trouble(page)

    page.goto(demo.spa + "/")
    page.get_by_test_id("sign-in").click()
    page.wait_for_url(demo.pages + "/**")
    ada = page.locator(f'[data-object-id="{demo.user(ADA)["object_id"]}"]')
    expect(ada.locator(".tenant")).to_have_text("Contoso (contoso.example)")
    ada.click()
    page.wait_for_url(demo.spa + "/**")
    expect(page.get_by_test_id("user-name")).to_have_text("Ada Lovelace")
    page.reload()
    expect(page.get_by_test_id("user-name")).to_have_text("Ada Lovelace")

    assert demo.pages.startswith("http://")
    assert trouble == []


def test_signing_out_in_a_fresh_browser_leaves_no_console_error(
    fresh_profile: BrowserContext, demo: Demo
) -> None:
    page = fresh_profile.new_page()
    page.set_default_timeout(15_000)
    trouble = watch_for_trouble(page)
    sign_in_as_ada(page, demo)

    page.get_by_test_id("sign-out").click()
    page.wait_for_url(demo.spa + "/**")
    expect(page.get_by_test_id("sign-in")).to_be_visible()

    assert trouble == []


def test_a_signed_out_page_load_asks_the_api_nothing(page: Page, demo: Demo) -> None:
    api_calls: list[str] = []

    def record(request: Request) -> None:
        if request.url.startswith(demo.api):
            api_calls.append(f"{request.method} {request.url}")

    page.on("request", record)
    page.goto(demo.spa + "/")
    expect(page.get_by_test_id("sign-in")).to_be_visible()
    before_any_sign_in = list(api_calls)
    sign_in_as_ada(page, demo)
    page.get_by_test_id("sign-out").click()
    page.wait_for_url(demo.spa + "/**")
    expect(page.get_by_test_id("sign-in")).to_be_visible()
    api_calls.clear()
    page.reload()
    expect(page.get_by_test_id("sign-in")).to_be_visible()

    assert before_any_sign_in == []
    assert api_calls == []


def test_the_banner_says_where_to_go_who_to_be_and_how_to_stop(demo: Demo) -> None:
    banner = demo.output.read_text()
    account_lines = {
        user["name"]: next(line for line in banner.splitlines() if user["name"] in line)
        for user in demo.platform["users"]
    }

    assert f"Open {demo.spa}/" in banner
    assert f"Swagger UI    {demo.api}/api/docs/" in banner
    assert str(demo.api_log) in banner
    assert "Ctrl-C" in banner
    assert "next=myapp://auth is allowed" in banner
    assert "verified email" in account_lines["Ada Lovelace"]
    assert "not trusted" in account_lines["Grace Hopper"]
    assert "guest" in account_lines["Katherine Johnson (guest)"]
    assert "access_denied" in account_lines["Charles Babbage"]
    assert "tenant_not_allowed" in account_lines["Alan Turing"]
    assert "Fabrikam" in account_lines["Mary Jackson"]
    # The API's request log went to its file, not under the banner.
    assert "HTTP/1.1" not in banner
    assert "HTTP/1.1" in demo.api_log.read_text()


def test_the_banner_says_what_entra_grants_the_demo_accounts(demo: Demo) -> None:
    banner = demo.output.read_text()
    lines = banner.splitlines()
    ada = next(index for index, line in enumerate(lines) if line.endswith("app role Admin"))
    dorothy = demo.user("dorothy@contoso.example")

    assert "Ada Lovelace" in lines[ada]
    assert lines[ada + 1].strip() == "in Platform team, Engineering, Contoso staff"
    assert "and so do Contoso staff and Engineering (MICROSOFT_SSO_GROUP_MAP)" in banner
    assert (
        f"Dorothy Vaughan  in {len(dorothy['groups'])} groups: over the token's limit, "
        "read from Microsoft Graph" in banner
    )
    assert f"Admin report  {demo.api}/api/example/admin-report/" in banner


def test_the_demo_passes_the_system_checks_without_a_message(demo: Demo) -> None:
    # run_demo.py migrates before it starts the API, and migrate runs every system check,
    # printing warnings (sso.W014, sso.W016, ...) where the banner is.
    banner = demo.output.read_text()

    assert "System check" not in banner
    assert not re.findall(r"sso\.[EW]\d{3}", banner)


def test_the_readiness_probe_leaves_no_unauthorized_line_in_the_api_log(demo: Demo) -> None:
    lines = demo.api_log.read_text().splitlines()
    first_request = next(index for index, line in enumerate(lines) if "HTTP/1.1" in line)

    assert '"GET /api/docs/ HTTP/1.1" 200' in lines[first_request]
    assert not [line for line in lines[:first_request] if "Unauthorized" in line]


def test_the_banners_mobile_sign_in_url_sends_the_browser_to_the_sign_in_page(
    demo: Demo,
) -> None:
    banner = demo.output.read_text()
    start_url = next(
        word for word in banner.split() if word.startswith(f"{demo.api}/api/sso/start/?")
    )

    answer = requests.get(start_url, allow_redirects=False, timeout=5)

    assert "next=myapp://auth" in start_url
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(
        f"{demo.pages}/organizations/oauth2/v2.0/authorize?"
    )


@pytest.mark.parametrize(
    ("origin", "path"),
    [("spa", "/favicon.svg"), ("api", "/favicon.ico"), ("pages", "/favicon.ico")],
)
def test_every_origin_of_the_demo_serves_its_icon(demo: Demo, origin: str, path: str) -> None:
    base = {"spa": demo.spa, "api": demo.api, "pages": demo.pages}[origin]

    icon = requests.get(base + path, timeout=5)

    assert icon.status_code == 200
    assert icon.headers["Content-Type"].startswith("image/svg+xml")
    if origin == "spa":
        assert 'rel="icon"' in requests.get(demo.spa + "/", timeout=5).text
