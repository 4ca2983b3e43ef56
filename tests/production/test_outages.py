"""Redis and PostgreSQL going away mid-flow: stable codes, nothing half-written, recovery.

Each test starts its own server on a spare port (the binaries are installed) and stops it
itself, so a failed test never leaves the machine's shared services broken.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
import requests
from django.contrib.auth import get_user_model

from sso_api.testing import FakeApp, FakeIdentityPlatform, FakeTenant
from sso_api.testing.client import Pkce, SignInDriver
from tests.processes import api_servers, free_port, server_env, sign_in_over_http, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


class OwnRedis:
    """A private redis-server on a spare port that a test may stop and start."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "/usr/bin/redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    redis = OwnRedis()
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


def _start(browser: SignInDriver, pkce: Pkce) -> Any:
    return browser.start(pkce=pkce, next="/app/")


@pytest.mark.django_db
def test_redis_down_mid_flow_answers_503_then_sign_in_works_again(
    browser: SignInDriver, sso: Any, own_redis: OwnRedis, sso_make_user: Any
) -> None:
    sso.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{own_redis.port}/0",
        }
    }
    # With rate limits on, the throttle meets the dead cache first; it must let the request
    # reach the flow, which answers cache_unavailable, instead of failing with a 500.
    sso.REST_FRAMEWORK = {
        **sso.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"sso_start": "1000/min", "sso_token": "1000/min"},
    }
    user = sso_make_user()
    pkce = Pkce.new()
    started = _start(browser, pkce)
    answer = browser.platform.authorize(started.json()["authorization_url"], user=user)

    own_redis.stop()

    assert _start(browser, Pkce.new()).json()["code"] == "cache_unavailable"
    assert _start(browser, Pkce.new()).status_code == 503
    callback = browser.deliver(answer)
    assert parse_qs(urlsplit(callback["Location"]).query)["sso_error"] == ["cache_unavailable"]
    redeem = browser.redeem("c" * 43, pkce.verifier)
    assert (redeem.status_code, redeem.json()["code"]) == (503, "cache_unavailable")
    assert not get_user_model().objects.exists()

    own_redis.start()  # empty: the flow that was in flight is gone, new ones work

    assert browser.deliver(answer)["Location"].startswith("/login-failed/?")
    assert browser.signed_in(user)["user"]["object_id"] == user.object_id


class OwnPostgres:
    """A private PostgreSQL cluster in a temporary directory, on a spare port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="sso-pg-"))
        binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        if not binaries:
            raise RuntimeError("PostgreSQL server binaries are not installed")
        self.bin = binaries[-1]
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.directory, user="postgres")
        self._run(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.directory / "data"),
                "-A",
                "trust",
                "-U",
                "postgres",
            ]
        )

    def _run(self, command: list[str]) -> None:
        if self._as_postgres:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self) -> None:
        self._run(
            [
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.directory / "data"),
                "-w",
                "-o",
                f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1",
                "start",
                "-l",
                str(self.directory / "log"),
            ]
        )

    def stop(self) -> None:
        self._run(
            [
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.directory / "data"),
                "-w",
                "-m",
                "fast",
                "stop",
            ]
        )

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    postgres = OwnPostgres()
    postgres.start()
    try:
        yield postgres
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # stopped by the test
            postgres.stop()
        postgres.remove()


def test_postgres_unreachable_answers_503_and_recovers(
    own_postgres: OwnPostgres,
    sso_identity_platform: FakeIdentityPlatform,
    sso_tenant: FakeTenant,
    sso_make_user: Any,
) -> None:
    with psycopg.connect(
        host="127.0.0.1",
        port=own_postgres.port,
        user="postgres",
        dbname="postgres",
        autocommit=True,
    ) as admin:
        admin.execute('CREATE DATABASE "sso"')
    api_port = free_port()
    app: FakeApp = sso_identity_platform.register_app(
        redirect_uris=[f"http://127.0.0.1:{api_port}/api/sso/callback/"]
    )
    env = server_env(
        platform=sso_identity_platform,
        app=app,
        tenant=sso_tenant,
        database="sso",
        SSO_SERVER_PGPORT=str(own_postgres.port),
        SSO_SERVER_CACHE_PREFIX=f"sso-outage-{api_port}",
    )
    user = sso_make_user()
    with api_servers(env, [api_port]) as (api,):

        def sign_in() -> requests.Response:
            return sign_in_over_http(
                sso_identity_platform, user.object_id, start=api, callback=api, token=api
            )

        tokens = sign_in().json()
        own_postgres.stop()

        refreshed = requests.post(
            api + "/api/sso/token/refresh/", json={"refresh": tokens["refresh"]}, timeout=10
        )
        assert (refreshed.status_code, refreshed.json()["code"]) == (503, "database_unavailable")
        me = requests.get(
            api + "/api/sso/me/",
            headers={"Authorization": f"Bearer {tokens['access']}"},
            timeout=10,
        )
        # /me/ reads nothing but the access token, so it keeps answering.
        assert (me.status_code, me.json()["object_id"]) == (200, user.object_id)
        failed = sign_in()
        assert failed.status_code == 302
        assert "sso_error=database_unavailable" in failed.headers["Location"]
        assert "Traceback" not in refreshed.text + me.text

        own_postgres.start()

        assert sign_in().status_code == 200
        again = requests.post(
            api + "/api/sso/token/refresh/", json={"refresh": tokens["refresh"]}, timeout=10
        )
        assert again.status_code == 200
