"""Opt-in rate limits per scope: 429 with Retry-After, nothing limited by default."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from sso_api.testing import FakeUser
from sso_api.testing.client import Pkce, SignInDriver

pytestmark = pytest.mark.django_db


def another_address() -> str:
    # Each test limits its own address: throttle history lives in the shared cache.
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"


def start_from(browser: SignInDriver, address: str, forwarded_for: str | None = None) -> Any:
    body = {"next": "/", "code_challenge": Pkce.new().challenge, "code_challenge_method": "S256"}
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return browser.client.post(
        "/api/sso/start/",
        body,
        content_type="application/json",
        headers=headers,
        REMOTE_ADDR=address,
    )


@pytest.fixture
def rates(sso: Any) -> Any:
    sso.REST_FRAMEWORK = {
        **sso.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            "sso_start": "3/min",
            "sso_token": "2/min",
            "sso_refresh": "2/min",
            "sso_logout": "2/min",
            "sso_exchange": "2/min",
            "sso_frontchannel_logout": "2/min",
            "sso_sessions": "2/min",
        },
    }
    return sso


def test_start_is_limited_per_client_address_when_a_rate_is_set(
    browser: SignInDriver, rates: Any
) -> None:
    address = another_address()
    answers = [start_from(browser, address) for _ in range(4)]

    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert answers[-1].json()["code"] == "throttled"
    assert int(answers[-1]["Retry-After"]) > 0
    assert start_from(browser, another_address()).status_code == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/sso/token/", {"sso_code": "x" * 43}),
        ("/api/sso/token/refresh/", {"refresh": "x"}),
        ("/api/sso/logout/", {"refresh": "x"}),
        ("/api/sso/token/exchange/", {"access_token": "x"}),
    ],
)
def test_token_refresh_and_logout_are_limited_when_a_rate_is_set(
    browser: SignInDriver, rates: Any, path: str, body: dict[str, str]
) -> None:
    address = another_address()
    statuses = [
        browser.client.post(
            path, body, content_type="application/json", REMOTE_ADDR=address
        ).status_code
        for _ in range(3)
    ]
    assert statuses[-1] == 429
    assert 429 not in statuses[:2]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/sso/sessions/"),
        ("delete", "/api/sso/sessions/00000000-0000-0000-0000-000000000000/"),
        ("post", "/api/sso/logout/all/"),
    ],
)
def test_the_session_endpoints_are_limited_when_a_rate_is_set(
    browser: SignInDriver, ada: FakeUser, request: pytest.FixtureRequest, method: str, path: str
) -> None:
    access = browser.signed_in(ada)["access"]
    # Rates only now: the sign-in's own /token/ call must not meet sso_token's limit.
    request.getfixturevalue("rates")
    address = another_address()
    statuses = [
        getattr(browser.client, method)(
            path, headers={"Authorization": f"Bearer {access}"}, REMOTE_ADDR=address
        ).status_code
        for _ in range(3)
    ]
    assert statuses[-1] == 429
    assert 429 not in statuses[:2]


def test_nothing_is_limited_by_default(browser: SignInDriver) -> None:
    address = another_address()
    assert all(start_from(browser, address).status_code == 200 for _ in range(10))


def test_front_channel_logout_is_limited_when_a_rate_is_set(
    browser: SignInDriver, rates: Any
) -> None:
    address = another_address()
    statuses = [
        browser.client.get(
            "/api/sso/logout/frontchannel/", {"sid": "s"}, REMOTE_ADDR=address
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]


def test_a_new_x_forwarded_for_per_request_does_not_escape_the_limit(
    browser: SignInDriver, rates: Any
) -> None:
    address = another_address()
    answers = [start_from(browser, address, forwarded_for=another_address()) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]


def test_x_forwarded_for_counts_once_the_project_names_its_proxies(
    browser: SignInDriver, rates: Any
) -> None:
    rates.REST_FRAMEWORK = {**rates.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy, client = another_address(), another_address()
    through_proxy = [start_from(browser, proxy, forwarded_for=client).status_code for _ in range(4)]
    # Another client behind the same proxy is not limited by the first one's requests.
    other_client = start_from(browser, proxy, forwarded_for=another_address())

    assert through_proxy == [200, 200, 200, 429]
    assert other_client.status_code == 200
