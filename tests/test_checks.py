"""One test per system check id."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from django.core.checks import run_checks
from django.test import override_settings

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
DUMMY = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/0",
    }
}


def check_ids(**overrides: Any) -> set[str]:
    with override_settings(**overrides):
        return {
            message.id
            for message in run_checks()
            if message.id and message.id.startswith("sso.") and not message.is_silenced()
        }


def test_the_test_settings_pass_every_check() -> None:
    assert check_ids() == set()


def test_e001_secure_callback_without_explicit_caches() -> None:
    # Whether CACHES was configured is a property of the settings module, so the check
    # runs in a process started with one that leaves CACHES out.
    result = subprocess.run(
        [sys.executable, "-m", "django", "check"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings_without_caches"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "sso.E001" in result.stderr


@pytest.mark.parametrize("caches", [LOCMEM, DUMMY], ids=["locmem", "dummy"])
def test_w001_secure_callback_on_a_per_process_cache(caches: dict[str, Any]) -> None:
    assert "sso.W001" in check_ids(CACHES=caches, MICROSOFT_SSO_REQUIRE_SECURE_CALLBACK=True)


def test_w001_can_be_silenced() -> None:
    ids = check_ids(
        CACHES=LOCMEM,
        MICROSOFT_SSO_REQUIRE_SECURE_CALLBACK=True,
        SILENCED_SYSTEM_CHECKS=["sso.W001"],
    )
    assert "sso.W001" not in ids


def test_w001_looks_at_the_callback_cache_not_the_default() -> None:
    caches = {**LOCMEM, "flows": REDIS["default"]}
    assert "sso.W001" not in check_ids(
        CACHES=caches,
        MICROSOFT_SSO_REQUIRE_SECURE_CALLBACK=True,
        MICROSOFT_SSO_CALLBACK_CACHE_NAME="flows",
    )


def test_w004_query_mode_on_a_per_process_cache() -> None:
    # Flows and sso_codes live in the cache in query mode too, so the same risk applies.
    ids = check_ids(CACHES=LOCMEM)
    assert "sso.W004" in ids
    assert not ids & {"sso.E001", "sso.W001"}


def test_dummy_cache_is_explained_as_storing_nothing() -> None:
    with override_settings(CACHES=DUMMY):
        (message,) = [m for m in run_checks() if m.id == "sso.W004"]
    assert "stores nothing" in (message.hint or "")


def test_e002_callback_cache_name_must_exist() -> None:
    assert "sso.E002" in check_ids(MICROSOFT_SSO_CALLBACK_CACHE_NAME="missing")


def test_e003_unknown_settings_are_reported_with_a_suggestion() -> None:
    with override_settings(MICROSOFT_SSO_ALLOWED_DOMAINS=["x.com"]):
        messages = [m for m in run_checks() if m.id == "sso.E003"]
    assert messages
    assert "MICROSOFT_SSO_ALLOWABLE_DOMAINS" in (messages[0].hint or "")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MICROSOFT_SSO_ENABLED", "yes"),
        ("MICROSOFT_SSO_TIMEOUT", "10"),
        ("MICROSOFT_SSO_TIMEOUT", True),
        ("MICROSOFT_SSO_ALLOWABLE_DOMAINS", "example.com"),
        ("MICROSOFT_SSO_STAFF_LIST", [1, 2]),
        ("MICROSOFT_SSO_HTTP_TIMEOUT", "5"),
        ("MICROSOFT_SSO_PRE_LOGIN_CALLBACK", 42),
    ],
)
def test_e004_wrong_types_are_reported(name: str, value: Any) -> None:
    assert "sso.E004" in check_ids(**{name: value})


def test_e004_callables_are_accepted() -> None:
    assert "sso.E004" not in check_ids(
        MICROSOFT_SSO_TIMEOUT=lambda request: 5,
        MICROSOFT_SSO_PRE_LOGIN_CALLBACK=lambda user, claims, request: None,
    )


@pytest.mark.parametrize("entry", ["spa.example.com", "/relative", "https://user@evil.example"])
def test_e005_redirect_allow_list_entries_must_be_absolute(entry: str) -> None:
    assert "sso.E005" in check_ids(MICROSOFT_SSO_ALLOWED_REDIRECT_URLS=[entry])


def test_w002_missing_application_configuration() -> None:
    assert "sso.W002" in check_ids(MICROSOFT_SSO_CLIENT_SECRET="")
    assert "sso.W002" not in check_ids(MICROSOFT_SSO_CLIENT_SECRET="", MICROSOFT_SSO_ENABLED=False)


def test_w003_empty_domain_list_lets_nobody_in() -> None:
    assert "sso.W003" in check_ids(MICROSOFT_SSO_ALLOWABLE_DOMAINS=[])


def test_w005_a_culling_cache_with_few_entries() -> None:
    small = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "t"}}
    assert "sso.W005" in check_ids(CACHES=small)
    roomy = {"default": {**small["default"], "OPTIONS": {"MAX_ENTRIES": 1_000_000}}}
    assert "sso.W005" not in check_ids(CACHES=roomy)
    assert "sso.W005" not in check_ids(CACHES=REDIS)


def test_e007_logout_redirect_must_be_an_allowed_url() -> None:
    assert "sso.E007" in check_ids(MICROSOFT_SSO_LOGOUT_REDIRECT_PATH="https://evil.example/")
    assert "sso.E007" not in check_ids(
        MICROSOFT_SSO_LOGOUT_REDIRECT_PATH="https://spa.example.com/bye",
        MICROSOFT_SSO_ALLOWED_REDIRECT_URLS=["https://spa.example.com"],
    )
    assert "sso.E007" not in check_ids(MICROSOFT_SSO_LOGOUT_REDIRECT_PATH="/bye/")


@pytest.mark.parametrize("name", ["MICROSOFT_SSO_NEXT_URL", "MICROSOFT_SSO_LOGIN_FAILED_URL"])
def test_e008_browser_destinations_must_be_paths_or_allowed_urls(name: str) -> None:
    assert "sso.E008" in check_ids(**{name: "admin:index"})
    assert "sso.E008" in check_ids(**{name: "https://evil.example/"})
    assert "sso.E008" not in check_ids(**{name: "/welcome/"})
