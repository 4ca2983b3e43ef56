"""Several API server processes with no sticky routing, on PostgreSQL and Redis.

Each sign-in starts on one server, comes back from Microsoft to another and redeems its
sso_code on a third, as behind a load balancer that spreads requests at random. The
servers are real processes (``manage.py runserver``) of the example project; the test
creates their database and removes it afterwards.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
import requests

from sso_api.testing import FakeApp, FakeIdentityPlatform, FakeTenant, FakeUser
from sso_api.testing.client import Pkce

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
        pkce = Pkce.new()
        started = requests.post(
            start + "/api/sso/start/",
            json={
                "next": "https://spa.example.com/",
                "code_challenge": pkce.challenge,
                "code_challenge_method": "S256",
            },
            headers={"X-Test-Response-Mode": mode},
            timeout=10,
        )
        assert started.status_code == 200, started.text
        answer = self.platform.authorize(started.json()["authorization_url"], user=user)
        # The browser goes back to the registered callback; the balancer picks `callback`.
        path = urlsplit(answer.redirect_uri).path
        if answer.method == "GET":
            back = requests.get(
                callback + path, params=answer.params, allow_redirects=False, timeout=10
            )
        else:
            back = requests.post(
                callback + path, data=answer.params, allow_redirects=False, timeout=10
            )
        assert back.status_code == 302, back.text
        query = parse_qs(urlsplit(back.headers["Location"]).query)
        if "sso_code" not in query:
            return back
        return requests.post(
            token + "/api/sso/token/",
            json={"sso_code": query["sso_code"][0], "code_verifier": pkce.verifier},
            timeout=10,
        )


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    name = f"sso_workers_{os.getpid()}_{secrets.token_hex(3)}"
    admin = psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="module")
def registered_app(sso_identity_platform: FakeIdentityPlatform) -> FakeApp:
    return sso_identity_platform.register_app(redirect_uris=[])


def _start_servers(
    count: int,
    *,
    cache: str,
    database: str,
    platform: FakeIdentityPlatform,
    app: FakeApp,
    tenant: FakeTenant,
) -> Iterator[Servers]:
    ports = [_free_port() for _ in range(count)]
    app.redirect_uris.extend(f"http://127.0.0.1:{port}/api/sso/callback/" for port in ports)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MICROSOFT_SSO_")},
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'example'}",
        "DJANGO_SETTINGS_MODULE": "tests.production.server_settings",
        "SSO_SERVER_DATABASE": database,
        "SSO_SERVER_CACHE": cache,
        "SSO_SERVER_CACHE_PREFIX": f"sso-workers-{secrets.token_hex(4)}",
        "MICROSOFT_SSO_APPLICATION_ID": app.client_id,
        "MICROSOFT_SSO_CLIENT_SECRET": app.client_secret,
        "MICROSOFT_SSO_TENANT_ID": tenant.tenant_id,
        "MICROSOFT_SSO_AUTHORITY": platform.authority(tenant),
        "MICROSOFT_SSO_CA_BUNDLE": platform.ca_bundle,
        "MICROSOFT_SSO_ALLOWABLE_DOMAINS": "*",
    }
    manage = [sys.executable, str(ROOT / "example" / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True)
    processes = [
        subprocess.Popen(
            [*manage, "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for url in urls:
            deadline = time.monotonic() + 30
            while True:
                try:
                    requests.get(url + "/api/sso/me/", timeout=2)
                    break
                except requests.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        yield Servers(urls=urls, platform=platform)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def shared_servers(
    database: str,
    sso_identity_platform: FakeIdentityPlatform,
    registered_app: FakeApp,
    sso_tenant: FakeTenant,
) -> Iterator[Servers]:
    """Three servers on one PostgreSQL database and one Redis cache."""
    yield from _start_servers(
        3,
        cache="redis",
        database=database,
        platform=sso_identity_platform,
        app=registered_app,
        tenant=sso_tenant,
    )


@pytest.fixture(scope="module")
def private_cache_servers(
    database: str,
    sso_identity_platform: FakeIdentityPlatform,
    registered_app: FakeApp,
    sso_tenant: FakeTenant,
) -> Iterator[Servers]:
    """Two servers whose caches are private to each process (what sso.W001 warns about)."""
    yield from _start_servers(
        2,
        cache="locmem",
        database=database,
        platform=sso_identity_platform,
        app=registered_app,
        tenant=sso_tenant,
    )


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
