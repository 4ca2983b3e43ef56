"""The demo API over HTTP: its cross-origin rules, its docs, and its token signing key."""

from __future__ import annotations

import requests

from tests.e2e.conftest import Demo
from tests.test_example_project import PUBLISHED_EXAMPLE_KEY, forged_access_token


def preflight(demo: Demo, origin: str, path: str = "/api/sso/token/refresh/") -> requests.Response:
    return requests.options(
        demo.api + path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-sso-csrf",
        },
        timeout=5,
    )


def test_the_spa_origin_may_call_the_api_with_credentials(demo: Demo) -> None:
    answer = preflight(demo, demo.spa)
    assert answer.headers["Access-Control-Allow-Origin"] == demo.spa
    assert answer.headers["Access-Control-Allow-Credentials"] == "true"
    assert "x-sso-csrf" in answer.headers["Access-Control-Allow-Headers"].lower()


def test_no_other_origin_is_allowed(demo: Demo) -> None:
    for origin in ("http://127.0.0.1:1", "http://localhost:5173", "null", "https://evil.example"):
        answer = preflight(demo, origin)
        assert "Access-Control-Allow-Origin" not in answer.headers


def test_a_cookie_refresh_from_another_origin_is_refused_even_without_cors(demo: Demo) -> None:
    answer = requests.post(
        demo.api + "/api/sso/token/refresh/",
        json={},
        headers={"Origin": "https://evil.example", "X-SSO-CSRF": "1"},
        cookies={"sso_refresh": "x.y.z"},
        timeout=5,
    )
    assert answer.status_code == 403
    assert answer.json()["code"] == "csrf_failed"


def test_the_demo_serves_the_schema_swagger_ui_and_redoc_without_a_cdn(demo: Demo) -> None:
    schema = requests.get(demo.api + "/api/schema/", timeout=5)
    assert schema.status_code == 200
    assert "/api/sso/token/" in schema.text
    for page in ("/api/docs/", "/api/redoc/"):
        answer = requests.get(demo.api + page, timeout=5)
        assert answer.status_code == 200
        assert "cdn." not in answer.text  # assets come from drf-spectacular-sidecar


def test_an_access_token_forged_with_the_published_example_key_is_refused(demo: Demo) -> None:
    def me(access_token: str) -> requests.Response:
        return requests.get(
            demo.api + "/api/sso/me/",
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=5,
        )

    forged = me(forged_access_token(PUBLISHED_EXAMPLE_KEY))
    assert forged.status_code == 401
    assert forged.json()["code"] == "token_not_valid"
    # The same claims signed with the key run_demo.py made for this state directory pass:
    # the refusal above is the key's doing, not the claims'.
    demo_key = (demo.database.parent / "jwt-signing-key").read_text().strip()
    assert me(forged_access_token(demo_key)).status_code == 200
