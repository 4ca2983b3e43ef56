"""Browser tests: Debian's Chromium, driven by Playwright, against the demo's processes.

The demo (``example/run_demo.py``) runs as it does for a person: the fake identity platform,
the example API on SQLite and the database cache, and the built SPA on its own origin, all
on loopback ports picked here. The tests click through it and read the demo's database to
check what was (not) written.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    Route,
    sync_playwright,
)

from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
SPA_DIST = ROOT / "frontend_example" / "dist"
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("SSO_CHROMIUM", "/usr/bin/chromium")
# The flags this machine needs: no sandbox as root, and no background calls to Google's
# services, which a closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ACCESS_TOKEN_SECONDS = 4


@dataclass
class Demo:
    """One running demo and what it wrote about itself.

    ``output`` holds what ``run_demo.py`` printed (its banner); ``api_log`` is the API's
    request log in the state directory.
    """

    api: str
    spa: str
    database: Path
    platform: dict[str, Any]
    output: Path
    api_log: Path

    @property
    def pages(self) -> str:
        """Where the identity platform's sign-in and sign-out pages are (plain HTTP)."""
        return str(self.platform["browser_base_url"])

    def user(self, email: str) -> dict[str, Any]:
        return next(
            user for user in self.platform["users"] if user["email"] == email and not user["guest"]
        )

    def count(self, table: str) -> int:
        with sqlite3.connect(self.database) as connection:
            return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608

    def expire_all_flows(self) -> None:
        """What a flow's TTL does, done now: its cache entry disappears."""
        with sqlite3.connect(self.database) as connection:
            connection.execute("DELETE FROM sso_api_cache")

    def reset(self) -> None:
        with sqlite3.connect(self.database) as connection:
            for table in (
                "sso_api_refreshsession",
                "sso_api_microsoftidentity",
                "sso_api_entragroupmembership",
                "auth_user_groups",
                "auth_user",
                "sso_api_cache",
            ):
                connection.execute(f"DELETE FROM {table}")  # noqa: S608


def _start_demo(state_dir: Path, response_mode: str, *extra_args: str) -> Iterator[Demo]:
    if not (SPA_DIST / "index.html").is_file():
        raise RuntimeError(
            "frontend_example/dist is missing: run ./scripts/test.sh, which builds it"
        )
    api_port, spa_port, platform_port = free_port(), free_port(), free_port()
    platform_browser_port = free_port()
    log = (state_dir / "demo.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "example" / "run_demo.py"),
            f"--api-port={api_port}",
            f"--spa-port={spa_port}",
            f"--platform-port={platform_port}",
            f"--platform-browser-port={platform_browser_port}",
            f"--state-dir={state_dir}",
            f"--response-mode={response_mode}",
            f"--access-token-seconds={ACCESS_TOKEN_SECONDS}",
            "--refresh-margin-seconds=1",
            *extra_args,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={
            name: value
            for name, value in os.environ.items()
            if not name.startswith("MICROSOFT_SSO_")
        },
    )
    state_file = state_dir / "demo.json"
    deadline = time.monotonic() + 60
    while not state_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError((state_dir / "demo.log").read_text())
        time.sleep(0.2)
    state = json.loads(state_file.read_text())
    try:
        yield Demo(
            api=state["api"],
            spa=state["spa"],
            database=Path(state["database"]),
            platform=state["identity_platform"],
            output=state_dir / "demo.log",
            api_log=Path(state["api_log"]),
        )
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo as it runs by default: secure form_post callbacks."""
    yield from _start_demo(tmp_path_factory.mktemp("demo-form-post"), "form_post")


@pytest.fixture(scope="session")
def query_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo in query mode, with access tokens that outlive a slow test."""
    yield from _start_demo(
        tmp_path_factory.mktemp("demo-query"), "query", "--access-token-seconds=300"
    )


@pytest.fixture(scope="session")
def consent_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo with the identity platform's consent step turned on."""
    yield from _start_demo(tmp_path_factory.mktemp("demo-consent"), "form_post", "--consent")


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="session")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def context(chromium: Browser) -> Iterator[BrowserContext]:
    # No ignore_https_errors: the demo's browser never meets the fake's own CA, because
    # the identity platform serves its pages over plain HTTP.
    browser_context = chromium.new_context()
    yield browser_context
    browser_context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    new_page = context.new_page()
    new_page.set_default_timeout(15_000)
    return new_page


@pytest.fixture(autouse=True)
def _clean_demo_state(request: pytest.FixtureRequest) -> None:
    for name in ("demo", "query_demo", "consent_demo"):
        if name in request.fixturenames:
            request.getfixturevalue(name).reset()


# Text nodes showing this run's loopback ports are rewritten to the demo's default ports
# before a screenshot, so the pictures in the docs match what `demo.sh` shows and do not
# change from run to run.
_DEFAULT_PORTS_SCRIPT = """([api, spa, platform, pages]) => {
  const swap = {[api]: "8000", [spa]: "5173", [platform]: "9443", [pages]: "9080"};
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    node.textContent = node.textContent.replace(
      /127\\.0\\.0\\.1:(\\d+)/g, (match, port) => `127.0.0.1:${swap[port] ?? port}`);
  }
}"""


def screenshot(page: Page, name: str, demo: Demo) -> None:
    """Save a screenshot of ``page`` for the documentation."""
    ports = [demo.api, demo.spa, demo.platform["base_url"], demo.pages]
    page.evaluate(_DEFAULT_PORTS_SCRIPT, [url.rsplit(":", 1)[1] for url in ports])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


@pytest.fixture
def body_mode_context(chromium: Browser) -> Iterator[BrowserContext]:
    """A browser whose SPA runs in body mode: the demo's config.json with ``cookieMode`` off.

    The demo serves cookie mode only; the API serves body mode to any request without the
    cookie proof (``X-SSO-CSRF``), which a body-mode client never sends. So the SPA's own
    configuration is the one switch, rewritten here on its way to the page.
    """

    def body_mode(route: Route) -> None:
        served = route.fetch()
        config = served.json()
        config["cookieMode"] = False
        route.fulfill(response=served, json=config)

    browser_context = chromium.new_context()
    browser_context.route("**/config.json", body_mode)
    yield browser_context
    browser_context.close()
