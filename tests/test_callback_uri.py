"""How the redirect URI sent to Microsoft is composed: scheme, netloc, path."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import CommandError, call_command

from sso_api.testing.client import Pkce, SignInDriver

pytestmark = pytest.mark.django_db


def redirect_uri_sent(browser: SignInDriver, **extra: Any) -> str:
    pkce = Pkce.new()
    response = browser.client.post(
        "/api/sso/start/",
        {"next": "/", "code_challenge": pkce.challenge, "code_challenge_method": "S256"},
        content_type="application/json",
        **extra,
    )
    assert response.status_code == 200, response.content
    return str(parse_qs(urlsplit(response.json()["authorization_url"]).query)["redirect_uri"][0])


def test_scheme_host_and_path_come_from_the_start_request(browser: SignInDriver) -> None:
    assert redirect_uri_sent(browser) == "http://testserver/api/sso/callback/"


def test_the_port_is_kept(browser: SignInDriver) -> None:
    assert redirect_uri_sent(browser, HTTP_HOST="localhost:8000") == (
        "http://localhost:8000/api/sso/callback/"
    )


def test_https_requests_give_an_https_callback(browser: SignInDriver) -> None:
    assert redirect_uri_sent(browser, secure=True).startswith("https://testserver/")


@pytest.mark.parametrize(
    ("header", "scheme"),
    [
        ("https", "https"),
        ("https, http", "https"),
        ("http", "http"),
        ("HTTPS", "https"),
        ("gopher", "http"),
    ],
)
def test_x_forwarded_proto_from_a_reverse_proxy_is_honoured(
    browser: SignInDriver, header: str, scheme: str
) -> None:
    uri = redirect_uri_sent(browser, HTTP_X_FORWARDED_PROTO=header)
    assert uri == f"{scheme}://testserver/api/sso/callback/"


def test_secure_proxy_ssl_header_is_honoured(browser: SignInDriver, sso: Any) -> None:
    sso.SECURE_PROXY_SSL_HEADER = ("HTTP_X_SCHEME", "https")
    assert redirect_uri_sent(browser, HTTP_X_SCHEME="https").startswith("https://")


def test_callback_domain_wins_over_everything(browser: SignInDriver, sso: Any) -> None:
    from django.contrib.sites.models import Site

    sso.SITE_ID = Site.objects.create(domain="api.example.com", name="API").pk
    sso.MICROSOFT_SSO_CALLBACK_DOMAIN = "sso.example.com"
    assert redirect_uri_sent(browser, secure=True) == "https://sso.example.com/api/sso/callback/"


def test_the_current_site_gives_the_netloc_when_sites_is_installed(
    browser: SignInDriver, sso: Any
) -> None:
    from django.contrib.sites.models import Site

    sso.SITE_ID = Site.objects.create(domain="api.example.com", name="API").pk
    assert redirect_uri_sent(browser, secure=True) == "https://api.example.com/api/sso/callback/"


def test_without_a_matching_site_the_request_host_is_used(browser: SignInDriver) -> None:
    assert redirect_uri_sent(browser, HTTP_HOST="127.0.0.1:8000") == (
        "http://127.0.0.1:8000/api/sso/callback/"
    )


def test_the_path_follows_where_the_urls_are_mounted(browser: SignInDriver, sso: Any) -> None:
    sso.ROOT_URLCONF = "tests.urls_other_mount"
    uri = redirect_uri_sent_at(browser, "/auth/microsoft/start/")
    assert uri == "http://testserver/auth/microsoft/callback/"


def redirect_uri_sent_at(browser: SignInDriver, path: str) -> str:
    pkce = Pkce.new()
    response = browser.client.post(
        path,
        {"next": "/", "code_challenge": pkce.challenge, "code_challenge_method": "S256"},
        content_type="application/json",
    )
    return str(parse_qs(urlsplit(response.json()["authorization_url"]).query)["redirect_uri"][0])


def test_the_command_prints_the_uris_to_register() -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("sso_redirect_uri", "https://api.example.com", stdout=out, stderr=err)
    assert "https://api.example.com/api/sso/callback/" in out.getvalue()
    assert "https://api.example.com/api/sso/logout/frontchannel/" in out.getvalue()
    assert err.getvalue() == ""


def test_the_command_warns_about_http() -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("sso_redirect_uri", "http://localhost:8000", stdout=out, stderr=err)
    assert "http://localhost:8000/api/sso/callback/" in out.getvalue()
    assert "must be https" in err.getvalue()


@pytest.mark.parametrize("base", ["api.example.com", "https://api.example.com/prefix", "ftp://x"])
def test_the_command_refuses_anything_but_scheme_and_host(base: str) -> None:
    with pytest.raises(CommandError):
        call_command("sso_redirect_uri", base, stdout=io.StringIO())
