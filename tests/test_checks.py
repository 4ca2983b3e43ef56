"""One test per system check id."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.checks import CheckMessage, run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings
from pytest_django.fixtures import Settings

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
DUMMY = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/0",
    }
}


DEPLOY_ONLY = {"sso.W008", "sso.W009", "sso.W010", "sso.W011", "sso.W012", "sso.W013"}


def sso_messages(*, deploy: bool = False) -> list[CheckMessage]:
    """The unsilenced ``sso.*`` messages for the current settings (``check [--deploy]``)."""
    return [
        message
        for message in run_checks(include_deployment_checks=deploy)
        if message.id and message.id.startswith("sso.") and not message.is_silenced()
    ]


def reported(*, deploy: bool = False) -> set[str]:
    return {str(message.id) for message in sso_messages(deploy=deploy)}


def check_ids(**overrides: Any) -> set[str]:
    with override_settings(**overrides):
        return reported()


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


@pytest.mark.parametrize(
    "entry", ["spa.example.com", "/relative", "https://user@evil.example", "https://[::1"]
)
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


@pytest.mark.parametrize(
    "entry",
    [
        "https://*.example.com",
        "https://app.example.com/*",
        "https://app.example.com/spa/../admin",
        "https://app.example.com/spa%2Fadmin",
        "https://app.example.com /spa",
        "javascript://app.example.com/%0aalert(1)",
    ],
    ids=["wildcard-host", "wildcard-path", "dot-segments", "encoded-slash", "space", "script"],
)
def test_e009_redirect_entries_that_can_never_match(settings: Settings, entry: str) -> None:
    settings.MICROSOFT_SSO_ALLOWED_REDIRECT_URLS = [entry]
    # Dead in every environment, so reported without --deploy.
    assert "sso.E009" in reported()


@pytest.mark.parametrize(
    ("entry", "what_it_allows"),
    [
        ("https://app.example.com/signed-in?tenant=contoso", "https://app.example.com/signed-in"),
        ("https://app.example.com/#/signed-in", "https://app.example.com/"),
    ],
    ids=["query", "fragment"],
)
def test_w006_a_query_or_fragment_in_a_redirect_entry_is_ignored(
    settings: Settings, entry: str, what_it_allows: str
) -> None:
    settings.MICROSOFT_SSO_ALLOWED_REDIRECT_URLS = [entry]
    (message,) = [m for m in sso_messages() if m.id == "sso.W006"]
    assert f"every URL under {what_it_allows!r}" in message.msg


# tests/settings.py is open to the world already: the "organizations" authority, no
# MICROSOFT_SSO_ALLOWED_TENANTS, MICROSOFT_SSO_ALLOWABLE_DOMAINS = ["*"].
MULTI_TENANT_AUTHORITIES = [
    {"MICROSOFT_SSO_TENANT_ID": "organizations"},
    {"MICROSOFT_SSO_TENANT_ID": "common"},
    {"MICROSOFT_SSO_TENANT_ID": "Consumers"},
    {"MICROSOFT_SSO_AUTHORITY": "https://login.microsoftonline.us/common/"},
    {"MICROSOFT_SSO_TENANT_ID": "", "MICROSOFT_SSO_AUTHORITY": "https://idp.test/organizations"},
]
AUTHORITY_IDS = ["organizations", "common", "consumers", "authority", "authority-only"]


def configure(settings: Settings, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(settings, name, value)


@pytest.mark.parametrize("authority", MULTI_TENANT_AUTHORITIES, ids=AUTHORITY_IDS)
def test_e010_a_wildcard_superuser_list_open_to_every_microsoft_account(
    settings: Settings, authority: dict[str, Any]
) -> None:
    configure(settings, authority)
    settings.MICROSOFT_SSO_SUPERUSER_LIST = ["*"]
    # An error, and not deploy-only: it stops manage.py check, runserver and migrate.
    with pytest.raises(SystemCheckError, match=r"sso\.E010"):
        call_command("check")


@pytest.mark.parametrize("authority", MULTI_TENANT_AUTHORITIES, ids=AUTHORITY_IDS)
def test_w007_a_wildcard_staff_list_open_to_every_microsoft_account(
    settings: Settings, authority: dict[str, Any]
) -> None:
    configure(settings, authority)
    settings.MICROSOFT_SSO_STAFF_LIST = ["*"]
    assert "sso.W007" in reported()


@pytest.mark.parametrize(
    "restriction",
    [
        {"MICROSOFT_SSO_TENANT_ID": "contoso.example"},
        # The authority wins over the tenant id.
        {"MICROSOFT_SSO_AUTHORITY": "https://login.microsoftonline.com/contoso.example"},
        {"MICROSOFT_SSO_ALLOWED_TENANTS": ["72f988bf-86f1-41af-91ab-2d7cd011db47"]},
        {"MICROSOFT_SSO_ALLOWABLE_DOMAINS": ["contoso.example"]},
        {"MICROSOFT_SSO_AUTO_CREATE_USERS": False},
        {"MICROSOFT_SSO_PRE_VALIDATE_CALLBACK": lambda claims, request: True},
        {"MICROSOFT_SSO_ALLOWABLE_DOMAINS": lambda request: ["*"]},
        {
            "MICROSOFT_SSO_SUPERUSER_LIST": ["ada@contoso.example"],
            "MICROSOFT_SSO_STAFF_LIST": ["grace@contoso.example"],
        },
    ],
    ids=[
        "one-tenant",
        "one-tenant-authority",
        "allowed-tenants",
        "allowed-domains",
        "no-new-users",
        "pre-validate-hook",
        "callable",
        "listed-emails",
    ],
)
def test_wildcard_privileges_are_fine_when_not_everyone_gets_in(
    settings: Settings, restriction: dict[str, Any]
) -> None:
    settings.MICROSOFT_SSO_SUPERUSER_LIST = ["*"]
    settings.MICROSOFT_SSO_STAFF_LIST = ["*"]
    configure(settings, restriction)
    assert not reported(deploy=True) & {"sso.E010", "sso.W007"}


def test_w008_pkce_turned_off(settings: Settings) -> None:
    settings.MICROSOFT_SSO_REQUIRE_CODE_CHALLENGE = False
    assert "sso.W008" in reported(deploy=True)


def test_w009_refresh_cookie_without_secure(settings: Settings) -> None:
    settings.MICROSOFT_SSO_REFRESH_COOKIE_SECURE = False
    assert "sso.W009" not in reported(deploy=True)  # no cookie is sent while it is off
    settings.MICROSOFT_SSO_REFRESH_COOKIE = True
    assert "sso.W009" in reported(deploy=True)


def test_w010_refresh_cookie_sent_cross_site(settings: Settings) -> None:
    settings.MICROSOFT_SSO_REFRESH_COOKIE_SAMESITE = "None"
    assert "sso.W010" not in reported(deploy=True)  # no cookie is sent while it is off
    settings.MICROSOFT_SSO_REFRESH_COOKIE = True
    assert "sso.W010" in reported(deploy=True)


@pytest.mark.parametrize(
    "entry",
    [
        "http://app.example.com",
        "HTTP://APP.EXAMPLE.COM/spa",
        "http://192.168.1.20:3000",
        "http://localhost.example.com",
    ],
)
def test_w011_plain_http_redirect_entry(settings: Settings, entry: str) -> None:
    settings.MICROSOFT_SSO_ALLOWED_REDIRECT_URLS = [entry]
    assert "sso.W011" in reported(deploy=True)


@pytest.mark.parametrize(
    "entry",
    [
        "http://localhost:3000",
        "http://127.0.0.1:5173/spa",
        "http://127.0.0.2",
        "http://[::1]:8080",
        "https://app.example.com",
        "myapp://auth",
    ],
)
def test_loopback_http_and_https_entries_are_fine_for_deploy(
    settings: Settings, entry: str
) -> None:
    settings.MICROSOFT_SSO_ALLOWED_REDIRECT_URLS = [entry]
    assert reported(deploy=True) == set()


def test_w012_session_lifetime_beyond_90_days(settings: Settings) -> None:
    settings.MICROSOFT_SSO_SESSION_LIFETIME = timedelta(days=90)
    assert "sso.W012" not in reported(deploy=True)
    settings.MICROSOFT_SSO_SESSION_LIFETIME = timedelta(days=91)
    assert "sso.W012" in reported(deploy=True)


def test_w013_access_token_lifetime_beyond_an_hour(settings: Settings) -> None:
    settings.SIMPLE_JWT = {"ACCESS_TOKEN_LIFETIME": timedelta(hours=1)}
    assert "sso.W013" not in reported(deploy=True)
    settings.SIMPLE_JWT = {"ACCESS_TOKEN_LIFETIME": timedelta(hours=8)}
    assert "sso.W013" in reported(deploy=True)


DEPLOY_TRIGGERS: dict[str, Any] = {
    "MICROSOFT_SSO_REQUIRE_CODE_CHALLENGE": False,
    "MICROSOFT_SSO_REFRESH_COOKIE": True,
    "MICROSOFT_SSO_REFRESH_COOKIE_SECURE": False,
    "MICROSOFT_SSO_REFRESH_COOKIE_SAMESITE": "None",
    "MICROSOFT_SSO_ALLOWED_REDIRECT_URLS": ["http://app.example.com"],
    "MICROSOFT_SSO_SESSION_LIFETIME": timedelta(days=365),
    "SIMPLE_JWT": {"ACCESS_TOKEN_LIFETIME": timedelta(days=1)},
}


def test_deploy_checks_run_only_with_deploy(settings: Settings) -> None:
    configure(settings, DEPLOY_TRIGGERS)
    assert reported(deploy=True) == DEPLOY_ONLY
    assert reported() == set()
    development, deployment = StringIO(), StringIO()
    call_command("check", stdout=development, stderr=development)
    call_command("check", "--deploy", stdout=deployment, stderr=deployment)
    assert "sso.W0" not in development.getvalue()
    assert all(check_id in deployment.getvalue() for check_id in DEPLOY_ONLY)


def test_the_test_settings_pass_the_deploy_checks() -> None:
    assert reported(deploy=True) == set()


def per_request(value: Any) -> Any:
    """``value`` as a setting given as a callable taking the request."""
    return lambda request: value


def test_deploy_checks_skip_settings_given_as_callables(settings: Settings) -> None:
    # Their value may differ per request, so there is nothing to judge before one comes.
    for name, value in DEPLOY_TRIGGERS.items():
        if name.startswith("MICROSOFT_SSO_"):
            setattr(settings, name, per_request(value))
    assert reported(deploy=True) == set()


# --- Authorization from Entra -------------------------------------------------------------

GROUP_ID = "3f2c8a56-0b1d-4e47-9a6e-2f5d7c1b9e04"


@pytest.mark.parametrize("flag", ["is_admin", "is_active", "groups"])
def test_e011_a_flag_sso_api_does_not_set(flag: str) -> None:
    assert "sso.E011" in check_ids(MICROSOFT_SSO_FLAG_MAP={flag: ["Admin"]})


@pytest.mark.parametrize(
    "overrides",
    [
        {"MICROSOFT_SSO_GROUP_MAP": {"": "Admins"}},
        {"MICROSOFT_SSO_GROUP_MAP": {"Admin": []}},
        {"MICROSOFT_SSO_GROUP_MAP": {"Admin": ["Admins", 7]}},
        {"MICROSOFT_SSO_GROUP_MAP": {"Admin": None}},
        {"MICROSOFT_SSO_FLAG_MAP": {"is_staff": []}},
        {"MICROSOFT_SSO_FLAG_MAP": {"is_staff": [""]}},
    ],
    ids=["empty-key", "no-names", "name-not-a-string", "none", "flag-no-keys", "flag-empty-key"],
)
def test_e012_a_map_entry_that_can_never_grant_anything(overrides: dict[str, Any]) -> None:
    assert "sso.E012" in check_ids(**overrides)


def test_e013_groups_for_a_user_model_without_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.contrib.auth.base_user import AbstractBaseUser

    # A user model without PermissionsMixin: the check asks get_user_model() when it runs.
    monkeypatch.setattr("django.contrib.auth.get_user_model", lambda: AbstractBaseUser)
    assert "sso.E013" in check_ids(MICROSOFT_SSO_MIRROR_ROLES=True)


def test_w014_group_ids_without_a_graph_scope_for_overage() -> None:
    assert "sso.W014" in check_ids(MICROSOFT_SSO_GROUP_MAP={GROUP_ID: "Readers"})
    for scope in ("User.Read", "https://graph.microsoft.com/GroupMember.Read.All"):
        assert "sso.W014" not in check_ids(
            MICROSOFT_SSO_GROUP_MAP={GROUP_ID: "Readers"},
            MICROSOFT_SSO_SCOPES=["email", scope],
        )
    assert "sso.W014" not in check_ids(MICROSOFT_SSO_GROUP_MAP={"Admin": "Admins"})


def test_w015_an_owned_superuser_flag_overrides_the_first_superuser() -> None:
    assert "sso.W015" in check_ids(
        MICROSOFT_SSO_FLAG_MAP={"is_superuser": [GROUP_ID]},
        MICROSOFT_SSO_AUTO_CREATE_FIRST_SUPERUSER=True,
        MICROSOFT_SSO_SCOPES=["User.Read"],
    )


@pytest.mark.parametrize(
    ("overrides", "check_id"),
    [
        ({"MICROSOFT_SSO_GROUP_MAP": {"Admin": "Admins"}}, "sso.W016"),
        ({"MICROSOFT_SSO_MIRROR_ROLES": True}, "sso.W016"),
        ({"MICROSOFT_SSO_FLAG_MAP": {"is_superuser": ["Admin"]}}, "sso.E015"),
        ({"MICROSOFT_SSO_FLAG_MAP": {"is_staff": ["Support"]}}, "sso.E015"),
    ],
    ids=["group-map", "mirror", "superuser-flag", "staff-flag"],
)
def test_e015_w016_app_roles_granting_while_any_tenant_may_sign_in(
    overrides: dict[str, Any], check_id: str
) -> None:
    # The test settings use the "organizations" authority and allow every tenant.
    assert check_id in check_ids(**overrides)
    assert check_id not in check_ids(
        **overrides, MICROSOFT_SSO_ALLOWED_TENANTS=["0b0e7e3a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"]
    )
    assert check_id not in check_ids(**overrides, MICROSOFT_SSO_TENANT_ID=GROUP_ID)


def test_group_ids_from_one_tenant_are_not_w016() -> None:
    assert "sso.W016" not in check_ids(
        MICROSOFT_SSO_GROUP_MAP={GROUP_ID: "Readers"}, MICROSOFT_SSO_SCOPES=["User.Read"]
    )


@pytest.mark.parametrize(
    ("graph_url", "reported_id"),
    [
        ("http://graph.example.com", True),
        ("graph.microsoft.com", True),
        ("https://", True),
        ("https://graph.microsoft.us", False),
        ("http://127.0.0.1:9443/graph", False),
    ],
)
def test_e014_the_graph_url_must_be_https(graph_url: str, reported_id: bool) -> None:
    assert ("sso.E014" in check_ids(MICROSOFT_SSO_GRAPH_URL=graph_url)) is reported_id
