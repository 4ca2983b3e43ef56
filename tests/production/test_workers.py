"""Several API server processes with no sticky routing, on PostgreSQL and Redis.

Each sign-in starts on one server, comes back from Microsoft to another and redeems its
sso_code on a third, as behind a load balancer that spreads requests at random. The
servers are real processes (``manage.py runserver``) of the example project; the test
creates their database and removes it afterwards.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
import requests

from sso_api.testing import FakeApp, FakeIdentityPlatform, FakeTenant, FakeUser
from tests.processes import api_servers, free_port, server_env, sign_in_over_http


@dataclass
class Servers:
    """API servers sharing a database and a cache (or not: ``locmem``)."""

    urls: list[str]
    platform: FakeIdentityPlatform

    def sign_in(
        self, user: FakeUser, *, mode: str, route: tuple[int, int, int]
    ) -> requests.Response:
        """Start on server ``route[0]``, call back on ``route[1]``, redeem on ``route[2]``."""
        start, callback, token = (self.urls[index] for index in route)
        return sign_in_over_http(
            self.platform,
            user.object_id,
            start=start,
            callback=callback,
            token=token,
            headers={"X-Test-Response-Mode": mode},
        )


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    name = f"sso_workers_{secrets.token_hex(4)}"
    admin = psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _servers(
    count: int, cache: str, database: str, platform: FakeIdentityPlatform, tenant: FakeTenant
) -> Iterator[Servers]:
    ports = [free_port() for _ in range(count)]
    app: FakeApp = platform.register_app(
        redirect_uris=[f"http://127.0.0.1:{port}/api/sso/callback/" for port in ports]
    )
    env = server_env(
        platform=platform,
        app=app,
        tenant=tenant,
        database=database,
        SSO_SERVER_CACHE=cache,
        SSO_SERVER_CACHE_PREFIX=f"sso-workers-{secrets.token_hex(4)}",
    )
    with api_servers(env, ports) as urls:
        yield Servers(urls=urls, platform=platform)


@pytest.fixture(scope="module")
def shared_servers(
    database: str, sso_identity_platform: FakeIdentityPlatform, sso_tenant: FakeTenant
) -> Iterator[Servers]:
    """Three servers on one PostgreSQL database and one Redis cache."""
    yield from _servers(3, "redis", database, sso_identity_platform, sso_tenant)


@pytest.fixture(scope="module")
def private_cache_servers(
    database: str, sso_identity_platform: FakeIdentityPlatform, sso_tenant: FakeTenant
) -> Iterator[Servers]:
    """Two servers whose caches are private to each process (what sso.W001 warns about)."""
    yield from _servers(2, "locmem", database, sso_identity_platform, sso_tenant)


@pytest.mark.parametrize("mode", ["query", "form_post"])
def test_a_sign_in_can_hop_across_three_servers(
    shared_servers: Servers, sso_make_user: Any, mode: str
) -> None:
    user = sso_make_user()
    tokens = shared_servers.sign_in(user, mode=mode, route=(0, 1, 2))

    assert tokens.status_code == 200, tokens.text
    me = requests.get(
        shared_servers.urls[0] + "/api/sso/me/",
        headers={"Authorization": f"Bearer {tokens.json()['access']}"},
        timeout=10,
    )
    assert me.json()["object_id"] == user.object_id


def test_a_thousand_sign_ins_across_the_servers_lose_no_flow(
    shared_servers: Servers, sso_make_user: Any
) -> None:
    users = [sso_make_user() for _ in range(20)]
    routes = [(0, 1, 2), (1, 2, 0), (2, 0, 1), (0, 2, 1), (1, 0, 2), (2, 1, 0)]

    def one(index: int) -> int:
        mode = "form_post" if index % 2 else "query"
        response = shared_servers.sign_in(
            users[index % len(users)], mode=mode, route=routes[index % len(routes)]
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(one, range(1000)))

    assert statuses.count(200) == 1000


def test_a_per_process_cache_fails_with_a_clear_error_not_a_crash(
    private_cache_servers: Servers, sso_make_user: Any
) -> None:
    back = private_cache_servers.sign_in(sso_make_user(), mode="form_post", route=(0, 1, 1))

    assert back.status_code == 302
    location = back.headers["Location"]
    assert location.startswith("https://spa.example.com/failed?")
    assert parse_qs(urlsplit(location).query)["sso_error"] == ["invalid_state"]
