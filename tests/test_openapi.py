"""The OpenAPI schema: generated without warnings, committed, and true to real responses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from sso_api.testing import FakeUser
from sso_api.testing.client import SignInDriver

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "docs" / "openapi.yaml"


def generate_schema(target: Path) -> subprocess.CompletedProcess[str]:
    """What scripts/openapi.sh runs: the example project's schema, warnings as errors."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "DJANGO_SECRET_KEY": "schema-generation-only-" + "x" * 40,
        "MICROSOFT_SSO_APPLICATION_ID": "schema",
        "MICROSOFT_SSO_CLIENT_SECRET": "schema",
        "MICROSOFT_SSO_TENANT_ID": "schema",
    }
    return subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            str(target),
        ],
        cwd=ROOT / "example",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_schema_generates_without_warnings_and_matches_the_committed_file(
    tmp_path: Path,
) -> None:
    generated = tmp_path / "openapi.yaml"
    result = generate_schema(generated)
    assert result.returncode == 0, result.stderr
    assert generated.read_text() == COMMITTED.read_text(), (
        "docs/openapi.yaml is out of date: run ./scripts/openapi.sh"
    )


def _as_json_schema(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable`` as JSON Schema's type list, recursively."""
    if isinstance(node, dict):
        converted = {key: _as_json_schema(value) for key, value in node.items()}
        if converted.pop("nullable", False) and "type" in converted:
            converted["type"] = [converted["type"], "null"]
        return converted
    if isinstance(node, list):
        return [_as_json_schema(item) for item in node]
    return node


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return dict(_as_json_schema(yaml.safe_load(COMMITTED.read_text())))


def assert_conforms(openapi: dict[str, Any], path: str, method: str, response: Any) -> None:
    """The response's JSON body validates against the schema for its status."""
    documented = openapi["paths"][path][method]["responses"][str(response.status_code)]
    schema = documented["content"]["application/json"]["schema"]
    # Evolving a validator of the whole document keeps "#/components/..." resolvable.
    validator = Draft7Validator(openapi).evolve(schema=schema)
    validator.validate(response.json())
    for example in documented["content"]["application/json"].get("examples", {}).values():
        validator.validate(example["value"])


@pytest.mark.django_db
def test_real_responses_and_the_examples_conform_to_the_schema(
    openapi: dict[str, Any], browser: SignInDriver, ada: FakeUser
) -> None:
    started = browser.start(next="/")
    assert_conforms(openapi, "/api/sso/start/", "post", started)
    refused = browser.start(next="//evil.example")
    assert_conforms(openapi, "/api/sso/start/", "post", refused)

    attempt = browser.sign_in(ada)
    wrong = browser.redeem(attempt.sso_code, "x" * 43)
    assert_conforms(openapi, "/api/sso/token/", "post", wrong)
    attempt = browser.sign_in(ada)
    tokens = browser.redeem(attempt.sso_code, attempt.pkce.verifier)
    assert_conforms(openapi, "/api/sso/token/", "post", tokens)

    me = browser.client.get("/api/sso/me/", HTTP_AUTHORIZATION=f"Bearer {tokens.json()['access']}")
    assert_conforms(openapi, "/api/sso/me/", "get", me)
    assert_conforms(openapi, "/api/sso/me/", "get", browser.client.get("/api/sso/me/"))

    refresh = tokens.json()["refresh"]
    rotated = browser.client.post(
        "/api/sso/token/refresh/", {"refresh": refresh}, content_type="application/json"
    )
    assert_conforms(openapi, "/api/sso/token/refresh/", "post", rotated)
    reused = browser.client.post(
        "/api/sso/token/refresh/", {"refresh": refresh}, content_type="application/json"
    )
    assert_conforms(openapi, "/api/sso/token/refresh/", "post", reused)
    logout = browser.client.post(
        "/api/sso/logout/", {"refresh": rotated.json()["refresh"]}, content_type="application/json"
    )
    assert_conforms(openapi, "/api/sso/logout/", "post", logout)


def test_every_error_code_is_in_the_schema(openapi: dict[str, Any]) -> None:
    from sso_api.schema import ERROR_CODE_CHOICES

    assert openapi["components"]["schemas"]["ErrorCodeEnum"]["enum"] == ERROR_CODE_CHOICES
