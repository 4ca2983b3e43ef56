"""Sign-in in a real browser, across origins, in both response modes."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Response, expect

from tests.e2e.conftest import ACCESS_TOKEN_SECONDS, Demo, screenshot

CONTOSO_MEMBER = "ada@contoso.example"
SECOND_CONTOSO_MEMBER = "grace@contoso.example"
FABRIKAM_MEMBER = "alan@fabrikam.example"  # Fabrikam is not an allowed tenant in the demo


def open_sign_in_page(page: Page, demo: Demo) -> None:
    page.goto(demo.spa + "/")
    page.get_by_test_id("sign-in").click()
    page.wait_for_url(demo.pages + "/**")


def pick_account(page: Page, demo: Demo, email: str) -> None:
    object_id = demo.user(email)["object_id"]
    page.click(f'[data-object-id="{object_id}"]')
    page.wait_for_url(demo.spa + "/**")


def sign_in(page: Page, demo: Demo, email: str) -> None:
    open_sign_in_page(page, demo)
    pick_account(page, demo, email)


def history_urls(page: Page) -> list[str]:
    session = page.context.new_cdp_session(page)
    entries = session.send("Page.getNavigationHistory")["entries"]
    return [str(entry["url"]) for entry in entries]


def expect_signed_in_as(page: Page, name: str) -> None:
    expect(page.get_by_test_id("user-name")).to_have_text(name)


def expect_error(page: Page, code: str) -> None:
    expect(page.get_by_test_id("error-code")).to_have_text(code)
    expect(page.get_by_test_id("error")).to_be_visible()


def live_sessions(demo: Demo) -> int:
    with sqlite3.connect(demo.database) as connection:
        query = "SELECT count(*) FROM sso_api_refreshsession WHERE revoked_at IS NULL"
        return int(connection.execute(query).fetchone()[0])


def browser_in(mode: str, request: pytest.FixtureRequest) -> BrowserContext:
    """The browser of a test: the SPA in cookie mode (the demo's) or in body mode."""
    context: BrowserContext = request.getfixturevalue(
        "context" if mode == "cookie" else "body_mode_context"
    )
    context.set_default_timeout(15_000)
    return context


def refresh_cookie(context: BrowserContext) -> str:
    return next(cookie["value"] for cookie in context.cookies() if cookie["name"] == "sso_refresh")


@pytest.mark.parametrize("mode", ["form_post", "query"])
def test_sign_in_lands_on_the_spa_with_the_user_and_no_code_in_the_url_or_history(
    page: Page, request: pytest.FixtureRequest, mode: str
) -> None:
    demo: Demo = request.getfixturevalue("demo" if mode == "form_post" else "query_demo")
    page.goto(demo.spa + "/")
    # The picture waits for React's first render, which also puts the demo's ports in place.
    expect(page.get_by_test_id("sign-in")).to_be_visible()
    if mode == "form_post":
        screenshot(page, "spa-signed-out", demo)
    page.get_by_test_id("sign-in").click()
    page.wait_for_url(demo.pages + "/**")
    if mode == "form_post":
        screenshot(page, "identity-platform-pick-account", demo)
    pick_account(page, demo, CONTOSO_MEMBER)

    expect_signed_in_as(page, "Ada Lovelace")
    assert "sso_code" not in page.url
    assert not [url for url in history_urls(page) if "sso_code" in url or "code=" in url]
    if mode == "form_post":
        screenshot(page, "spa-signed-in", demo)
    assert demo.count("auth_user") == 1


def test_a_reload_keeps_the_session_without_exposing_the_refresh_token(
    page: Page, demo: Demo
) -> None:
    sign_in(page, demo, CONTOSO_MEMBER)
    expect_signed_in_as(page, "Ada Lovelace")

    page.reload()

    expect_signed_in_as(page, "Ada Lovelace")
    assert page.evaluate("document.cookie") == ""  # HttpOnly: invisible to scripts
    storage = page.evaluate("JSON.stringify([localStorage, sessionStorage])")
    assert "eyJ" not in storage


def test_an_expired_access_token_is_refreshed_without_the_user_noticing(
    page: Page, demo: Demo
) -> None:
    sign_in(page, demo, CONTOSO_MEMBER)
    expect_signed_in_as(page, "Ada Lovelace")
    page.wait_for_timeout(ACCESS_TOKEN_SECONDS * 1000 + 500)

    with page.expect_response(re.compile(r".*/token/refresh/$")) as refreshed:
        page.get_by_test_id("call-me").click()

    assert refreshed.value.status == 200
    expect(page.get_by_test_id("me-result")).to_contain_text(CONTOSO_MEMBER)
    expect(page.get_by_test_id("error")).to_have_count(0)


def test_sign_out_ends_the_session_and_the_old_refresh_token_fails(
    page: Page, context: BrowserContext, demo: Demo
) -> None:
    sign_in(page, demo, CONTOSO_MEMBER)
    expect_signed_in_as(page, "Ada Lovelace")
    old_refresh = refresh_cookie(context)

    page.get_by_test_id("sign-out").click()
    page.wait_for_url(demo.spa + "/**")
    expect(page.get_by_test_id("sign-in")).to_be_visible()

    replay = context.request.post(
        demo.api + "/api/sso/token/refresh/",
        data={"refresh": old_refresh},
        headers={"Content-Type": "application/json"},
    )
    assert replay.status == 401
    assert replay.json()["code"] == "session_revoked"
    page.reload()
    expect(page.get_by_test_id("sign-in")).to_be_visible()


@pytest.mark.parametrize(
    ("action", "code"),
    [
        ("cancel", "access_denied"),
        ("refused-tenant", "tenant_not_allowed"),
        ("expired", "invalid_state"),
    ],
)
def test_failed_sign_ins_explain_themselves_and_leave_nothing_behind(
    page: Page, demo: Demo, action: str, code: str
) -> None:
    open_sign_in_page(page, demo)
    if action == "cancel":
        page.click("#cancel")
        page.wait_for_url(demo.spa + "/**")
    elif action == "refused-tenant":
        pick_account(page, demo, FABRIKAM_MEMBER)
    else:
        demo.expire_all_flows()
        pick_account(page, demo, CONTOSO_MEMBER)

    expect_error(page, code)
    assert "sso_error" not in page.url
    if action == "refused-tenant":
        screenshot(page, "spa-error", demo)
    assert demo.count("auth_user") == 0
    assert demo.count("sso_api_refreshsession") == 0


@pytest.mark.parametrize("mode", ["cookie", "body"])
def test_a_tab_never_acts_as_the_person_another_tab_signed_in_under_the_first_name(
    request: pytest.FixtureRequest, demo: Demo, mode: str
) -> None:
    context = browser_in(mode, request)
    first, second = context.new_page(), context.new_page()
    open_sign_in_page(first, demo)
    open_sign_in_page(second, demo)

    pick_account(first, demo, CONTOSO_MEMBER)
    expect_signed_in_as(first, "Ada Lovelace")
    pick_account(second, demo, SECOND_CONTOSO_MEMBER)
    expect_signed_in_as(second, "Grace Hopper")
    assert demo.count("sso_api_refreshsession") == 2  # each tab redeemed its own code

    if mode == "cookie":
        # One cookie per browser, now Grace's: the first tab says it switched to her, and
        # what it does from now on it does as her, under her name.
        expect(first.get_by_test_id("user-changed")).to_contain_text("Grace Hopper")
        expect_signed_in_as(first, "Grace Hopper")
        first.get_by_test_id("call-me").click()
        grace = demo.user(SECOND_CONTOSO_MEMBER)["object_id"]  # her email is not trusted
        expect(first.get_by_test_id("me-result")).to_contain_text(grace)
    else:
        # Tokens live in each tab: the first tab cannot become Grace, so it signs Ada out.
        expect(first.get_by_test_id("signed-out-elsewhere")).to_be_visible()
        expect(first.get_by_test_id("sign-in")).to_be_visible()
        expect(first.get_by_test_id("error")).to_have_count(0)
    expect_signed_in_as(second, "Grace Hopper")


@pytest.mark.parametrize("mode", ["cookie", "body"])
def test_signing_out_in_one_tab_signs_out_every_tab(
    request: pytest.FixtureRequest, demo: Demo, mode: str
) -> None:
    context = browser_in(mode, request)
    first, second = context.new_page(), context.new_page()
    sign_in(first, demo, CONTOSO_MEMBER)
    expect_signed_in_as(first, "Ada Lovelace")
    if mode == "cookie":
        second.goto(demo.spa + "/")  # a new tab resumes the session from the cookie
    else:
        sign_in(second, demo, CONTOSO_MEMBER)  # a new tab starts signed out: sign in there
    expect_signed_in_as(second, "Ada Lovelace")

    first.get_by_test_id("sign-out").click()
    first.wait_for_url(demo.spa + "/**")
    expect(first.get_by_test_id("sign-in")).to_be_visible()

    expect(second.get_by_test_id("signed-out-elsewhere")).to_be_visible()
    expect(second.get_by_test_id("sign-in")).to_be_visible()
    # Every tab's session ended at the API, not only on the screen.
    deadline = 50
    while live_sessions(demo) and deadline:
        second.wait_for_timeout(100)
        deadline -= 1
    assert live_sessions(demo) == 0
    second.reload()
    expect(second.get_by_test_id("sign-in")).to_be_visible()


def test_body_mode_signs_in_with_no_cookie_and_a_reload_signs_out(
    body_mode_context: BrowserContext, demo: Demo
) -> None:
    page = body_mode_context.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, demo, CONTOSO_MEMBER)
    expect_signed_in_as(page, "Ada Lovelace")
    expect(page.get_by_text("tokens in memory only")).to_be_visible()
    assert refresh_cookies(body_mode_context) == []
    assert "eyJ" not in page.evaluate("JSON.stringify([localStorage, sessionStorage])")

    page.wait_for_timeout(ACCESS_TOKEN_SECONDS * 1000 + 500)
    with page.expect_response(is_refresh) as refreshed:
        page.get_by_test_id("call-me").click()
    assert refreshed.value.status == 200
    expect(page.get_by_test_id("me-result")).to_contain_text(CONTOSO_MEMBER)

    page.reload()
    expect(page.get_by_test_id("sign-in")).to_be_visible()


def test_the_callback_page_sends_its_code_to_no_one_in_a_referer(page: Page, demo: Demo) -> None:
    referers: list[str] = []
    page.on("request", lambda sent: referers.append(sent.headers.get("referer") or ""))
    sign_in(page, demo, CONTOSO_MEMBER)
    expect_signed_in_as(page, "Ada Lovelace")
    assert not [referer for referer in referers if "sso_code" in referer]


def test_a_callback_url_copied_into_another_browser_is_refused_there_without_being_sent(
    chromium: Any, context: BrowserContext, page: Page, demo: Demo
) -> None:
    captured: list[str] = []
    callback = demo.api + "/api/sso/callback/"

    def hold_back(route: Any) -> None:
        # The callback runs for real; the browser just never follows its redirect.
        answer = route.fetch(max_redirects=0)
        captured.append(answer.headers["location"])
        route.abort()

    page.route(callback, hold_back)
    open_sign_in_page(page, demo)
    page.click(f'[data-object-id="{demo.user(CONTOSO_MEMBER)["object_id"]}"]')
    page.wait_for_timeout(1500)
    assert captured
    assert "sso_code=" in captured[0]

    other = chromium.new_context()
    try:
        thief = other.new_page()
        redeemed: list[str] = []
        thief.on(
            "request", lambda sent: redeemed.append(sent.url) if "/token/" in sent.url else None
        )
        thief.goto(captured[0])
        # No sign-in was started in that browser: the code is refused there, never sent.
        expect_error(thief, "no_sign_in_in_progress")
        assert "sso_code" not in thief.url
        assert redeemed == []
    finally:
        other.close()
    assert demo.count("sso_api_refreshsession") == 0

    # The tab that started the sign-in still completes it.
    page.unroute(callback)
    page.goto(captured[0])
    expect_signed_in_as(page, "Ada Lovelace")
    assert demo.count("sso_api_refreshsession") == 1


@pytest.mark.parametrize(("answer", "code"), [("accept", None), ("decline", "access_denied")])
def test_the_consent_step_can_be_accepted_or_declined(
    page: Page, consent_demo: Demo, answer: str, code: str | None
) -> None:
    open_sign_in_page(page, consent_demo)
    page.click(f'[data-object-id="{consent_demo.user(CONTOSO_MEMBER)["object_id"]}"]')
    page.wait_for_selector("#consent-form")
    if answer == "accept":
        screenshot(page, "identity-platform-consent", consent_demo)
    page.click(f"#{answer}")
    page.wait_for_url(consent_demo.spa + "/**")

    if code is None:
        expect_signed_in_as(page, "Ada Lovelace")
    else:
        expect_error(page, code)
        assert consent_demo.count("auth_user") == 0


# --- Sessions on several devices ------------------------------------------------------------

# Each "device" is a browser context of its own (its own cookies and storage), with a fixed
# User-Agent: the one its sessions row shows, and the same in every run for the screenshot.
LAPTOP_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/140.0.0.0 Safari/537.36"
)
PHONE_AGENT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1"
)
# A client chooses its User-Agent; the list must show this one as text, never as markup.
MARKUP_AGENT = "PhoneApp/2.1 <img src=x onerror=\"document.title='script ran'\">"


@pytest.fixture
def laptop_and_phone(chromium: Browser) -> Iterator[tuple[Page, Page]]:
    """Two devices of one person: separate browser contexts, so nothing is shared."""
    contexts = [chromium.new_context(user_agent=agent) for agent in (LAPTOP_AGENT, PHONE_AGENT)]
    try:
        pages = [context.new_page() for context in contexts]
        for page in pages:
            page.set_default_timeout(15_000)
        yield pages[0], pages[1]
    finally:
        for context in contexts:
            context.close()


def listed_sessions(page: Page) -> Locator:
    return page.get_by_test_id("session")


def this_devices_session(page: Page) -> Locator:
    return page.locator('[data-testid="session"][data-current="true"]')


def other_sessions(page: Page) -> Locator:
    return page.locator('[data-testid="session"][data-current="false"]')


def refresh_cookies(context: BrowserContext) -> list[str]:
    names = [cookie["name"] for cookie in context.cookies()]
    return [name for name in names if name.startswith("sso_refresh")]


def is_refresh(response: Response) -> bool:
    """The refresh itself, not a CORS preflight of it."""
    return response.url.endswith("/api/sso/token/refresh/") and response.request.method == "POST"


def test_ending_another_devices_session_signs_it_out_at_its_next_refresh(
    laptop_and_phone: tuple[Page, Page], demo: Demo
) -> None:
    laptop, phone = laptop_and_phone
    # The phone first, so the laptop's list, read as it signs in, already holds both.
    sign_in(phone, demo, CONTOSO_MEMBER)
    expect_signed_in_as(phone, "Ada Lovelace")
    sign_in(laptop, demo, CONTOSO_MEMBER)
    expect_signed_in_as(laptop, "Ada Lovelace")

    expect(listed_sessions(laptop)).to_have_count(2)
    expect(this_devices_session(laptop).get_by_test_id("this-device")).to_have_text("This device")
    expect(this_devices_session(laptop).get_by_test_id("session-user-agent")).to_have_text(
        LAPTOP_AGENT
    )
    expect(this_devices_session(laptop).get_by_role("button")).to_have_count(0)
    expect(other_sessions(laptop).get_by_test_id("session-user-agent")).to_have_text(PHONE_AGENT)
    laptop.get_by_test_id("sessions").evaluate(
        "section => window.scrollTo(0, section.offsetTop - 16)"
    )
    screenshot(laptop, "spa-sessions", demo)

    other_sessions(laptop).get_by_role("button", name=re.compile(r"^End the session")).click()

    expect(listed_sessions(laptop)).to_have_count(1)
    expect(this_devices_session(laptop)).to_have_count(1)
    expect(laptop.get_by_test_id("error")).to_have_count(0)

    # The phone's access token still works until it expires; then its refresh is refused.
    phone.wait_for_timeout(ACCESS_TOKEN_SECONDS * 1000 + 500)
    with phone.expect_response(is_refresh) as refused:
        phone.get_by_test_id("reload-sessions").click()
    assert refused.value.status == 401
    expect_error(phone, "session_revoked")
    expect(phone.get_by_test_id("sign-in")).to_be_visible()
    phone.reload()
    expect(phone.get_by_test_id("sign-in")).to_be_visible()

    # The laptop's own refresh still works, and its list holds itself only.
    with laptop.expect_response(is_refresh) as refreshed:
        laptop.get_by_test_id("reload-sessions").click()
    assert refreshed.value.status == 200
    expect_signed_in_as(laptop, "Ada Lovelace")
    expect(listed_sessions(laptop)).to_have_count(1)
    expect(this_devices_session(laptop)).to_have_count(1)


def test_ending_a_session_that_already_ended_says_so_and_updates_the_list(
    laptop_and_phone: tuple[Page, Page], demo: Demo
) -> None:
    laptop, phone = laptop_and_phone
    sign_in(phone, demo, CONTOSO_MEMBER)
    sign_in(laptop, demo, CONTOSO_MEMBER)
    expect(listed_sessions(laptop)).to_have_count(2)

    phone.get_by_test_id("sign-out").click()
    expect(phone.get_by_test_id("sign-in")).to_be_visible()
    other_sessions(laptop).get_by_test_id("end-session").click()

    expect_error(laptop, "session_not_found")
    expect(listed_sessions(laptop)).to_have_count(1)
    expect_signed_in_as(laptop, "Ada Lovelace")


def test_signing_out_everywhere_signs_this_device_out_and_refuses_the_others_refresh(
    chromium: Browser, laptop_and_phone: tuple[Page, Page], demo: Demo
) -> None:
    laptop, phone = laptop_and_phone
    app = chromium.new_context(user_agent=MARKUP_AGENT)
    try:
        app_page = app.new_page()
        sign_in(app_page, demo, CONTOSO_MEMBER)
        expect_signed_in_as(app_page, "Ada Lovelace")
    finally:
        app.close()
    sign_in(phone, demo, CONTOSO_MEMBER)
    sign_in(laptop, demo, CONTOSO_MEMBER)
    expect(listed_sessions(laptop)).to_have_count(3)
    expect(laptop.get_by_test_id("session-user-agent").filter(has_text="PhoneApp")).to_have_text(
        MARKUP_AGENT
    )
    expect(laptop.get_by_test_id("session-list").locator("img")).to_have_count(0)
    assert laptop.title() != "script ran"

    laptop.get_by_test_id("sign-out-everywhere").click()

    expect(laptop.get_by_test_id("signed-out-everywhere")).to_have_text(
        "Signed out everywhere: 3 sessions ended."
    )
    expect(laptop.get_by_test_id("sign-in")).to_be_visible()
    assert refresh_cookies(laptop.context) == []
    laptop.reload()
    expect(laptop.get_by_test_id("sign-in")).to_be_visible()

    # The phone's page load asks for a new access token with its cookie: refused.
    with phone.expect_response(is_refresh) as refused:
        phone.reload()
    assert refused.value.status == 401
    assert refused.value.json()["code"] == "session_revoked"
    expect(phone.get_by_test_id("sign-in")).to_be_visible()
