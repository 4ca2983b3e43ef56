"""The native app example (``example/native_app.py``) against the demo's processes.

The script plays a mobile app and its system browser: a PKCE pair, ``/start/`` with
``redirect=true`` and ``next=myapp://auth``, the sign-in at the fake identity platform, the
``myapp://auth?sso_code=...`` hand-off, ``/token/``, ``/me/``, a refresh and the sign-out
with ``next=myapp://auth/signed-out``. These tests run it as a developer would, with the
project's Python, and read what it prints. The demo must allow ``myapp://auth`` in
``MICROSOFT_SSO_ALLOWED_REDIRECT_URLS``.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from types import ModuleType

import pytest

from tests.e2e.conftest import ROOT, Demo

SCRIPT = ROOT / "example" / "native_app.py"
# A JSON Web Token: three base64url parts, the first an encoded JSON object.
WHOLE_JWT = re.compile(r"eyJ[\w-]*\.[\w-]+\.[\w-]+")
EVERY_STEP = [
    "api",
    "pkce",
    "start",
    "browser",
    "callback",
    "hand-off",
    "token",
    "me",
    "refresh",
    "logout",
    "after logout",
    "done",
]


def example_command(demo: Demo, *arguments: str) -> list[str]:
    state_file = demo.database.parent / "demo.json"
    return [sys.executable, str(SCRIPT), f"--api={demo.api}", f"--state={state_file}", *arguments]


def run_example(demo: Demo, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        example_command(demo, *arguments),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def steps(output: str) -> list[tuple[str, str]]:
    """(step, text) of each ``step: text`` line the script printed."""
    return [
        (step, text)
        for step, _, text in (line.partition(": ") for line in output.splitlines())
        if text and not step.startswith(" ")
    ]


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("native_app", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered first, as an import would: its dataclasses look their module up there.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(params=["demo", "query_demo"])
def running_demo(request: pytest.FixtureRequest) -> Demo:
    """The demo with form_post callbacks (the browser POSTs), then in query mode (a GET)."""
    demo: Demo = request.getfixturevalue(request.param)
    return demo


def test_the_example_signs_in_through_the_browser_calls_the_api_and_signs_out(
    running_demo: Demo,
) -> None:
    result = run_example(running_demo, "--account=ada@contoso.example")

    assert result.returncode == 0, result.stdout + result.stderr
    printed = dict(steps(result.stdout))
    assert [step for step, _ in steps(result.stdout)] == EVERY_STEP
    assert printed["start"].startswith("302 to http")
    assert printed["start"].endswith("/organizations/oauth2/v2.0/authorize")
    assert printed["browser"] == "signed in as ada@contoso.example at the fake identity platform"
    # The callback handed the browser over to the app's own scheme, with the code only.
    assert printed["callback"] == "302 to myapp://auth"
    assert re.fullmatch(r"myapp://auth\?sso_code=[\w-]{10}\.\.\.", printed["hand-off"])
    assert printed["token"].endswith(", user ada@contoso.example")
    ada = running_demo.user("ada@contoso.example")
    assert printed["me"] == (
        f"ada@contoso.example (tenant {ada['tenant_id']}, object {ada['object_id']})"
    )
    assert printed["logout"].endswith("returns to myapp://auth/signed-out")
    assert printed["after logout"] == "refresh refused with HTTP 401 session_revoked"


def test_the_example_never_prints_a_whole_token(demo: Demo) -> None:
    result = run_example(demo)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "eyJ" in result.stdout  # prefixes are shown...
    assert not WHOLE_JWT.search(result.stdout + result.stderr)  # ...whole tokens never


def test_a_sign_in_the_api_refuses_reaches_the_app_as_sso_error_and_fails_the_run(
    demo: Demo,
) -> None:
    # Fabrikam is not among the demo's allowed tenants.
    result = run_example(demo, "--account=alan@fabrikam.example")

    assert result.returncode == 1
    printed = steps(result.stdout)
    assert ("hand-off", "myapp://auth?sso_error=tenant_not_allowed") in printed
    assert "token" not in dict(printed)
    assert result.stdout.splitlines()[-1].startswith("FAILED hand-off: sign-in refused with")


def test_a_person_can_play_the_browser_and_paste_the_address_it_was_sent_to(demo: Demo) -> None:
    """``--manual``, as against the real Microsoft: the script prints the address to open
    and reads the ``myapp://auth?...`` address back. Here the test is the person."""
    person = load_example().FakePlatformBrowser(
        demo.user("ada@contoso.example"), demo.platform.get("ca_bundle")
    )
    process = subprocess.Popen(
        example_command(demo, "--manual"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdin is not None
        assert process.stdout is not None
        shown = []
        for line in process.stdout:
            shown.append(line)
            if line.startswith("browser: the browser then tries to open myapp://auth"):
                break
        address_to_open = next(line.strip() for line in shown if line.startswith("    "))
        handoff = person.authenticate(address_to_open, "myapp://auth")
        assert handoff.startswith("myapp://auth?sso_code=")
        rest, _ = process.communicate(handoff + "\n", timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 0, "".join(shown) + rest
    printed = dict(steps(rest))
    assert printed["token"].endswith(", user ada@contoso.example")
    assert printed["done"] == "signed in, called the API, refreshed and signed out"
