"""The OpenAPI schema: generated without warnings, committed, and true to real responses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.db import OperationalError, connection
from jsonschema import Draft7Validator
from rest_framework_simplejwt.tokens import AccessToken

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
    """The response's JSON body validates against the schema for its status, and an error's
    code is one of those the status documents (its examples)."""
    documented = openapi["paths"][path][method]["responses"][str(response.status_code)]
    schema = documented["content"]["application/json"]["schema"]
    # Evolving a validator of the whole document keeps "#/components/..." resolvable.
    validator = Draft7Validator(openapi).evolve(schema=schema)
    validator.validate(response.json())
    examples = documented["content"]["application/json"].get("examples", {}).values()
    for example in examples:
        validator.validate(example["value"])
    if response.status_code >= 400:
        documented_codes = {example["value"]["code"] for example in examples}
        assert response.json()["code"] in documented_codes, (path, response.status_code)


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


def _database_down(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    raise OperationalError("the database is unreachable")


@pytest.mark.django_db
def test_an_unreachable_database_is_answered_as_the_schema_says(
    openapi: dict[str, Any], browser: SignInDriver, ada: FakeUser
) -> None:
    waiting = browser.sign_in(ada)
    tokens = browser.signed_in(ada)
    # An access token minted elsewhere in the project: /me/ looks its user up.
    user = get_user_model().objects.get(pk=tokens["user"]["id"])
    foreign_access = str(AccessToken.for_user(user))
    client = browser.client

    # Every query fails as it would with the database down (Django's execute_wrapper).
    with connection.execute_wrapper(_database_down):
        answers = {
            ("/api/sso/start/", "post"): browser.start(next="/"),
            ("/api/sso/token/", "post"): browser.redeem(waiting.sso_code, waiting.pkce.verifier),
            ("/api/sso/token/refresh/", "post"): client.post(
                "/api/sso/token/refresh/",
                {"refresh": tokens["refresh"]},
                content_type="application/json",
            ),
            ("/api/sso/logout/", "post"): client.post(
                "/api/sso/logout/", {"refresh": tokens["refresh"]}, content_type="application/json"
            ),
            ("/api/sso/logout/frontchannel/", "get"): client.get(
                "/api/sso/logout/frontchannel/", {"sid": "a-session"}
            ),
            ("/api/sso/me/", "get"): client.get(
                "/api/sso/me/", HTTP_AUTHORIZATION=f"Bearer {foreign_access}"
            ),
        }

    for (path, method), answer in answers.items():
        if path == "/api/sso/start/" and answer.status_code == 200:
            continue  # the cache is Redis in this leg, and /start/ needs nothing else
        assert answer.status_code == 503, (path, answer.content)
        assert_conforms(openapi, path, method, answer)


def test_generated_clients_get_one_error_type_and_names_that_read_well(
    openapi: dict[str, Any],
) -> None:
    schemas = openapi["components"]["schemas"]
    error_bodies = {
        (path, method, status): response["content"]["application/json"]["schema"]
        for path, operations in openapi["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if int(status) >= 400
    }

    one_error = {"$ref": "#/components/schemas/Error"}
    assert len(error_bodies) > 30
    assert {key: body for key, body in error_bodies.items() if body != one_error} == {}
    assert schemas["Error"]["properties"]["code"]["allOf"] == [
        {"$ref": "#/components/schemas/ErrorCodeEnum"}
    ]
    assert {
        "StartRequest",
        "StartResponse",
        "TokenRequest",
        "TokenResponse",
        "TokenPair",
        "RefreshRequest",
        "LogoutRequest",
        "LogoutResponse",
        "CallbackRequest",
        "User",
        "Error",
    } <= set(schemas)
    assert not [name for name in schemas if name.endswith("RequestRequest")]
    assert schemas["CodeChallengeMethodEnum"]["enum"] == ["S256"]
    assert schemas["TokenTypeEnum"]["enum"] == ["Bearer"]
