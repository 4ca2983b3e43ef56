"""Helpers for tests that run the API as real server processes on loopback."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from sso_api.testing import FakeApp, FakeIdentityPlatform, FakeTenant
from sso_api.testing.client import Pkce

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def server_env(
    *,
    platform: FakeIdentityPlatform,
    app: FakeApp,
    tenant: FakeTenant,
    database: str,
    **extra: str,
) -> dict[str, str]:
    """Environment for ``tests.production.server_settings``: the example project on
    PostgreSQL and Redis, signed in against ``platform`` as ``app`` of ``tenant``."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("MICROSOFT_SSO_")},
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'example'}",
        "DJANGO_SETTINGS_MODULE": "tests.production.server_settings",
        # The example project refuses to start without a key of its own when DEBUG is off.
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "SSO_SERVER_DATABASE": database,
        "MICROSOFT_SSO_APPLICATION_ID": app.client_id,
        "MICROSOFT_SSO_CLIENT_SECRET": app.client_secret,
        "MICROSOFT_SSO_TENANT_ID": tenant.tenant_id,
        "MICROSOFT_SSO_AUTHORITY": platform.authority(tenant),
        "MICROSOFT_SSO_CA_BUNDLE": platform.ca_bundle,
        "MICROSOFT_SSO_ALLOWABLE_DOMAINS": "*",
        **extra,
    }


@contextmanager
def api_servers(env: dict[str, str], ports: list[int]) -> Iterator[list[str]]:
    """Migrate, then run one ``runserver`` per port; yields their base URLs."""
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
    try:
        for port in ports:
            wait_for_port(port)
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


def sign_in_over_http(
    platform: FakeIdentityPlatform,
    user_object_id: str,
    *,
    start: str,
    callback: str,
    token: str,
    headers: dict[str, Any] | None = None,
) -> requests.Response:
    """A whole sign-in against servers at the given base URLs.

    Starts on ``start``, delivers Microsoft's answer to ``callback`` (as a load balancer
    might route it) and redeems on ``token``. Returns the ``/token/`` response, or the
    callback's redirect when it carried no ``sso_code``.
    """
    pkce = Pkce.new()
    started = requests.post(
        start + "/api/sso/start/",
        json={
            "next": "https://spa.example.com/",
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
        },
        headers=headers or {},
        timeout=10,
    )
    assert started.status_code == 200, started.text
    user = next(user for user in platform.users if user.object_id == user_object_id)
    answer = platform.authorize(started.json()["authorization_url"], user=user)
    path = urlsplit(answer.redirect_uri).path
    if answer.method == "GET":
        back = requests.get(
            callback + path, params=answer.params, allow_redirects=False, timeout=10
        )
    else:
        back = requests.post(callback + path, data=answer.params, allow_redirects=False, timeout=10)
    assert back.status_code == 302, back.text
    query = parse_qs(urlsplit(back.headers["Location"]).query)
    if "sso_code" not in query:
        return back
    return requests.post(
        token + "/api/sso/token/",
        json={"sso_code": query["sso_code"][0], "code_verifier": pkce.verifier},
        timeout=10,
    )
