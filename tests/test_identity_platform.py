"""The fake Microsoft identity platform, driven by the real msal library and raw HTTPS.

No Django here: these tests run with ``-p no:django``. One platform serves the whole
module; each test gets its faults reset and its request log cleared.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import ssl
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from http.client import HTTPSConnection
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import jwt
import msal
import pytest
import requests
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from msal.exceptions import MsalServiceError

from sso_api.testing import (
    AuthorizationRejected,
    FakeApp,
    FakeGroup,
    FakeIdentityPlatform,
    FakeTenant,
    FakeUser,
)
from sso_api.testing.certificates import SERVER_HOST_NAMES, ensure_certificates
from sso_api.testing.cli import DEMO_PROJECT_GROUPS, add_demo_directory, state_document
from sso_api.testing.pages import USER_FIELD, parse_page
from tests.https import TrustingSession

REDIRECT_URI = "http://localhost:8000/microsoft_sso/callback/"
FRONT_CHANNEL_LOGOUT_URL = "https://app.example/microsoft_sso/logout/"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def platform() -> Iterator[FakeIdentityPlatform]:
    with FakeIdentityPlatform() as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_platform_state(platform: FakeIdentityPlatform) -> Iterator[None]:
    platform.clear_requests()
    yield
    platform.reset_faults()


@pytest.fixture(scope="module")
def contoso(platform: FakeIdentityPlatform) -> FakeTenant:
    return platform.add_tenant(name="Contoso", domain="contoso.example")


@pytest.fixture(scope="module")
def fabrikam(platform: FakeIdentityPlatform) -> FakeTenant:
    return platform.add_tenant(name="Fabrikam", domain="fabrikam.example")


@pytest.fixture(scope="module")
def ada(platform: FakeIdentityPlatform, contoso: FakeTenant) -> FakeUser:
    return platform.add_user(
        contoso,
        name="Ada Lovelace",
        email="ada@contoso.example",
        given_name="Ada",
        family_name="Lovelace",
    )


@pytest.fixture(scope="module")
def alan(platform: FakeIdentityPlatform, fabrikam: FakeTenant) -> FakeUser:
    return platform.add_user(fabrikam, name="Alan Turing", email="alan@fabrikam.example")


@pytest.fixture(scope="module")
def app(platform: FakeIdentityPlatform) -> FakeApp:
    return platform.register_app(
        redirect_uris=[REDIRECT_URI], front_channel_logout_url=FRONT_CHANNEL_LOGOUT_URL
    )


@pytest.fixture
def http(platform: FakeIdentityPlatform) -> Iterator[TrustingSession]:
    with TrustingSession(platform.ca_bundle) as session:
        yield session


def confidential_client(
    platform: FakeIdentityPlatform, app: FakeApp, authority: str, secret: str | None = None
) -> msal.ConfidentialClientApplication:
    # A new msal app per use: msal caches 5xx and 429 answers for a while (its
    # throttling), which would hide the platform's next answer from the test.
    return msal.ConfidentialClientApplication(
        app.client_id,
        client_credential=secret or app.client_secret,
        authority=authority,
        instance_discovery=False,
        http_client=TrustingSession(platform.ca_bundle),
    )


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorization_url(
    platform: FakeIdentityPlatform, authority: FakeTenant | str, app: FakeApp, **overrides: str
) -> tuple[str, str]:
    """A hand-built authorization URL (the defaults are a valid request) and its verifier."""
    verifier, challenge = pkce_pair()
    params = {
        "client_id": app.client_id,
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile offline_access",
        "state": "state-123",
        "nonce": "nonce-456",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    query = urlencode({name: value for name, value in params.items() if value})
    return f"{platform.authority(authority)}/oauth2/v2.0/authorize?{query}", verifier


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def token_endpoint(platform: FakeIdentityPlatform, authority: FakeTenant | str) -> str:
    return f"{platform.authority(authority)}/oauth2/v2.0/token"


def redeem(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    authority: FakeTenant | str,
    app: FakeApp,
    code: str,
    verifier: str,
) -> requests.Response:
    return http.post(
        token_endpoint(platform, authority),
        data={
            "grant_type": "authorization_code",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
    )


def sign_in(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    tenant: FakeTenant,
    app: FakeApp,
    user: FakeUser,
) -> dict[str, Any]:
    """A full sign-in without msal; returns the token response."""
    url, verifier = authorization_url(platform, tenant, app)
    code = platform.authorize(url, user=user).params["code"]
    response = redeem(http, platform, tenant, app, code, verifier)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def published_keys(
    http: requests.Session, platform: FakeIdentityPlatform, tenant: FakeTenant
) -> jwt.PyJWKSet:
    jwks = http.get(f"{platform.authority(tenant)}/discovery/v2.0/keys").json()
    return jwt.PyJWKSet.from_dict(jwks)


def verified_id_token_claims(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    tenant: FakeTenant,
    app: FakeApp,
    id_token: str,
) -> dict[str, Any]:
    """Validate like an app should: published key by kid, RS256 only, aud and iss."""
    return verified_claims(
        http, platform, tenant, id_token, audience=app.client_id, issuer=tenant.issuer
    )


def verified_claims(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    tenant: FakeTenant,
    token: str,
    *,
    audience: str,
    issuer: str,
    required: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A token's claims, verified with a published key found by kid, RS256 only, with
    ``audience``, ``issuer`` and the ``required`` claims."""
    unverified_header = jwt.get_unverified_header(token)
    keys = {key.key_id: key for key in published_keys(http, platform, tenant).keys}
    if unverified_header.get("kid") not in keys:
        raise jwt.InvalidKeyError("no published key has this kid")
    claims: dict[str, Any] = jwt.decode(
        token,
        keys[unverified_header["kid"]].key,
        algorithms=["RS256"],
        audience=audience,
        issuer=issuer,
        options={"require": list(required)},
    )
    return claims


# -- discovery ---------------------------------------------------------------------------


def test_metadata_of_a_tenant_names_its_issuer_and_endpoints(
    http: requests.Session, platform: FakeIdentityPlatform, contoso: FakeTenant
) -> None:
    for segment in (contoso.tenant_id, contoso.domain):
        document = http.get(
            f"{platform.authority(segment)}/v2.0/.well-known/openid-configuration"
        ).json()
        endpoints = f"{platform.base_url}/{contoso.tenant_id}"
        assert (
            document["issuer"] == f"{platform.base_url}/{contoso.tenant_id}/v2.0" == contoso.issuer
        )
        assert document["authorization_endpoint"] == f"{endpoints}/oauth2/v2.0/authorize"
        assert document["token_endpoint"] == f"{endpoints}/oauth2/v2.0/token"
        assert document["jwks_uri"] == f"{endpoints}/discovery/v2.0/keys"
        assert document["end_session_endpoint"] == f"{endpoints}/oauth2/v2.0/logout"
        assert document["frontchannel_logout_supported"] is True
        assert document["response_modes_supported"] == ["query", "fragment", "form_post"]
        assert document["subject_types_supported"] == ["pairwise"]
        assert document["id_token_signing_alg_values_supported"] == ["RS256"]
        assert document["tenant_region_scope"]


@pytest.mark.parametrize("segment", ["common", "organizations"])
def test_multi_tenant_metadata_publishes_the_issuer_template(
    http: requests.Session, platform: FakeIdentityPlatform, segment: str
) -> None:
    document = http.get(
        f"{platform.authority(segment)}/v2.0/.well-known/openid-configuration"
    ).json()
    assert document["issuer"] == f"{platform.base_url}/{{tenantid}}/v2.0"
    assert document["token_endpoint"] == f"{platform.base_url}/{segment}/oauth2/v2.0/token"


def test_metadata_of_an_unknown_tenant_is_aadsts90002(
    http: requests.Session, platform: FakeIdentityPlatform
) -> None:
    response = http.get(
        f"{platform.authority('nowhere.example')}/v2.0/.well-known/openid-configuration"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_tenant"
    assert body["error_codes"] == [90002]
    assert body["error_description"].startswith("AADSTS90002:")
    assert {"timestamp", "trace_id", "correlation_id"} <= body.keys()


def test_keys_document_publishes_the_rsa_signing_key(
    http: requests.Session, platform: FakeIdentityPlatform, contoso: FakeTenant
) -> None:
    (key,) = http.get(f"{platform.authority(contoso)}/discovery/v2.0/keys").json()["keys"]
    assert key["kty"] == "RSA"
    assert key["use"] == "sig"
    assert key["kid"] == key["x5t"]
    assert {"n", "e", "x5c"} <= key.keys()


# -- the authorization code flow with msal ----------------------------------------------------


@pytest.mark.parametrize("response_mode", ["query", "form_post"])
def test_msal_completes_the_authorization_code_flow(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    ada: FakeUser,
    response_mode: str,
) -> None:
    client = confidential_client(platform, app, platform.authority(contoso))
    flow = client.initiate_auth_code_flow(
        scopes=["User.Read"], redirect_uri=REDIRECT_URI, response_mode=response_mode
    )

    response = platform.authorize(flow["auth_uri"], user=ada)

    assert response.redirect_uri == REDIRECT_URI
    assert {"code", "state", "session_state", "client_info"} <= response.params.keys()
    if response_mode == "query":
        assert response.method == "GET"
        assert response.url.startswith(f"{REDIRECT_URI}?")
        assert query_of(response.url)["code"] == response.params["code"]
    else:
        assert response.method == "POST"
        assert response.url == REDIRECT_URI
    result = client.acquire_token_by_auth_code_flow(flow, response.params)
    assert "error" not in result, result
    assert {"access_token", "refresh_token", "id_token", "client_info"} <= result.keys()
    assert result["token_type"] == "Bearer"
    claims = verified_id_token_claims(http, platform, contoso, app, result["id_token"])
    assert claims["tid"] == contoso.tenant_id
    assert claims["oid"] == ada.object_id
    assert claims["email"] == ada.preferred_username == "ada@contoso.example"
    assert claims["xms_edov"] is True
    assert claims["acct"] == 0
    assert claims["ver"] == "2.0"
    assert claims["given_name"] == "Ada"
    assert claims["family_name"] == "Lovelace"
    assert claims["exp"] - claims["iat"] == 3600
    assert {"sub", "sid", "nonce", "nbf", "uti", "rh", "aio", "login_hint"} <= claims.keys()
    assert client.get_accounts()[0]["home_account_id"] == f"{ada.object_id}.{contoso.tenant_id}"


def test_the_browser_side_can_be_served_over_plain_http_while_servers_keep_https() -> None:
    with FakeIdentityPlatform(browser_port=0) as split, TrustingSession(split.ca_bundle) as http:
        tenant = split.add_tenant("Contoso", "contoso.example")
        user = split.add_user(tenant, name="Ada Lovelace", email="ada@contoso.example")
        client_app = split.register_app(redirect_uris=[REDIRECT_URI])
        browser = split.browser_base_url
        metadata = http.get(
            f"{split.authority(tenant)}/v2.0/.well-known/openid-configuration"
        ).json()
        client = confidential_client(split, client_app, split.authority(tenant))
        flow = client.initiate_auth_code_flow(scopes=[], redirect_uri=REDIRECT_URI)
        # As a browser without the fake's CA: plain HTTP, the session cookie kept.
        with requests.Session() as plain:
            plain.trust_env = False
            form = parse_page(plain.get(flow["auth_uri"], timeout=5).text).forms["sign-in-form"]
            answer = plain.post(
                urljoin(flow["auth_uri"], form.action),
                data=[*form.fields, (USER_FIELD, user.object_id)],
                allow_redirects=False,
                timeout=5,
            )
            refused = {
                path: plain.get(browser + path, timeout=5).status_code
                for path in (
                    f"/{tenant.tenant_id}/v2.0/.well-known/openid-configuration",
                    f"/{tenant.tenant_id}/discovery/v2.0/keys",
                    "/graph/v1.0/me/transitiveMemberOf",
                )
            }
            refused["token"] = plain.post(
                browser + f"/{tenant.tenant_id}/oauth2/v2.0/token", timeout=5
            ).status_code
        result = client.acquire_token_by_auth_code_flow(flow, query_of(answer.headers["Location"]))

    assert browser.startswith("http://127.0.0.1:")
    assert browser != split.base_url.replace("https://", "http://")
    pages = f"{browser}/{tenant.tenant_id}/oauth2/v2.0"
    assert metadata["authorization_endpoint"] == f"{pages}/authorize"
    assert metadata["end_session_endpoint"] == f"{pages}/logout"
    assert metadata["token_endpoint"].startswith(split.base_url)
    assert metadata["jwks_uri"].startswith(split.base_url)
    assert metadata["issuer"] == tenant.issuer == f"{split.base_url}/{tenant.tenant_id}/v2.0"
    assert flow["auth_uri"].startswith(f"{pages}/authorize?")
    assert "Secure" not in answer.headers["Set-Cookie"]
    assert "HttpOnly" in answer.headers["Set-Cookie"]
    assert "error" not in result, result
    assert result["id_token_claims"]["oid"] == user.object_id
    assert refused == dict.fromkeys(refused, 404)


def test_by_default_every_endpoint_is_https_and_the_session_cookie_secure(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    ada: FakeUser,
) -> None:
    metadata = http.get(f"{platform.authority(contoso)}/v2.0/.well-known/openid-configuration")
    url, _ = authorization_url(platform, contoso, app)
    form = parse_page(http.get(url).text).forms["sign-in-form"]

    answer = http.post(
        urljoin(url, form.action),
        data=[*form.fields, (USER_FIELD, ada.object_id)],
        allow_redirects=False,
    )

    assert platform.browser_base_url == platform.base_url
    assert metadata.json()["authorization_endpoint"].startswith(platform.base_url + "/")
    assert metadata.json()["end_session_endpoint"].startswith(platform.base_url + "/")
    assert "; Secure;" in answer.headers["Set-Cookie"]


def test_the_platform_serves_a_favicon_over_either_scheme() -> None:
    with FakeIdentityPlatform(browser_port=0) as split, TrustingSession(split.ca_bundle) as http:
        icons = [
            http.get(split.base_url + "/favicon.ico"),
            http.get(split.browser_base_url + "/favicon.ico"),
        ]

    for icon in icons:
        assert icon.status_code == 200
        assert icon.headers["Content-Type"] == "image/svg+xml"
        assert icon.content.startswith(b"<svg ")


def test_msal_refreshes_tokens_with_the_refresh_token(
    platform: FakeIdentityPlatform, contoso: FakeTenant, app: FakeApp, ada: FakeUser
) -> None:
    client = confidential_client(platform, app, platform.authority(contoso))
    flow = client.initiate_auth_code_flow(scopes=["User.Read"], redirect_uri=REDIRECT_URI)
    client.acquire_token_by_auth_code_flow(
        flow, platform.authorize(flow["auth_uri"], user=ada).params
    )

    refreshed = client.acquire_token_silent(
        ["User.Read"], account=client.get_accounts()[0], force_refresh=True
    )

    assert refreshed is not None
    assert "nonce" not in refreshed["id_token_claims"]
    assert refreshed["id_token_claims"]["oid"] == ada.object_id


def test_common_authority_issues_tokens_from_the_users_own_tenant(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    fabrikam: FakeTenant,
    app: FakeApp,
    alan: FakeUser,
) -> None:
    client = confidential_client(platform, app, platform.authority("organizations"))
    flow = client.initiate_auth_code_flow(
        scopes=[], redirect_uri=REDIRECT_URI, response_mode="form_post"
    )

    result = client.acquire_token_by_auth_code_flow(
        flow, platform.authorize(flow["auth_uri"], user=alan).params
    )

    claims = verified_id_token_claims(http, platform, fabrikam, app, result["id_token"])
    assert claims["iss"] == fabrikam.issuer
    assert claims["tid"] == fabrikam.tenant_id


def test_guest_claims_name_the_home_tenant_and_omit_xms_edov_when_unknown(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    fabrikam: FakeTenant,
    app: FakeApp,
) -> None:
    guest = platform.add_user(
        contoso,
        name="Grace Hopper",
        email="grace@fabrikam.example",
        email_verified=None,
        guest=True,
        home_tenant=fabrikam,
        roles=["Reader"],
        groups=["g-1"],
    )

    tokens = sign_in(http, platform, contoso, app, guest)

    claims = verified_id_token_claims(http, platform, contoso, app, tokens["id_token"])
    assert claims["acct"] == 1
    assert claims["idp"] == f"https://sts.windows.net/{fabrikam.tenant_id}/"
    assert claims["roles"] == ["Reader"]
    assert claims["groups"] == ["g-1"]
    assert "xms_edov" not in claims
    assert claims["nonce"] == "nonce-456"


def test_subject_is_pairwise_per_app(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    ada: FakeUser,
) -> None:
    other_app = platform.register_app(redirect_uris=[REDIRECT_URI])

    first = jwt.decode(
        sign_in(http, platform, contoso, app, ada)["id_token"], options={"verify_signature": False}
    )
    again = jwt.decode(
        sign_in(http, platform, contoso, app, ada)["id_token"], options={"verify_signature": False}
    )
    other = jwt.decode(
        sign_in(http, platform, contoso, other_app, ada)["id_token"],
        options={"verify_signature": False},
    )

    assert first["sub"] == again["sub"] != other["sub"]
    assert first["sid"] != again["sid"]  # every programmatic sign-in is a new session


# -- the token endpoint refuses --------------------------------------------------------------


def test_an_authorization_code_is_single_use(
    platform: FakeIdentityPlatform, contoso: FakeTenant, app: FakeApp, ada: FakeUser
) -> None:
    client = confidential_client(platform, app, platform.authority(contoso))
    flow = client.initiate_auth_code_flow(scopes=[], redirect_uri=REDIRECT_URI)
    params = platform.authorize(flow["auth_uri"], user=ada).params
    assert "access_token" in client.acquire_token_by_auth_code_flow(dict(flow), params)

    second = client.acquire_token_by_auth_code_flow(dict(flow), params)

    assert second["error"] == "invalid_grant"
    assert second["error_description"].startswith("AADSTS54005:")


def test_a_wrong_code_verifier_is_rejected(
    platform: FakeIdentityPlatform, contoso: FakeTenant, app: FakeApp, ada: FakeUser
) -> None:
    client = confidential_client(platform, app, platform.authority(contoso))
    flow = client.initiate_auth_code_flow(scopes=[], redirect_uri=REDIRECT_URI)
    params = platform.authorize(flow["auth_uri"], user=ada).params
    flow["code_verifier"] = pkce_pair()[0]

    result = client.acquire_token_by_auth_code_flow(flow, params)

    assert result["error"] == "invalid_grant"
    assert result["error_description"].startswith("AADSTS501481:")


def test_a_wrong_client_secret_is_rejected(
    platform: FakeIdentityPlatform, contoso: FakeTenant, app: FakeApp, ada: FakeUser
) -> None:
    client = confidential_client(
        platform, app, platform.authority(contoso), secret="not-the-secret"
    )
    flow = client.initiate_auth_code_flow(scopes=[], redirect_uri=REDIRECT_URI)

    result = client.acquire_token_by_auth_code_flow(
        flow, platform.authorize(flow["auth_uri"], user=ada).params
    )

    assert result["error"] == "invalid_client"
    assert result["error_description"].startswith("AADSTS7000215:")


def test_http_basic_client_authentication_is_accepted(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    ada: FakeUser,
) -> None:
    url, verifier = authorization_url(platform, contoso, app)
    code = platform.authorize(url, user=ada).params["code"]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }

    wrong = http.post(token_endpoint(platform, contoso), data=form, auth=(app.client_id, "wrong"))
    right = http.post(
        token_endpoint(platform, contoso), data=form, auth=(app.client_id, app.client_secret)
    )

    assert wrong.status_code == 401
    assert right.status_code == 200, right.text


def test_an_expired_authorization_code_is_rejected(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    ada: FakeUser,
) -> None:
    url, verifier = authorization_url(platform, contoso, app)
    code = platform.authorize(url, user=ada).params["code"]
    platform.faults.clock_skew = 601

    response = redeem(http, platform, contoso, app, code, verifier)

    assert response.status_code == 400
    assert response.json()["error_codes"] == [70008]


@pytest.mark.parametrize(
    ("mismatch", "code"),
    [("client", 70000), ("redirect_uri", 500112), ("authority", 70000)],
)
def test_a_code_only_works_for_its_client_redirect_uri_and_authority(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    ada: FakeUser,
    mismatch: str,
    code: int,
) -> None:
    url, verifier = authorization_url(platform, contoso, app)
    authorization_code = platform.authorize(url, user=ada).params["code"]
    other_app = platform.register_app(redirect_uris=[REDIRECT_URI])
    client = other_app if mismatch == "client" else app
    form = {
        "grant_type": "authorization_code",
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "code": authorization_code,
        "redirect_uri": REDIRECT_URI + "other/" if mismatch == "redirect_uri" else REDIRECT_URI,
        "code_verifier": verifier,
    }
    authority = "common" if mismatch == "authority" else contoso

    response = http.post(token_endpoint(platform, authority), data=form)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert response.json()["error_codes"] == [code]


# -- the authorize endpoint refuses, or the user says no -----------------------------------------


def test_a_redirect_uri_without_its_trailing_slash_is_rejected(
    platform: FakeIdentityPlatform, contoso: FakeTenant, app: FakeApp, ada: FakeUser
) -> None:
    url, _ = authorization_url(platform, contoso, app, redirect_uri=REDIRECT_URI.rstrip("/"))

    with pytest.raises(AuthorizationRejected) as rejected:
        platform.authorize(url, user=ada)

    assert rejected.value.error == "invalid_request"
    assert rejected.value.description.startswith("AADSTS50011:")


@pytest.mark.parametrize(
    ("overrides", "error", "code"),
    [
        (
            {"client_id": "00000000-0000-0000-0000-000000000000"},
            "unauthorized_client",
            "AADSTS700016",
        ),
        ({"code_challenge": "", "code_challenge_method": ""}, "invalid_request", "AADSTS900144"),
        ({"code_challenge_method": "plain"}, "invalid_request", "AADSTS9002313"),
        ({"response_type": "token"}, "unsupported_response_type", "AADSTS9002313"),
        ({"scope": "User.Read"}, "invalid_scope", "AADSTS70011"),
        ({"response_mode": "web_message"}, "invalid_request", "AADSTS9002313"),
    ],
)
def test_malformed_authorization_requests_get_an_error_page(
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    ada: FakeUser,
    overrides: dict[str, str],
    error: str,
    code: str,
) -> None:
    url, _ = authorization_url(platform, contoso, app, **overrides)

    with pytest.raises(AuthorizationRejected) as rejected:
        platform.authorize(url, user=ada)

    assert rejected.value.error == error
    assert rejected.value.description.startswith(f"{code}:")


def test_a_user_of_another_tenant_cannot_sign_in_to_a_tenant_authority(
    platform: FakeIdentityPlatform, contoso: FakeTenant, app: FakeApp, alan: FakeUser
) -> None:
    url, _ = authorization_url(platform, contoso, app)

    with pytest.raises(AuthorizationRejected) as rejected:
        platform.authorize(url, user=alan)

    assert rejected.value.description.startswith("AADSTS50020:")


@pytest.mark.parametrize("response_mode", ["query", "form_post"])
def test_cancel_returns_access_denied_to_the_app(
    platform: FakeIdentityPlatform, contoso: FakeTenant, app: FakeApp, response_mode: str
) -> None:
    client = confidential_client(platform, app, platform.authority(contoso))
    flow = client.initiate_auth_code_flow(
        scopes=[], redirect_uri=REDIRECT_URI, response_mode=response_mode
    )

    response = platform.authorize(flow["auth_uri"], cancel=True)

    assert response.method == ("GET" if response_mode == "query" else "POST")
    assert response.params["error"] == "access_denied"
    assert response.params["error_description"].startswith("AADSTS65004:")
    assert response.params["state"] == flow["state"]
    assert client.acquire_token_by_auth_code_flow(flow, response.params)["error"] == "access_denied"


def test_a_disabled_user_gets_access_denied(
    platform: FakeIdentityPlatform, contoso: FakeTenant, app: FakeApp
) -> None:
    disabled = platform.add_user(
        contoso, name="Charles Babbage", email="charles@contoso.example", disabled=True
    )
    url, _ = authorization_url(platform, contoso, app)

    response = platform.authorize(url, user=disabled)

    assert response.params["error"] == "access_denied"
    assert response.params["error_description"].startswith("AADSTS50057:")
    assert "code" not in response.params


@pytest.mark.parametrize(("consent", "outcome"), [(True, "code"), (False, "error")])
def test_required_consent_shows_a_consent_page_first(
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    ada: FakeUser,
    consent: bool,
    outcome: str,
) -> None:
    platform.faults.require_consent = True
    url, _ = authorization_url(platform, contoso, app)

    response = platform.authorize(url, user=ada, consent=consent)

    assert outcome in response.params
    # Sign-in page, chosen account (answered by the consent page), consent answer.
    assert platform.count("authorize") == 3


def test_prompt_none_without_a_session_returns_login_required(
    platform: FakeIdentityPlatform, contoso: FakeTenant, app: FakeApp, ada: FakeUser
) -> None:
    url, _ = authorization_url(platform, contoso, app, prompt="none")

    response = platform.authorize(url, user=ada)

    assert response.params["error"] == "login_required"


# -- the interactive pages --------------------------------------------------------------------


def test_sign_in_page_lists_the_tenants_users_and_a_cancel_button(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    ada: FakeUser,
    alan: FakeUser,
) -> None:
    url, _ = authorization_url(platform, contoso, app)

    page = http.get(url).text

    assert 'data-page="sign-in"' in page
    assert f'data-email="{ada.email}"' in page
    assert f'data-object-id="{ada.object_id}"' in page
    assert f'data-email="{alan.email}"' not in page
    assert 'id="cancel"' in page
    assert app.client_id in page
    assert REDIRECT_URI in page
    assert 'name="state" value="state-123"' in page


def test_common_sign_in_page_lists_users_of_every_tenant(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    app: FakeApp,
    ada: FakeUser,
    alan: FakeUser,
) -> None:
    url, _ = authorization_url(platform, "common", app)

    page = http.get(url).text

    assert f'data-email="{ada.email}"' in page
    assert f'data-email="{alan.email}"' in page


def account_button(page: str, user: FakeUser) -> str:
    """The HTML of ``user``'s button on a sign-in page."""
    start = page.index(f'id="user-{user.object_id}"')
    return page[start : page.index("</button>", start)]


def test_the_account_picker_names_each_accounts_tenant(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    fabrikam: FakeTenant,
    app: FakeApp,
    ada: FakeUser,
    alan: FakeUser,
) -> None:
    guest = platform.add_user(
        contoso,
        name="Guest Example",
        email="guest@fabrikam.example",
        guest=True,
        home_tenant=fabrikam,
    )
    url, _ = authorization_url(platform, "organizations", app)

    page = http.get(url).text

    assert '<small class="tenant">Contoso (contoso.example)</small>' in account_button(page, ada)
    assert '<small class="tenant">Fabrikam (fabrikam.example)</small>' in account_button(page, alan)
    assert "Contoso (contoso.example), guest from Fabrikam" in account_button(page, guest)


def test_the_demo_accounts_differ_in_name_and_email_and_show_their_tenant() -> None:
    with FakeIdentityPlatform() as demo, TrustingSession(demo.ca_bundle) as http:
        add_demo_directory(demo)
        app = demo.register_app(redirect_uris=[REDIRECT_URI])
        url, _ = authorization_url(demo, "organizations", app)
        page = http.get(url).text

    names = [user.name for user in demo.users]
    emails = [user.email for user in demo.users]
    assert len(set(names)) == len(names) == 7
    assert len(set(emails)) == len(emails)
    tenant_names = {tenant.tenant_id: tenant.name for tenant in demo.tenants}
    for user in demo.users:
        button = account_button(page, user)
        assert f">{user.name}<" in button
        assert f'<small class="tenant">{tenant_names[user.tenant_id]} (' in button


def test_browser_session_gives_one_sid_and_logout_loads_every_apps_front_channel_url(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    ada: FakeUser,
) -> None:
    second_app = platform.register_app(
        redirect_uris=[REDIRECT_URI], front_channel_logout_url="https://second.example/logout?x=1"
    )
    sids = []
    for client in (app, second_app):
        # As a browser: load the page, click the account; the cookie carries the session.
        url, verifier = authorization_url(platform, contoso, client)
        form = parse_page(http.get(url).text).forms["sign-in-form"]
        choice = [*form.fields, (USER_FIELD, ada.object_id)]
        answer = http.post(urljoin(url, form.action), data=choice, allow_redirects=False)
        code = query_of(answer.headers["Location"])["code"]
        id_token = redeem(http, platform, contoso, client, code, verifier).json()["id_token"]
        sids.append(jwt.decode(id_token, options={"verify_signature": False})["sid"])
    sid = sids[0]
    assert sids == [sid, sid]
    expected = [
        f"{FRONT_CHANNEL_LOGOUT_URL}?{urlencode({'sid': sid, 'iss': contoso.issuer})}",
        f"https://second.example/logout?x=1&{urlencode({'sid': sid, 'iss': contoso.issuer})}",
    ]
    assert platform.front_channel_logout_requests(sid) == expected

    logout = http.get(
        f"{platform.authority(contoso)}/oauth2/v2.0/logout",
        params={"post_logout_redirect_uri": "http://localhost:8000/"},
    )

    assert logout.status_code == 200
    for front_channel_url in expected:
        assert f'src="{front_channel_url.replace("&", "&amp;")}"' in logout.text
    assert "http://localhost:8000/" in logout.text
    assert "fake_idp_session" not in http.cookies
    assert platform.front_channel_logout_requests(sid) == []


def test_logout_with_an_id_token_hint_ends_that_session(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    ada: FakeUser,
) -> None:
    id_token = sign_in(http, platform, contoso, app, ada)["id_token"]
    sid = jwt.decode(id_token, options={"verify_signature": False})["sid"]
    assert len(platform.front_channel_logout_requests(sid)) == 1

    page = http.get(
        f"{platform.authority(contoso)}/oauth2/v2.0/logout", params={"id_token_hint": id_token}
    ).text

    assert f"sid={sid}" in page
    assert platform.front_channel_logout_requests(sid) == []


# -- faults -----------------------------------------------------------------------------------


def test_token_endpoint_failure_hits_one_request_and_leaves_the_code_redeemable(
    platform: FakeIdentityPlatform, contoso: FakeTenant, app: FakeApp, ada: FakeUser
) -> None:
    flows = []
    for _ in range(2):
        client = confidential_client(platform, app, platform.authority(contoso))
        flow = client.initiate_auth_code_flow(scopes=[], redirect_uri=REDIRECT_URI)
        flows.append((client, flow, platform.authorize(flow["auth_uri"], user=ada).params))
    platform.faults.token_endpoint_status = 500
    platform.faults.token_endpoint_fault_count = 1

    (first_client, first_flow, first_params), (second_client, second_flow, second_params) = flows
    with pytest.raises(MsalServiceError, match="500"):
        first_client.acquire_token_by_auth_code_flow(first_flow, first_params)
    assert "access_token" in second_client.acquire_token_by_auth_code_flow(
        second_flow, second_params
    )
    retry_client = confidential_client(platform, app, platform.authority(contoso))
    assert "access_token" in retry_client.acquire_token_by_auth_code_flow(first_flow, first_params)
    assert platform.faults.token_endpoint_status is None


def test_token_endpoint_throttling_sends_retry_after(
    http: requests.Session, platform: FakeIdentityPlatform, contoso: FakeTenant
) -> None:
    platform.faults.token_endpoint_status = 429
    platform.faults.token_endpoint_retry_after = 7

    response = http.post(
        token_endpoint(platform, contoso), data={"grant_type": "authorization_code"}
    )

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json()["error"] == "temporarily_unavailable"


@pytest.mark.parametrize("status", [None, 502])
def test_token_endpoint_can_answer_with_a_non_json_body(
    http: requests.Session, platform: FakeIdentityPlatform, contoso: FakeTenant, status: int | None
) -> None:
    platform.faults.token_endpoint_body = "<html>oops</html>"
    platform.faults.token_endpoint_status = status

    response = http.post(
        token_endpoint(platform, contoso), data={"grant_type": "authorization_code"}
    )

    assert response.status_code == (status or 200)
    assert response.text == "<html>oops</html>"
    assert response.headers["Content-Type"].startswith("text/html")


def test_token_endpoint_delay_outlasts_a_client_timeout(
    http: requests.Session, platform: FakeIdentityPlatform, contoso: FakeTenant
) -> None:
    platform.faults.token_endpoint_delay = 0.3
    platform.faults.token_endpoint_fault_count = 1

    with pytest.raises(requests.exceptions.ReadTimeout):
        http.post(token_endpoint(platform, contoso), data={"grant_type": "x"}, timeout=0.1)

    # The slow request is still served afterwards; wait for it so it stays in this test.
    deadline = time.monotonic() + 3
    while platform.count("token") == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert platform.count("token") == 1


def test_token_endpoint_fault_count_clears_the_fault_after_that_many_requests(
    http: requests.Session, platform: FakeIdentityPlatform, contoso: FakeTenant
) -> None:
    platform.faults.token_endpoint_status = 503
    platform.faults.token_endpoint_fault_count = 2

    statuses = [
        http.post(
            token_endpoint(platform, contoso), data={"grant_type": "refresh_token"}
        ).status_code
        for _ in range(3)
    ]

    assert statuses == [503, 503, 400]


@pytest.mark.parametrize(
    ("switch", "document"),
    [
        ("keys_endpoint_status", "discovery/v2.0/keys"),
        ("metadata_status", "v2.0/.well-known/openid-configuration"),
    ],
)
def test_discovery_documents_can_fail(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    switch: str,
    document: str,
) -> None:
    setattr(platform.faults, switch, 500)

    response = http.get(f"{platform.authority(contoso)}/{document}")

    assert response.status_code == 500
    assert response.json()["error"] == "server_error"


def test_msal_cannot_start_while_the_metadata_endpoint_fails(
    platform: FakeIdentityPlatform, contoso: FakeTenant, app: FakeApp
) -> None:
    platform.faults.metadata_status = 503

    with pytest.raises(MsalServiceError, match="503"):
        confidential_client(platform, app, platform.authority(contoso))


def test_msal_rejects_an_unknown_tenant(platform: FakeIdentityPlatform, app: FakeApp) -> None:
    with pytest.raises(ValueError, match="Unable to get authority configuration"):
        confidential_client(platform, app, platform.authority("nowhere.example"))


@pytest.mark.parametrize(
    "signing", ["wrong_key", "unknown_kid", "alg_none", "hs256", "hs256_client_secret"]
)
def test_forged_id_tokens_fail_rs256_verification_against_the_jwks(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    ada: FakeUser,
    signing: Any,
) -> None:
    platform.faults.id_token_signing = signing

    id_token = sign_in(http, platform, contoso, app, ada)["id_token"]

    header = jwt.get_unverified_header(id_token)
    published = {key.key_id for key in published_keys(http, platform, contoso).keys}
    with pytest.raises(jwt.PyJWTError):
        verified_id_token_claims(http, platform, contoso, app, id_token)
    signing_input, _, signature = id_token.rpartition(".")
    if signing == "wrong_key":
        assert header["kid"] in published
    elif signing == "unknown_kid":
        assert header["kid"] not in published
    elif signing == "alg_none":
        assert (header["alg"], signature) == ("none", "")
    else:
        assert header["alg"] == "HS256"
        (published_key,) = published_keys(http, platform, contoso).keys
        public_pem = published_key.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        secret = public_pem if signing == "hs256" else app.client_secret.encode()
        expected = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        assert base64.urlsafe_b64encode(expected).rstrip(b"=").decode() == signature


def test_id_token_claims_can_be_overridden_and_removed(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    ada: FakeUser,
) -> None:
    platform.faults.id_token_claims_override = {
        "iss": "https://evil.example/",
        "aud": "other",
        "exp": 1,
    }
    platform.faults.id_token_claims_remove = {"tid", "nonce"}

    id_token = sign_in(http, platform, contoso, app, ada)["id_token"]

    claims = jwt.decode(id_token, options={"verify_signature": False})
    assert (claims["iss"], claims["aud"], claims["exp"]) == ("https://evil.example/", "other", 1)
    assert "tid" not in claims
    assert "nonce" not in claims
    with pytest.raises(jwt.InvalidTokenError):
        verified_id_token_claims(http, platform, contoso, app, id_token)


@pytest.mark.parametrize("keep_old", [False, True])
def test_key_rotation_signs_with_a_new_kid(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    ada: FakeUser,
    keep_old: bool,
) -> None:
    old_token = sign_in(http, platform, contoso, app, ada)["id_token"]
    old_kid = jwt.get_unverified_header(old_token)["kid"]

    new_kid = platform.rotate_signing_key(keep_old=keep_old)

    new_token = sign_in(http, platform, contoso, app, ada)["id_token"]
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid != old_kid
    verified_id_token_claims(http, platform, contoso, app, new_token)
    published = {key.key_id for key in published_keys(http, platform, contoso).keys}
    assert published == ({new_kid, old_kid} if keep_old else {new_kid})


# -- groups, overage and Microsoft Graph ------------------------------------------------------


def unverified_claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def member_of_url(platform: FakeIdentityPlatform, **options: str) -> str:
    query = "&".join(f"${name}={value}" for name, value in options.items())
    return f"{platform.graph_url}/v1.0/me/transitiveMemberOf" + (f"?{query}" if query else "")


def graph_get(http: requests.Session, url: str, token: str | None, **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return http.get(url, headers=headers, **kwargs)


def graph_pages(http: requests.Session, url: str, token: str) -> list[dict[str, Any]]:
    """Every page from ``url`` on, following ``@odata.nextLink`` as a client does."""
    pages: list[dict[str, Any]] = []
    next_url: str | None = url
    while next_url is not None:
        assert len(pages) < 50, "paging does not end"
        response = graph_get(http, next_url, token)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        next_url = pages[-1].get("@odata.nextLink")
    return pages


def listed(pages: list[dict[str, Any]], odata_type: str = "#microsoft.graph.group") -> list[str]:
    return [m["id"] for page in pages for m in page["value"] if m["@odata.type"] == odata_type]


@pytest.fixture
def engineering(platform: FakeIdentityPlatform, contoso: FakeTenant) -> list[FakeGroup]:
    """Three groups nested in a line: platform team < engineering < staff (new per test)."""
    staff = platform.add_group(contoso, "Staff")
    division = platform.add_group(contoso, "Engineering", member_of=[staff])
    team = platform.add_group(contoso, "Platform team", member_of=[division.object_id])
    return [team, division, staff]


def test_the_groups_claim_carries_every_group_reachable_through_nesting(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    engineering: list[FakeGroup],
) -> None:
    team, division, staff = engineering
    # Directly in the team and, again, in its parent; plus an id the platform does not know.
    user = platform.add_user(
        contoso, name="Nested Member", groups=[team, division.object_id, "loose-group-id"]
    )

    tokens = sign_in(http, platform, contoso, app, user)

    claims = verified_id_token_claims(http, platform, contoso, app, tokens["id_token"])
    assert claims["groups"] == [
        team.object_id,
        division.object_id,
        "loose-group-id",
        staff.object_id,
    ]
    assert platform.transitive_group_ids(user) == tuple(claims["groups"])
    assert not {"hasgroups", "_claim_names", "_claim_sources"} & claims.keys()


def test_nesting_is_read_at_every_sign_in_and_a_cycle_of_groups_ends(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    engineering: list[FakeGroup],
) -> None:
    team, division, staff = engineering
    user = platform.add_user(contoso, name="Cycle Member", groups=[division])
    staff.member_of = (team.object_id,)  # staff < team < engineering < staff

    claims = unverified_claims(sign_in(http, platform, contoso, app, user)["id_token"])

    assert claims["groups"] == [division.object_id, staff.object_id, team.object_id]


def test_a_user_in_no_group_gets_no_groups_claim(
    http: requests.Session, platform: FakeIdentityPlatform, contoso: FakeTenant, app: FakeApp
) -> None:
    user = platform.add_user(contoso, name="No Groups", roles=["Reader"])

    claims = unverified_claims(sign_in(http, platform, contoso, app, user)["id_token"])

    assert claims["roles"] == ["Reader"]
    assert not {"groups", "hasgroups", "_claim_names", "_claim_sources"} & claims.keys()


@pytest.mark.parametrize("overage_claim", ["claim_sources", "hasgroups"])
def test_past_the_overage_limit_the_id_token_leaves_groups_out_and_says_so(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    engineering: list[FakeGroup],
    overage_claim: Any,
) -> None:
    team, division, staff = engineering
    platform.group_overage_limit = 3
    platform.faults.overage_claim = overage_claim
    at_the_limit = platform.add_user(contoso, name="Three Groups", groups=[team])
    # One direct group, but four with nesting: nesting alone takes the user past the limit.
    past_it = platform.add_user(contoso, name="Four Groups", groups=[team, "extra-group"])

    fitting = unverified_claims(sign_in(http, platform, contoso, app, at_the_limit)["id_token"])
    overage = verified_id_token_claims(
        http, platform, contoso, app, sign_in(http, platform, contoso, app, past_it)["id_token"]
    )

    assert fitting["groups"] == [team.object_id, division.object_id, staff.object_id]
    assert "groups" not in overage
    if overage_claim == "claim_sources":
        assert overage["_claim_names"] == {"groups": "src1"}
        assert overage["_claim_sources"] == {
            "src1": {
                "endpoint": f"{platform.graph_url}/v1.0/users/{past_it.object_id}/getMemberObjects"
            }
        }
        assert "hasgroups" not in overage
    else:
        assert overage["hasgroups"] is True
        assert not {"_claim_names", "_claim_sources"} & overage.keys()


def test_entras_limit_of_200_groups_is_the_default_and_reset_faults_restores_it(
    http: requests.Session, platform: FakeIdentityPlatform, contoso: FakeTenant, app: FakeApp
) -> None:
    two_hundred = platform.add_user(
        contoso, name="Two Hundred", groups=[f"group-{n}" for n in range(200)]
    )
    two_hundred_and_one = platform.add_user(
        contoso, name="Two Hundred One", groups=[f"group-{n}" for n in range(201)]
    )
    platform.group_overage_limit = 1
    platform.graph_page_size = 2

    platform.reset_faults()

    restored: tuple[int, int | None] = (platform.group_overage_limit, platform.graph_page_size)
    assert restored == (200, None)
    full = unverified_claims(sign_in(http, platform, contoso, app, two_hundred)["id_token"])
    over = unverified_claims(sign_in(http, platform, contoso, app, two_hundred_and_one)["id_token"])
    assert len(full["groups"]) == 200
    assert "groups" not in over
    assert "_claim_sources" in over


def test_msal_token_reads_the_users_groups_from_graph_across_several_pages(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    engineering: list[FakeGroup],
) -> None:
    team, division, staff = engineering
    project = platform.add_group(contoso, "Project")
    member = platform.add_user(
        contoso,
        name="Graph Member",
        groups=[team, project, "loose-group-id"],
        directory_roles=["Global Reader"],
    )
    other = platform.add_user(contoso, name="Graph Other", groups=[project])
    client = confidential_client(platform, app, platform.authority(contoso))
    flow = client.initiate_auth_code_flow(scopes=["User.Read"], redirect_uri=REDIRECT_URI)
    result = client.acquire_token_by_auth_code_flow(
        flow, platform.authorize(flow["auth_uri"], user=member).params
    )
    other_token = sign_in(http, platform, contoso, app, other)["access_token"]
    platform.graph_page_size = 2
    platform.clear_requests()

    pages = graph_pages(
        http, member_of_url(platform, select="id", top="999"), result["access_token"]
    )
    other_pages = graph_pages(http, member_of_url(platform), other_token)

    expected: list[FakeGroup | str] = [team, project, "loose-group-id", division, staff]
    assert listed(pages) == [g if isinstance(g, str) else g.object_id for g in expected]
    (role,) = [m for page in pages for m in page["value"] if "directoryRole" in m["@odata.type"]]
    assert role["@odata.type"] == "#microsoft.graph.directoryRole"
    assert [len(page["value"]) for page in pages] == [2, 2, 2]
    assert all(set(m) == {"@odata.type", "id"} for page in pages for m in page["value"])
    for page in pages[:-1]:
        link = page["@odata.nextLink"]
        assert link.startswith(f"{platform.graph_url}/v1.0/me/transitiveMemberOf?")
        assert "$select=id" in link
        assert "$top=999" in link
        assert "$skiptoken=" in link
    assert "@odata.nextLink" not in pages[-1]
    assert other_pages == [
        {
            "@odata.context": f"{platform.graph_url}/v1.0/$metadata#directoryObjects",
            "value": [
                {
                    "@odata.type": "#microsoft.graph.group",
                    "id": project.object_id,
                    "displayName": "Project",
                }
            ],
        }
    ]
    assert platform.count("graph") == 4
    assert [r.path for r in platform.requests] == ["/graph/v1.0/me/transitiveMemberOf"] * 4
    platform.clear_requests()
    assert platform.count("graph") == 0


@pytest.mark.parametrize(("top", "first_page"), [(None, 100), ("999", 130), ("7", 7)])
def test_graph_pages_hold_100_members_by_default_and_top_asks_up_to_999(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    top: str | None,
    first_page: int,
) -> None:
    user = platform.add_user(contoso, name="Many Groups", groups=[f"g-{n}" for n in range(130)])
    token = sign_in(http, platform, contoso, app, user)["access_token"]

    url = member_of_url(platform, top=top) if top else member_of_url(platform)
    pages = graph_pages(http, url, token)

    assert len(pages[0]["value"]) == first_page
    assert listed(pages) == [f"g-{n}" for n in range(130)]


@pytest.mark.parametrize("top", ["0", "1000", "-1", "ten"])
def test_graph_refuses_a_page_size_outside_1_to_999(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    ada: FakeUser,
    top: str,
) -> None:
    token = sign_in(http, platform, contoso, app, ada)["access_token"]

    response = graph_get(http, member_of_url(platform, top=top), token)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadRequest"


def test_a_skiptoken_only_resumes_the_list_it_was_issued_for(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    ada: FakeUser,
) -> None:
    paged = platform.add_user(contoso, name="Paged", groups=["a", "b", "c"])
    token = sign_in(http, platform, contoso, app, paged)["access_token"]
    ada_token = sign_in(http, platform, contoso, app, ada)["access_token"]
    platform.graph_page_size = 1
    next_link = graph_get(http, member_of_url(platform), token).json()["@odata.nextLink"]
    skiptoken = query_of(next_link)["$skiptoken"]
    mac = skiptoken.rpartition(".")[2]
    forged = base64.urlsafe_b64encode(json.dumps([paged.object_id, 0, 2]).encode()).decode()

    answers = {
        "own": graph_get(http, next_link, token),
        "another user's": graph_get(http, next_link, ada_token),
        "forged": graph_get(http, member_of_url(platform, skiptoken=f"{forged}.{mac}"), token),
    }

    assert answers["own"].status_code == 200
    assert listed([answers["own"].json()]) == ["b"]
    assert answers["another user's"].status_code == 400
    assert answers["forged"].status_code == 400


def foreign_signed(token: str) -> str:
    """``token``'s header and claims, signed by a key the platform never published."""
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    header = jwt.get_unverified_header(token)
    return jwt.encode(unverified_claims(token), impostor, algorithm="RS256", headers=header)


@pytest.mark.parametrize(
    "presented",
    [
        "no header",
        "empty bearer",
        "basic credentials",
        "not a jwt",
        "foreign-signed",
        "id_token",
        "id_token with graph audience",
        "expired",
    ],
)
def test_graph_refuses_a_missing_or_invalid_token(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    ada: FakeUser,
    presented: str,
) -> None:
    if presented == "id_token with graph audience":
        platform.faults.id_token_claims_override = {"aud": "00000003-0000-0000-c000-000000000000"}
    tokens = sign_in(http, platform, contoso, app, ada)
    headers = {
        "no header": {},
        "empty bearer": {"Authorization": "Bearer "},
        "basic credentials": {"Authorization": "Basic dXNlcjpwYXNz"},
        "not a jwt": {"Authorization": "Bearer not-a-jwt"},
        "foreign-signed": {"Authorization": f"Bearer {foreign_signed(tokens['access_token'])}"},
        "id_token": {"Authorization": f"Bearer {tokens['id_token']}"},
        "id_token with graph audience": {"Authorization": f"Bearer {tokens['id_token']}"},
        "expired": {"Authorization": f"Bearer {tokens['access_token']}"},
    }[presented]
    if presented == "expired":
        platform.faults.clock_skew = 3600  # the token's whole lifetime later

    response = http.get(member_of_url(platform, select="id"), headers=headers)

    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken"
    assert error["message"]
    assert {"date", "request-id", "client-request-id"} <= error["innerError"].keys()
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    if presented == "expired":
        assert "expired" in error["message"]


def test_a_refreshed_access_token_reads_graph_too(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    engineering: list[FakeGroup],
) -> None:
    user = platform.add_user(contoso, name="Refreshing Member", groups=[engineering[0]])
    refresh_token = sign_in(http, platform, contoso, app, user)["refresh_token"]
    refreshed = http.post(
        token_endpoint(platform, contoso),
        data={
            "grant_type": "refresh_token",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "refresh_token": refresh_token,
        },
    ).json()

    pages = graph_pages(http, member_of_url(platform), refreshed["access_token"])

    assert listed(pages) == [group.object_id for group in engineering]


def test_the_overage_claims_endpoint_answers_every_membership_id(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    ada: FakeUser,
    engineering: list[FakeGroup],
) -> None:
    platform.group_overage_limit = 1
    user = platform.add_user(
        contoso, name="Overage Member", groups=[engineering[0]], directory_roles=["Global Reader"]
    )
    tokens = sign_in(http, platform, contoso, app, user)
    endpoint = unverified_claims(tokens["id_token"])["_claim_sources"]["src1"]["endpoint"]
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}

    security = http.post(endpoint, json={"securityEnabledOnly": True}, headers=bearer)
    everything = http.post(endpoint, json={"securityEnabledOnly": False}, headers=bearer)
    no_flag = http.post(endpoint, json={}, headers=bearer)
    someone_else = http.post(
        endpoint.replace(user.object_id, ada.object_id),
        json={"securityEnabledOnly": True},
        headers=bearer,
    )

    group_ids = [group.object_id for group in engineering]
    assert security.json()["value"] == group_ids
    assert everything.json()["value"][:3] == group_ids
    assert len(everything.json()["value"]) == 4  # and the directory role
    assert no_flag.status_code == 400
    assert someone_else.status_code == 403
    assert someone_else.json()["error"]["code"] == "Authorization_RequestDenied"
    assert platform.count("graph") == 4


@pytest.mark.parametrize(
    ("status", "retry_after", "code"),
    [(500, None, "generalException"), (503, 4, "serviceNotAvailable"), (429, 7, "TooManyRequests")],
)
def test_graph_can_fail_with_a_status_and_retry_after(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    ada: FakeUser,
    status: int,
    retry_after: int | None,
    code: str,
) -> None:
    token = sign_in(http, platform, contoso, app, ada)["access_token"]
    platform.faults.graph_status = status
    platform.faults.graph_retry_after = retry_after

    response = graph_get(http, member_of_url(platform), token)

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.headers.get("Retry-After") == (str(retry_after) if retry_after else None)
    platform.reset_faults()
    assert graph_get(http, member_of_url(platform), token).status_code == 200


def test_a_graph_outage_answers_before_the_token_is_looked_at(
    http: requests.Session, platform: FakeIdentityPlatform
) -> None:
    platform.faults.graph_status = 503

    assert graph_get(http, member_of_url(platform), None).status_code == 503


def test_graph_delay_outlasts_a_client_timeout(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    ada: FakeUser,
) -> None:
    token = sign_in(http, platform, contoso, app, ada)["access_token"]
    platform.clear_requests()
    platform.faults.graph_delay = 0.3

    with pytest.raises(requests.exceptions.ReadTimeout):
        graph_get(http, member_of_url(platform), token, timeout=0.1)

    # The slow request is still answered, normally; wait for it so it stays in this test.
    deadline = time.monotonic() + 3
    while platform.count("graph") == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [(r.endpoint, r.status) for r in platform.requests] == [("graph", 200)]


@pytest.mark.parametrize("malformed", ["not_json", "no_value", "value_not_list"])
def test_graph_can_answer_a_malformed_page(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    engineering: list[FakeGroup],
    malformed: Any,
) -> None:
    user = platform.add_user(contoso, name="Malformed Reader", groups=[engineering[0]])
    token = sign_in(http, platform, contoso, app, user)["access_token"]
    platform.faults.graph_malformed = malformed

    response = graph_get(http, member_of_url(platform, select="id"), token)

    assert response.status_code == 200
    if malformed == "not_json":
        assert response.headers["Content-Type"].startswith("text/html")
        with pytest.raises(requests.exceptions.JSONDecodeError):
            response.json()
    elif malformed == "no_value":
        assert "value" not in response.json()
    else:
        value = response.json()["value"]
        assert isinstance(value, dict)
        assert set(value) == {group.object_id for group in engineering}


def test_a_next_link_to_another_host_reaches_the_fake_under_another_name(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    engineering: list[FakeGroup],
) -> None:
    user = platform.add_user(contoso, name="Foreign Link", groups=[engineering[0]])
    token = sign_in(http, platform, contoso, app, user)["access_token"]
    platform.graph_page_size = 2
    platform.faults.graph_malformed = "foreign_next_link"
    platform.faults.graph_fault_page = 1
    platform.clear_requests()

    first = graph_get(http, member_of_url(platform, select="id"), token).json()
    link = urlsplit(first["@odata.nextLink"])
    followed = graph_get(http, first["@odata.nextLink"], token)

    assert listed([first]) == [group.object_id for group in engineering[:2]]
    assert link.hostname == "localhost" != urlsplit(platform.graph_url).hostname
    assert link.port == urlsplit(platform.graph_url).port
    assert link.path == "/graph/v1.0/me/transitiveMemberOf"
    # A client that follows it really sends its token there, and the log shows it.
    assert listed([followed.json()]) == [engineering[2].object_id]
    assert platform.count("graph") == 2


@pytest.mark.parametrize("fault", ["status", "malformed"])
def test_a_graph_fault_on_page_n_leaves_the_pages_before_it_alone(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    app: FakeApp,
    engineering: list[FakeGroup],
    fault: str,
) -> None:
    user = platform.add_user(contoso, name="Page Two Fails", groups=[engineering[0]])
    token = sign_in(http, platform, contoso, app, user)["access_token"]
    platform.graph_page_size = 1
    platform.faults.graph_fault_page = 2
    if fault == "status":
        platform.faults.graph_status = 503
    else:
        platform.faults.graph_malformed = "no_value"

    first = graph_get(http, member_of_url(platform), token)
    second = graph_get(http, first.json()["@odata.nextLink"], token)
    platform.reset_faults()
    platform.graph_page_size = 1
    retried = graph_get(http, first.json()["@odata.nextLink"], token)

    assert first.status_code == 200
    assert listed([first.json()]) == [engineering[0].object_id]
    if fault == "status":
        assert second.status_code == 503
    else:
        assert "value" not in second.json()
    assert listed([retried.json()]) == [engineering[1].object_id]


def test_groups_are_checked_when_they_are_added(
    platform: FakeIdentityPlatform, contoso: FakeTenant, fabrikam: FakeTenant
) -> None:
    contoso_group = platform.add_group(contoso, "Contoso only")
    fabrikam_group = platform.add_group(fabrikam, "Fabrikam only", object_id="fab-group-1")

    with pytest.raises(ValueError, match="no group"):
        platform.add_group(contoso, "Child", member_of=["no-such-group"])
    with pytest.raises(ValueError, match="no group"):
        platform.add_group(contoso, "Child", member_of=[fabrikam_group])
    with pytest.raises(ValueError, match="not in the user's tenant"):
        platform.add_user(contoso, name="Wrong Group", groups=[fabrikam_group])
    with pytest.raises(ValueError, match="taken"):
        platform.add_group(contoso, "Duplicate", object_id="FAB-GROUP-1")
    with pytest.raises(ValueError, match="taken"):
        platform.add_user(contoso, name="Same id", object_id=contoso_group.object_id)
    with pytest.raises(ValueError, match="cannot name a tenant"):
        platform.add_tenant("Graph", "graph")
    assert contoso_group in platform.groups
    assert (contoso_group.tenant_id, contoso_group.member_of) == (contoso.tenant_id, ())


def test_the_demo_nests_groups_and_has_one_user_in_group_overage() -> None:
    with FakeIdentityPlatform() as demo, TrustingSession(demo.ca_bundle) as http:
        add_demo_directory(demo)
        app = demo.register_app(redirect_uris=[REDIRECT_URI])
        contoso = next(tenant for tenant in demo.tenants if tenant.name == "Contoso")
        users = {user.name: user for user in demo.users}
        ada_tokens = sign_in(http, demo, contoso, app, users["Ada Lovelace"])
        dorothy_tokens = sign_in(http, demo, contoso, app, users["Dorothy Vaughan"])
        dorothy_pages = graph_pages(
            http, member_of_url(demo, select="id", top="999"), dorothy_tokens["access_token"]
        )
        state = state_document(demo, app.client_id)
    with FakeIdentityPlatform() as again:
        add_demo_directory(again)
        ids_again = {group.name: group.object_id for group in again.groups}

    names = {group.object_id: group.name for group in demo.groups}
    ada_claims = unverified_claims(ada_tokens["id_token"])
    dorothy_claims = unverified_claims(dorothy_tokens["id_token"])
    assert ada_claims["roles"] == ["Admin"]
    assert [names[g] for g in ada_claims["groups"]] == [
        "Platform team",
        "Engineering",
        "Contoso staff",
    ]
    assert len(users["Dorothy Vaughan"].groups) == DEMO_PROJECT_GROUPS + 1 <= 200
    assert "groups" not in dorothy_claims
    assert "_claim_sources" in dorothy_claims
    dorothy_groups = listed(dorothy_pages)
    assert len(dorothy_groups) == DEMO_PROJECT_GROUPS + 4 > demo.group_overage_limit == 200
    assert {"Platform team", "Engineering", "Projects", "Contoso staff"} <= {
        names[g] for g in dorothy_groups
    }
    assert len(listed(dorothy_pages, "#microsoft.graph.directoryRole")) == 1
    assert ids_again == {group.name: group.object_id for group in demo.groups}
    overage = {user["name"]: user["group_overage"] for user in state["users"]}  # type: ignore[attr-defined]
    assert [name for name, flag in overage.items() if flag] == ["Dorothy Vaughan"]


# -- access tokens for an API ----------------------------------------------------------------

SPA_REDIRECT_URI = "http://localhost:3000/"
API_SCOPE = "access_as_user"
OPTIONAL_CLAIMS = ("idtyp", "email", "xms_edov")


@pytest.fixture(scope="module")
def katherine(platform: FakeIdentityPlatform, contoso: FakeTenant) -> FakeUser:
    return platform.add_user(
        contoso,
        name="Katherine Johnson",
        email="katherine@contoso.example",
        given_name="Katherine",
        family_name="Johnson",
        roles=["Orders.Approver"],
    )


@pytest.fixture(scope="module")
def spa(platform: FakeIdentityPlatform) -> FakeApp:
    return platform.register_app(redirect_uris=[SPA_REDIRECT_URI], public_client=True)


@pytest.fixture(scope="module")
def daemon(platform: FakeIdentityPlatform) -> FakeApp:
    return platform.register_app()


def orders_api(platform: FakeIdentityPlatform, version: Any, **options: Any) -> FakeApp:
    """A new app registration exposing an API, in the access token format ``version``."""
    registration = platform.register_app()
    options.setdefault("scopes", [API_SCOPE, "Orders.Read"])
    options.setdefault("app_roles", ["Orders.Sync", "Orders.Purge"])
    options.setdefault("optional_claims", OPTIONAL_CLAIMS)
    platform.expose_api(registration, access_token_version=version, **options)
    return registration


def public_client(
    platform: FakeIdentityPlatform, app: FakeApp, authority: str
) -> msal.PublicClientApplication:
    return msal.PublicClientApplication(
        app.client_id,
        authority=authority,
        instance_discovery=False,
        http_client=TrustingSession(platform.ca_bundle),
    )


def expected_issuer(tenant: FakeTenant, version: int) -> str:
    return tenant.issuer if version == 2 else f"https://sts.windows.net/{tenant.tenant_id}/"


def verified_access_token_claims(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    tenant: FakeTenant,
    token: str,
    *,
    audience: str,
    issuer: str,
) -> dict[str, Any]:
    """Validate like an API should: published key by kid, RS256 only, aud, iss, lifetime."""
    return verified_claims(
        http,
        platform,
        tenant,
        token,
        audience=audience,
        issuer=issuer,
        required=("exp", "nbf", "iat", "aud", "iss", "tid", "oid", "uti"),
    )


def sign_in_to_api(
    platform: FakeIdentityPlatform,
    tenant: FakeTenant,
    client_app: FakeApp,
    user: FakeUser,
    scopes: list[str],
) -> tuple[msal.PublicClientApplication, dict[str, Any]]:
    """A public client's whole sign-in with msal (PKCE, no secret); returns msal's result."""
    client = public_client(platform, client_app, platform.authority(tenant))
    flow = client.initiate_auth_code_flow(scopes=scopes, redirect_uri=SPA_REDIRECT_URI)
    result = client.acquire_token_by_auth_code_flow(
        flow, platform.authorize(flow["auth_uri"], user=user).params
    )
    assert "error" not in result, result
    return client, result


@pytest.mark.parametrize("version", [2, 1])
def test_a_public_client_signs_in_with_pkce_and_gets_an_access_token_for_the_api(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    spa: FakeApp,
    katherine: FakeUser,
    version: int,
) -> None:
    api = orders_api(platform, version)
    assert api.api is not None
    scope = f"{api.api.identifier_uri}/{API_SCOPE}"

    client, result = sign_in_to_api(platform, contoso, spa, katherine, [scope])

    assert api.api.identifier_uri == f"api://{api.client_id}"
    audience = api.client_id if version == 2 else api.api.identifier_uri
    claims = verified_access_token_claims(
        http,
        platform,
        contoso,
        result["access_token"],
        audience=audience,
        issuer=expected_issuer(contoso, version),
    )
    assert claims["ver"] == f"{version}.0"
    assert claims["tid"] == contoso.tenant_id
    assert claims["oid"] == katherine.object_id
    assert claims["scp"] == API_SCOPE
    assert claims["roles"] == ["Orders.Approver"]
    assert claims["name"] == "Katherine Johnson"
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["nbf"] == claims["iat"]
    assert claims["idtyp"] == "user"
    assert claims["email"] == "katherine@contoso.example"
    assert claims["xms_edov"] is True
    assert claims["sub"] != result["id_token_claims"]["sub"]  # pairwise: the API's, not the SPA's
    if version == 2:
        assert (claims["azp"], claims["azpacr"]) == (spa.client_id, "0")
        assert claims["preferred_username"] == "katherine@contoso.example"
        assert not {"appid", "appidacr", "upn", "unique_name"} & claims.keys()
    else:
        assert (claims["appid"], claims["appidacr"]) == (spa.client_id, "0")
        assert claims["upn"] == claims["unique_name"] == "katherine@contoso.example"
        assert (claims["given_name"], claims["family_name"]) == ("Katherine", "Johnson")
        assert not {"azp", "azpacr", "preferred_username"} & claims.keys()
    assert scope in result["scope"].split()
    assert result["id_token_claims"]["aud"] == spa.client_id
    assert "refresh_token" in result
    token_requests = [r for r in platform.requests if r.endpoint == "token"]
    assert [r.status for r in token_requests] == [200]
    cached = client.acquire_token_silent([scope], account=client.get_accounts()[0])
    assert cached is not None
    assert cached["access_token"] == result["access_token"]


@pytest.mark.parametrize("version", [1, 2])
def test_the_audience_of_a_v1_token_is_the_api_as_the_client_named_it(
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    spa: FakeApp,
    ada: FakeUser,
    version: int,
) -> None:
    api = orders_api(platform, version, identifier_uri=f"https://orders-{version}.contoso.example")

    _, by_uri = sign_in_to_api(
        platform, contoso, spa, ada, [f"https://orders-{version}.contoso.example/Orders.Read"]
    )
    _, by_client_id = sign_in_to_api(platform, contoso, spa, ada, [f"{api.client_id}/Orders.Read"])

    audiences = [unverified_claims(r["access_token"])["aud"] for r in (by_uri, by_client_id)]
    if version == 1:
        assert audiences == [f"https://orders-{version}.contoso.example", api.client_id]
    else:
        assert audiences == [api.client_id, api.client_id]


def test_every_token_has_its_own_uti_and_a_refresh_token_serves_any_resource(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    spa: FakeApp,
    katherine: FakeUser,
) -> None:
    api = orders_api(platform, 2)
    scope = f"api://{api.client_id}/{API_SCOPE}"
    client, first = sign_in_to_api(platform, contoso, spa, katherine, [scope])
    account = client.get_accounts()[0]

    refreshed = client.acquire_token_silent([scope], account=account, force_refresh=True)
    for_graph = client.acquire_token_silent(["User.Read"], account=account)

    assert refreshed is not None
    assert for_graph is not None
    first_claims, refreshed_claims = (
        unverified_claims(result["access_token"]) for result in (first, refreshed)
    )
    assert first_claims["uti"] != refreshed_claims["uti"]
    assert refreshed_claims["aud"] == api.client_id
    assert refreshed_claims["azp"] == spa.client_id
    graph_claims = unverified_claims(for_graph["access_token"])
    assert graph_claims["aud"] == "00000003-0000-0000-c000-000000000000"
    assert graph_claims["scp"] == "User.Read"
    assert graph_get(http, member_of_url(platform), for_graph["access_token"]).status_code == 200
    # An API's token is no Graph token.
    assert graph_get(http, member_of_url(platform), refreshed["access_token"]).status_code == 401


def test_the_default_scope_grants_every_delegated_scope_of_the_api(
    platform: FakeIdentityPlatform, contoso: FakeTenant, spa: FakeApp, ada: FakeUser
) -> None:
    api = orders_api(platform, 2)

    _, result = sign_in_to_api(platform, contoso, spa, ada, [f"api://{api.client_id}/.default"])

    assert unverified_claims(result["access_token"])["scp"] == f"{API_SCOPE} Orders.Read"
    assert {f"api://{api.client_id}/{API_SCOPE}", f"api://{api.client_id}/Orders.Read"} <= set(
        result["scope"].split()
    )


def test_optional_claims_are_left_out_unless_the_api_asks_for_them(
    platform: FakeIdentityPlatform, contoso: FakeTenant, spa: FakeApp, ada: FakeUser
) -> None:
    api = platform.register_app()
    exposed = platform.expose_api(api)

    _, result = sign_in_to_api(platform, contoso, spa, ada, [f"api://{api.client_id}/{API_SCOPE}"])

    claims = unverified_claims(result["access_token"])
    assert (exposed.access_token_version, exposed.scopes) == (1, (API_SCOPE,))
    assert exposed.optional_claims == ("idtyp",)
    assert claims["ver"] == "1.0"
    assert claims["idtyp"] == "user"
    assert not {"email", "xms_edov", "roles"} & claims.keys()


def test_a_code_for_two_resources_is_redeemed_for_one_at_a_time(
    platform: FakeIdentityPlatform, contoso: FakeTenant, spa: FakeApp, ada: FakeUser
) -> None:
    api = orders_api(platform, 2)
    scope = f"api://{api.client_id}/{API_SCOPE}"
    client = public_client(platform, spa, platform.authority(contoso))
    flow = client.initiate_auth_code_flow(
        scopes=[scope, "User.Read"], redirect_uri=SPA_REDIRECT_URI
    )
    params = platform.authorize(flow["auth_uri"], user=ada).params
    again = client.initiate_auth_code_flow(
        scopes=[scope, "User.Read"], redirect_uri=SPA_REDIRECT_URI
    )
    params_again = platform.authorize(again["auth_uri"], user=ada).params

    mixed = client.acquire_token_by_auth_code_flow(flow, params)
    one = client.acquire_token_by_auth_code_flow(again, params_again, scopes=[scope])

    assert mixed["error"] == "invalid_scope"
    assert mixed["error_description"].startswith("AADSTS28000:")
    assert "error" not in one, one
    assert unverified_claims(one["access_token"])["aud"] == api.client_id


@pytest.mark.parametrize("how", ["form", "basic"])
def test_a_public_client_that_sends_a_secret_is_refused(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    spa: FakeApp,
    ada: FakeUser,
    how: str,
) -> None:
    url, verifier = authorization_url(
        platform, contoso, spa, redirect_uri=SPA_REDIRECT_URI, scope="openid"
    )
    code = platform.authorize(url, user=ada).params["code"]
    form = {
        "grant_type": "authorization_code",
        "client_id": spa.client_id,
        "code": code,
        "redirect_uri": SPA_REDIRECT_URI,
        "code_verifier": verifier,
    }
    if how == "form":
        response = http.post(token_endpoint(platform, contoso), data={**form, "client_secret": "x"})
    else:
        response = http.post(
            token_endpoint(platform, contoso), data=form, auth=(spa.client_id, "x")
        )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.json()["error_codes"] == [700025]


@pytest.mark.parametrize(
    ("verifier", "error", "code"),
    [(None, "invalid_request", 900144), ("wrong", "invalid_grant", 501481)],
)
def test_a_public_client_redeems_its_code_only_with_the_pkce_verifier(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    spa: FakeApp,
    ada: FakeUser,
    verifier: str | None,
    error: str,
    code: int,
) -> None:
    url, _ = authorization_url(platform, contoso, spa, redirect_uri=SPA_REDIRECT_URI)
    form = {
        "grant_type": "authorization_code",
        "client_id": spa.client_id,
        "code": platform.authorize(url, user=ada).params["code"],
        "redirect_uri": SPA_REDIRECT_URI,
    }
    if verifier is not None:
        form["code_verifier"] = pkce_pair()[0]

    response = http.post(token_endpoint(platform, contoso), data=form)

    assert response.status_code == 400
    assert response.json()["error"] == error
    assert response.json()["error_codes"] == [code]


def test_a_public_client_cannot_start_without_pkce(
    platform: FakeIdentityPlatform, contoso: FakeTenant, spa: FakeApp, ada: FakeUser
) -> None:
    url, _ = authorization_url(
        platform,
        contoso,
        spa,
        redirect_uri=SPA_REDIRECT_URI,
        code_challenge="",
        code_challenge_method="",
    )

    with pytest.raises(AuthorizationRejected) as rejected:
        platform.authorize(url, user=ada)

    assert rejected.value.error == "invalid_request"


@pytest.mark.parametrize(
    ("scope", "error", "code"),
    [
        ("api://nowhere.example/access_as_user", "invalid_resource", "AADSTS500011"),
        ("{api}/Orders.Write", "invalid_scope", "AADSTS70011"),
        ("{api}/.default {api}/Orders.Read", "invalid_scope", "AADSTS70011"),
    ],
    ids=["unknown resource", "unknown scope", "default beside another scope"],
)
def test_an_authorization_request_for_what_no_api_exposes_is_refused(
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    spa: FakeApp,
    ada: FakeUser,
    scope: str,
    error: str,
    code: str,
) -> None:
    api = orders_api(platform, 2)
    scope = scope.format(api=f"api://{api.client_id}")
    url, _ = authorization_url(
        platform, contoso, spa, redirect_uri=SPA_REDIRECT_URI, scope=f"openid {scope}"
    )

    with pytest.raises(AuthorizationRejected) as rejected:
        platform.authorize(url, user=ada)

    assert rejected.value.error == error
    assert rejected.value.description.startswith(f"{code}:")


@pytest.mark.parametrize("version", [2, 1])
def test_client_credentials_give_an_app_only_token_with_the_granted_roles(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    daemon: FakeApp,
    version: int,
) -> None:
    api = orders_api(platform, version)
    platform.grant_app_roles(daemon, api, ["Orders.Sync"])
    platform.grant_app_roles(daemon, api, ["Orders.Sync", "Orders.Purge"])
    client = confidential_client(platform, daemon, platform.authority(contoso))

    result = client.acquire_token_for_client(scopes=[f"api://{api.client_id}/.default"])

    assert "error" not in result, result
    assert not {"refresh_token", "id_token"} & result.keys()
    audience = api.client_id if version == 2 else f"api://{api.client_id}"
    claims = verified_access_token_claims(
        http,
        platform,
        contoso,
        result["access_token"],
        audience=audience,
        issuer=expected_issuer(contoso, version),
    )
    principal = platform.service_principal_id(daemon, contoso)
    assert claims["oid"] == claims["sub"] == principal
    assert principal not in {user.object_id for user in platform.users}
    assert claims["roles"] == ["Orders.Sync", "Orders.Purge"]
    assert claims["idtyp"] == "app"
    assert claims["ver"] == f"{version}.0"
    assert claims["tid"] == contoso.tenant_id
    assert not {"scp", "name", "preferred_username", "upn", "email"} & claims.keys()
    if version == 2:
        assert (claims["azp"], claims["azpacr"]) == (daemon.client_id, "1")
    else:
        assert (claims["appid"], claims["appidacr"]) == (daemon.client_id, "1")
        assert claims["idp"] == expected_issuer(contoso, 1)


def test_an_app_without_granted_roles_gets_a_token_without_roles(
    platform: FakeIdentityPlatform, contoso: FakeTenant
) -> None:
    api = orders_api(platform, 2)
    client_app = platform.register_app()
    client = confidential_client(platform, client_app, platform.authority(contoso))

    result = client.acquire_token_for_client(scopes=[f"{api.client_id}/.default"])

    claims = unverified_claims(result["access_token"])
    assert "roles" not in claims
    assert claims["aud"] == api.client_id


@pytest.mark.parametrize(
    ("case", "status", "error", "code"),
    [
        ("not .default", 400, "invalid_scope", 1002012),
        ("two scopes", 400, "invalid_scope", 1002012),
        ("graph", 400, "invalid_resource", 500011),
        ("unknown resource", 400, "invalid_resource", 500011),
        ("public client", 401, "invalid_client", 7000218),
        ("organizations", 400, "invalid_request", 9002313),
        ("wrong secret", 401, "invalid_client", 7000215),
    ],
)
def test_client_credentials_refusals(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    spa: FakeApp,
    daemon: FakeApp,
    case: str,
    status: int,
    error: str,
    code: int,
) -> None:
    api = orders_api(platform, 2)
    scope = {
        "not .default": f"api://{api.client_id}/{API_SCOPE}",
        "two scopes": f"api://{api.client_id}/.default {api.client_id}/.default",
        "graph": "https://graph.microsoft.com/.default",
        "unknown resource": "api://nowhere.example/.default",
    }.get(case, f"api://{api.client_id}/.default")
    form = {
        "grant_type": "client_credentials",
        "client_id": daemon.client_id,
        "client_secret": "wrong" if case == "wrong secret" else daemon.client_secret,
        "scope": scope,
    }
    if case == "public client":
        form = {"grant_type": "client_credentials", "client_id": spa.client_id, "scope": scope}
    authority = "organizations" if case == "organizations" else contoso

    response = http.post(token_endpoint(platform, authority), data=form)

    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["error_codes"] == [code]


def test_registering_apis_and_grants_checks_what_it_is_given(
    platform: FakeIdentityPlatform,
) -> None:
    api = orders_api(platform, 2)
    other = platform.register_app()
    assert api.api is not None

    with pytest.raises(ValueError, match="public client"):
        platform.register_app(client_secret="secret", public_client=True)
    with pytest.raises(ValueError, match="taken"):
        platform.expose_api(other, identifier_uri=api.api.identifier_uri)
    with pytest.raises(ValueError, match="1 or 2"):
        platform.expose_api(other, access_token_version=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="optional claims"):
        platform.expose_api(other, optional_claims=["upn"])
    with pytest.raises(ValueError, match="scope"):
        platform.expose_api(other, scopes=["Orders/Read"])
    with pytest.raises(ValueError, match="app roles"):
        platform.grant_app_roles(other, api, ["Orders.Everything"])
    with pytest.raises(ValueError, match="exposes no API"):
        platform.grant_app_roles(api, other, [])
    with pytest.raises(ValueError, match="exposes no API"):
        platform.mint_app_token(api, api=other, tenant=platform.tenants[0])
    assert platform.register_app(public_client=True).client_secret == ""


# -- minted access tokens ---------------------------------------------------------------------


@pytest.mark.parametrize("version", [2, 1])
def test_a_minted_access_token_is_what_the_token_endpoint_issues(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    spa: FakeApp,
    katherine: FakeUser,
    version: int,
) -> None:
    api = orders_api(platform, version)
    _, issued = sign_in_to_api(
        platform, contoso, spa, katherine, [f"api://{api.client_id}/.default"]
    )

    minted = platform.mint_access_token(katherine, api=api, client=spa)

    audience = api.client_id if version == 2 else f"api://{api.client_id}"
    issuer = expected_issuer(contoso, version)
    minted_claims, issued_claims = (
        verified_access_token_claims(
            http, platform, contoso, token, audience=audience, issuer=issuer
        )
        for token in (minted, issued["access_token"])
    )
    assert minted_claims.keys() == issued_claims.keys()
    random_or_timed = {"uti", "rh", "aio", "iat", "nbf", "exp"}
    for name in minted_claims.keys() - random_or_timed:
        assert minted_claims[name] == issued_claims[name], name
    assert minted_claims["uti"] != issued_claims["uti"]
    assert jwt.get_unverified_header(minted) == jwt.get_unverified_header(issued["access_token"])


def test_minted_tokens_take_their_client_scopes_and_version_from_the_arguments(
    platform: FakeIdentityPlatform, contoso: FakeTenant, spa: FakeApp, ada: FakeUser
) -> None:
    api = orders_api(platform, 2)

    own = unverified_claims(platform.mint_access_token(ada, api=api))
    chosen = unverified_claims(
        platform.mint_access_token(ada, api=api, client=spa, scopes=["Orders.Read"], version=1)
    )

    assert (own["azp"], own["azpacr"], own["scp"]) == (
        api.client_id,
        "1",
        f"{API_SCOPE} Orders.Read",
    )
    assert (chosen["appid"], chosen["appidacr"], chosen["scp"]) == (
        spa.client_id,
        "0",
        "Orders.Read",
    )
    assert (chosen["ver"], chosen["iss"], chosen["aud"]) == (
        "1.0",
        f"https://sts.windows.net/{contoso.tenant_id}/",
        f"api://{api.client_id}",
    )
    with pytest.raises(ValueError, match="exposes no scopes"):
        platform.mint_access_token(ada, api=api, scopes=["Orders.Write"])


@pytest.mark.parametrize(
    ("variant", "refusal"),
    [
        ("expired", jwt.ExpiredSignatureError),
        ("not yet valid", jwt.ImmatureSignatureError),
        ("another audience", jwt.InvalidAudienceError),
        ("another issuer", jwt.InvalidIssuerError),
        ("wrong_key", jwt.InvalidSignatureError),
        ("unknown_kid", jwt.InvalidKeyError),
        ("alg_none", jwt.InvalidKeyError),  # no kid at all
        ("hs256", jwt.InvalidAlgorithmError),
        ("hs256_client_secret", jwt.InvalidAlgorithmError),
    ],
)
def test_minted_access_tokens_can_be_made_to_fail_validation(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    spa: FakeApp,
    ada: FakeUser,
    variant: str,
    refusal: type[Exception],
) -> None:
    api = orders_api(platform, 2)
    now = int(time.time())
    variants: dict[str, dict[str, Any]] = {
        "expired": {"issued_at": now - 3600 - 60},
        "not yet valid": {"issued_at": now + 600},
        "another audience": {"overrides": {"aud": "api://another-api"}},
        "another issuer": {"overrides": {"iss": "https://sts.windows.net/another-tenant/"}},
    }
    options = variants.get(variant, {"signing": variant})

    token = platform.mint_access_token(ada, api=api, client=spa, **options)

    with pytest.raises(refusal):
        verified_access_token_claims(
            http, platform, contoso, token, audience=api.client_id, issuer=contoso.issuer
        )
    unverified_header = jwt.get_unverified_header(token)
    published = {key.key_id for key in published_keys(http, platform, contoso).keys}
    if variant == "wrong_key":
        assert unverified_header["kid"] in published
    elif variant == "unknown_kid":
        assert unverified_header["kid"] not in published
    elif variant == "alg_none":
        assert (unverified_header["alg"], token.rpartition(".")[2]) == ("none", "")
    elif variant in ("hs256", "hs256_client_secret"):
        key = (
            api.client_secret.encode()
            if variant == "hs256_client_secret"
            else next(iter(published_keys(http, platform, contoso).keys)).key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        signing_input, _, signature = token.rpartition(".")
        expected = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
        assert base64.urlsafe_b64encode(expected).rstrip(b"=").decode() == signature
    elif variant == "expired":
        claims = unverified_claims(token)
        assert claims["exp"] == now - 60
        assert claims["nbf"] == claims["iat"] == now - 3660


def test_minted_access_tokens_take_claims_set_and_removed(
    http: requests.Session, platform: FakeIdentityPlatform, contoso: FakeTenant, ada: FakeUser
) -> None:
    api = orders_api(platform, 2)

    token = platform.mint_access_token(
        ada, api=api, overrides={"uti": "the-same-uti", "roles": ["Admin"]}, remove={"scp"}
    )

    claims = verified_access_token_claims(
        http, platform, contoso, token, audience=api.client_id, issuer=contoso.issuer
    )
    assert claims["uti"] == "the-same-uti"
    assert claims["roles"] == ["Admin"]
    assert "scp" not in claims


@pytest.mark.parametrize("version", [2, 1])
def test_a_minted_app_token_is_what_client_credentials_issue(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    daemon: FakeApp,
    version: int,
) -> None:
    api = orders_api(platform, version)
    platform.grant_app_roles(daemon, api, ["Orders.Sync"])
    client = confidential_client(platform, daemon, platform.authority(contoso))
    issued = client.acquire_token_for_client(scopes=[f"api://{api.client_id}/.default"])

    minted = platform.mint_app_token(daemon, api=api, tenant=contoso)
    expired = platform.mint_app_token(
        daemon, api=api, tenant=contoso, issued_at=time.time() - 7200, remove={"roles"}
    )

    audience = api.client_id if version == 2 else f"api://{api.client_id}"
    issuer = expected_issuer(contoso, version)
    minted_claims, issued_claims = (
        verified_access_token_claims(
            http, platform, contoso, token, audience=audience, issuer=issuer
        )
        for token in (minted, issued["access_token"])
    )
    assert minted_claims.keys() == issued_claims.keys()
    for name in minted_claims.keys() - {"uti", "rh", "aio", "iat", "nbf", "exp"}:
        assert minted_claims[name] == issued_claims[name], name
    assert minted_claims["roles"] == ["Orders.Sync"]
    with pytest.raises(jwt.ExpiredSignatureError):
        verified_access_token_claims(
            http, platform, contoso, expired, audience=audience, issuer=issuer
        )
    assert "roles" not in unverified_claims(expired)


# -- TLS --------------------------------------------------------------------------------------


@pytest.mark.parametrize("server_name", ["127.0.0.1", "localhost"])
def test_the_platform_passes_strict_certificate_verification(
    platform: FakeIdentityPlatform, server_name: str
) -> None:
    # Python 3.13 verifies with VERIFY_X509_STRICT by default; ask for it on any Python.
    context = ssl.create_default_context(cafile=platform.ca_bundle)
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    address = urlsplit(platform.base_url)
    assert address.hostname is not None
    with (
        socket.create_connection((address.hostname, address.port), timeout=5) as connection,
        context.wrap_socket(connection, server_hostname=server_name) as tls,
    ):
        assert tls.getpeercert()


def test_certificates_are_reused_and_only_the_server_key_is_written_private(
    tmp_path: Path,
) -> None:
    first = ensure_certificates(tmp_path)
    written = {path.name: path.read_bytes() for path in tmp_path.iterdir()}

    assert ensure_certificates(tmp_path) == first
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == written
    # The CA's key is not among the files: no one can issue more certificates from it.
    assert set(written) == {"ca.pem", "server.pem", "server-key.pem"}
    assert stat.S_IMODE(first.server_key.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("issued_by_the_ca", "hosts", "valid_for_days", "reused"),
    [
        (True, SERVER_HOST_NAMES, 30, True),
        (False, SERVER_HOST_NAMES, 30, False),
        (True, SERVER_HOST_NAMES, 3, False),
        (True, ("127.0.0.1", "localhost"), 30, False),
    ],
    ids=["sound", "another-ca", "expires-within-a-week", "a-host-missing"],
)
def test_existing_certificates_are_reused_only_while_they_serve_every_host_for_a_week(
    tmp_path: Path,
    issued_by_the_ca: bool,
    hosts: tuple[str, ...],
    valid_for_days: int,
    reused: bool,
) -> None:
    files = ensure_certificates(tmp_path)
    ca = trustme.CA()
    now = datetime.datetime.now(datetime.UTC)
    server = ca.issue_cert(
        *hosts, not_before=now, not_after=now + datetime.timedelta(days=valid_for_days)
    )
    trusted = ca if issued_by_the_ca else trustme.CA()
    trusted.cert_pem.write_to_path(files.ca_certificate)
    server.cert_chain_pems[0].write_to_path(files.server_certificate)
    server.private_key_pem.write_to_path(files.server_key)

    ensure_certificates(tmp_path)

    assert (files.ca_certificate.read_bytes() == trusted.cert_pem.bytes()) is reused


# -- bookkeeping and robustness ---------------------------------------------------------------


def test_requests_are_recorded_per_endpoint(
    platform: FakeIdentityPlatform, contoso: FakeTenant, app: FakeApp, ada: FakeUser
) -> None:
    client = confidential_client(platform, app, platform.authority(contoso))
    flow = client.initiate_auth_code_flow(scopes=[], redirect_uri=REDIRECT_URI)
    client.acquire_token_by_auth_code_flow(
        flow, platform.authorize(flow["auth_uri"], user=ada).params
    )

    assert [(r.method, r.endpoint, r.status) for r in platform.requests] == [
        ("GET", "metadata", 200),
        ("GET", "authorize", 200),
        ("POST", "authorize", 302),
        ("POST", "token", 200),
    ]
    assert platform.count("token") == 1
    assert all("?" not in r.path for r in platform.requests)
    platform.clear_requests()
    assert platform.requests == []


TOKEN = "/{tid}/oauth2/v2.0/token"
LOGOUT = "/{tid}/oauth2/v2.0/logout"
MEMBER_OF = "/graph/v1.0/me/transitiveMemberOf"
NESTED_JSON_HINT = base64.b64encode(b"[" * 5000).decode()


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        pytest.param("GET", TOKEN, {}, 400, id="token-get"),
        pytest.param("POST", TOKEN, {"json": {"grant_type": "x"}}, 400, id="token-json"),
        pytest.param("POST", TOKEN, {"data": "grant_type=a&grant_type=b"}, 400, id="repeated"),
        pytest.param("POST", TOKEN, {"data": b"code=%ff", "headers": FORM}, 400, id="not-utf8"),
        pytest.param(
            "POST", TOKEN, {"headers": {"Authorization": "Basic !!"}}, 401, id="garbled-basic"
        ),
        pytest.param("GET", "/{tid}/oauth2/v2.0/authorize?client_id=%ff", {}, 400, id="bad-query"),
        pytest.param("GET", "/{tid}/oauth2/v2.0/authorize", {}, 400, id="authorize-empty"),
        pytest.param("PUT", "/{tid}/discovery/v2.0/keys", {}, 405, id="keys-put"),
        pytest.param("DELETE", LOGOUT, {}, 405, id="logout-delete"),
        pytest.param("GET", "/no/such/page", {}, 404, id="unknown-path"),
        pytest.param("GET", MEMBER_OF, {}, 401, id="graph-without-token"),
        pytest.param("PUT", MEMBER_OF, {}, 405, id="graph-put"),
        pytest.param("GET", MEMBER_OF + "?$filter=x", {}, 400, id="graph-unsupported-option"),
        pytest.param("GET", MEMBER_OF + "?$top=1&$top=2", {}, 400, id="graph-repeated-option"),
        pytest.param("GET", MEMBER_OF + "?$top=%ff", {}, 400, id="graph-undecodable"),
        pytest.param("GET", MEMBER_OF + "?$top=%D9%A3", {}, 400, id="graph-non-ascii-digit"),
        pytest.param("GET", MEMBER_OF + "?$select=mail", {}, 400, id="graph-unknown-property"),
        pytest.param("GET", MEMBER_OF + "?$skiptoken=%C3%A9.x", {}, 400, id="graph-forged-skip"),
        pytest.param("GET", "/graph/v1.0/me", {}, 404, id="graph-unknown-resource"),
        pytest.param("GET", "/graph/v1.0/users/x/getMemberObjects", {}, 405, id="graph-get-mo"),
        pytest.param(
            "POST", "/graph/v1.0/users/x/getMemberObjects", {"data": "{"}, 401, id="graph-mo-anon"
        ),
        pytest.param("GET", "/no%00such/oauth2/v2.0/logout", {}, 400, id="nul-tenant"),
        pytest.param(
            "GET", LOGOUT + "?id_token_hint=%C3%A9.%C3%A9.%C3%A9", {}, 200, id="non-ascii-hint"
        ),
        pytest.param(
            "GET", LOGOUT + "?logout_hint=" + NESTED_JSON_HINT, {}, 200, id="nested-json-hint"
        ),
        pytest.param(
            "GET",
            LOGOUT,
            {"headers": {"Cookie": 'fake_idp_session="\xe9t\xe9"'}},
            200,
            id="non-ascii-cookie",
        ),
    ],
)
def test_bad_input_is_answered_without_a_server_error(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
) -> None:
    url = platform.base_url + path.format(tid=contoso.tenant_id)

    response = http.request(method, url, **kwargs)

    assert response.status_code == status


def test_an_oversized_body_is_refused_before_it_is_read(
    platform: FakeIdentityPlatform, contoso: FakeTenant
) -> None:
    context = ssl.create_default_context(cafile=platform.ca_bundle)
    address = urlsplit(platform.base_url)
    assert address.hostname is not None
    connection = HTTPSConnection(address.hostname, address.port, context=context, timeout=5)
    try:
        connection.putrequest("POST", f"/{contoso.tenant_id}/oauth2/v2.0/token")
        connection.putheader("Content-Length", str(10**9))
        connection.endheaders()
        response = connection.getresponse()
    finally:
        connection.close()

    assert response.status == 413


def test_stop_is_quick_even_with_idle_keep_alive_connections() -> None:
    standalone = FakeIdentityPlatform()
    standalone.start()
    address = urlsplit(standalone.base_url)
    assert address.hostname is not None
    with TrustingSession(standalone.ca_bundle) as session:
        # The session keeps its connection open, which a naive server waits for.
        session.get(f"{standalone.authority('common')}/v2.0/.well-known/openid-configuration")
        started = time.monotonic()
        standalone.stop()
        assert time.monotonic() - started < 1
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address.hostname, address.port), timeout=1).close()
    standalone.stop()  # idempotent


def test_cli_serves_the_demo_directory_and_writes_the_state_file(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    command = [
        sys.executable, "-m", "sso_api.testing", "serve", "--port", "0",
        "--certificate-dir", str(tmp_path / "certificates"),
        "--client-id", "demo-client", "--client-secret", "demo-secret",
        "--redirect-uri", REDIRECT_URI, "--demo", "--state-file", str(state_file),
        "--browser-port", "0",
    ]  # fmt: skip
    environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        cwd=tmp_path,
    ) as server:
        try:
            assert server.stdout is not None
            base_url = server.stdout.readline().strip()
            state = json.loads(state_file.read_text())
            with TrustingSession(state["ca_bundle"]) as session:
                metadata = session.get(
                    f"{base_url}/contoso.example/v2.0/.well-known/openid-configuration"
                )
        finally:
            server.send_signal(signal.SIGINT)
            _, errors = server.communicate(timeout=5)

    assert server.returncode == 0, errors
    assert base_url.startswith("https://127.0.0.1:")
    assert state["base_url"] == base_url
    assert state["client_id"] == "demo-client"
    assert "demo-secret" not in state_file.read_text()
    assert {tenant["domain"] for tenant in state["tenants"]} == {
        "contoso.example",
        "fabrikam.example",
    }
    contoso_id = next(t["tenant_id"] for t in state["tenants"] if t["domain"] == "contoso.example")
    contoso_users = [user for user in state["users"] if user["tenant_id"] == contoso_id]
    assert {(u["guest"], u["disabled"], u["email_verified"]) for u in contoso_users} >= {
        (False, False, True),
        (False, False, None),
        (True, False, True),
        (False, True, True),
    }
    assert metadata.json()["issuer"] == f"{base_url}/{contoso_id}/v2.0"
    assert state["graph_url"] == f"{base_url}/graph"
    assert [u["name"] for u in state["users"] if u["group_overage"]] == ["Dorothy Vaughan"]
    assert {g["name"] for g in state["groups"]} >= {"Contoso staff", "Engineering", "Projects"}
    assert state["browser_base_url"].startswith("http://127.0.0.1:")
    assert metadata.json()["authorization_endpoint"] == (
        f"{state['browser_base_url']}/{contoso_id}/oauth2/v2.0/authorize"
    )


# -- single-page apps: redemption from the browser, with CORS ----------------------------------

SPA_ORIGIN = "https://spa.contoso.example"
#: A redirect URI of the "Single-page application" platform; the other SPA fixture's
#: redirect URI (SPA_REDIRECT_URI) is of no platform type, as a native app's would be.
SPA_PLATFORM_REDIRECT_URI = f"{SPA_ORIGIN}/static/oauth2-redirect.html"
FOREIGN_ORIGIN = "https://elsewhere.example"


@pytest.fixture(scope="module")
def browser_app(platform: FakeIdentityPlatform) -> FakeApp:
    """A single-page app registered as Entra has it: public, with an SPA redirect URI."""
    return platform.register_app(
        spa_redirect_uris=[SPA_PLATFORM_REDIRECT_URI, "https://spa.contoso.example:443/other/"],
        public_client=True,
    )


@pytest.fixture(scope="module")
def browser_api(platform: FakeIdentityPlatform) -> FakeApp:
    return orders_api(platform, 2)


def browser_code(
    platform: FakeIdentityPlatform,
    tenant: FakeTenant,
    client_app: FakeApp,
    user: FakeUser,
    api: FakeApp,
    redirect_uri: str = SPA_PLATFORM_REDIRECT_URI,
) -> tuple[dict[str, str], str]:
    """A sign-in at ``redirect_uri`` for the API's scope, as Swagger UI or msal-browser
    starts it; returns the token request's form (no secret) and the code verifier."""
    url, verifier = authorization_url(
        platform,
        tenant,
        client_app,
        redirect_uri=redirect_uri,
        scope=f"openid offline_access api://{api.client_id}/{API_SCOPE}",
    )
    code = platform.authorize(url, user=user).params["code"]
    form = {
        "grant_type": "authorization_code",
        "client_id": client_app.client_id,
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    return form, verifier


def preflight(http: requests.Session, url: str, origin: str) -> requests.Response:
    """What a browser sends before Swagger UI's token request (it adds X-Requested-With)."""
    return http.options(
        url,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-requested-with",
        },
    )


def test_a_single_page_app_redeems_its_code_cross_origin_with_cors_for_its_origin(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    browser_app: FakeApp,
    browser_api: FakeApp,
    ada: FakeUser,
) -> None:
    form, _ = browser_code(platform, contoso, browser_app, ada, browser_api)
    checked = preflight(http, token_endpoint(platform, contoso), SPA_ORIGIN)

    answer = http.post(token_endpoint(platform, contoso), data=form, headers={"Origin": SPA_ORIGIN})

    assert checked.status_code == 204
    assert checked.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN
    assert checked.headers["Access-Control-Allow-Methods"] == "POST"
    assert checked.headers["Access-Control-Allow-Headers"] == "x-requested-with"
    assert "Origin" in checked.headers["Vary"]
    assert answer.status_code == 200, answer.text
    assert answer.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN
    assert "Access-Control-Allow-Credentials" not in answer.headers
    claims = verified_access_token_claims(
        http,
        platform,
        contoso,
        answer.json()["access_token"],
        audience=browser_api.client_id,
        issuer=contoso.issuer,
    )
    assert (claims["azp"], claims["oid"], claims["scp"]) == (
        browser_app.client_id,
        ada.object_id,
        API_SCOPE,
    )


def test_the_origin_of_an_spa_redirect_uri_is_spelled_without_the_default_port(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    browser_app: FakeApp,
    browser_api: FakeApp,
    ada: FakeUser,
) -> None:
    form, _ = browser_code(
        platform, contoso, browser_app, ada, browser_api, "https://spa.contoso.example:443/other/"
    )

    answer = http.post(token_endpoint(platform, contoso), data=form, headers={"Origin": SPA_ORIGIN})

    assert answer.status_code == 200, answer.text
    assert answer.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN


def test_a_foreign_origin_is_refused_without_cors_headers_and_spends_no_code(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    browser_app: FakeApp,
    browser_api: FakeApp,
    ada: FakeUser,
) -> None:
    form, _ = browser_code(platform, contoso, browser_app, ada, browser_api)
    endpoint = token_endpoint(platform, contoso)

    checked = preflight(http, endpoint, FOREIGN_ORIGIN)
    refused = http.post(endpoint, data=form, headers={"Origin": FOREIGN_ORIGIN})
    redeemed = http.post(endpoint, data=form, headers={"Origin": SPA_ORIGIN})

    assert "Access-Control-Allow-Origin" not in checked.headers
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_request"
    assert refused.json()["error_codes"] == [9002326]
    assert FOREIGN_ORIGIN in refused.json()["error_description"]
    assert redeemed.status_code == 200, redeemed.text


def test_a_redirect_uri_that_is_not_of_the_spa_platform_gets_no_cors(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    spa: FakeApp,
    browser_api: FakeApp,
    ada: FakeUser,
) -> None:
    # spa's redirect URI is of no platform type: Entra's answer to an app registered
    # under "Web" or "Mobile and desktop" that redeems from a browser.
    origin = "http://localhost:3000"
    form, _ = browser_code(platform, contoso, spa, ada, browser_api, SPA_REDIRECT_URI)
    endpoint = token_endpoint(platform, contoso)

    checked = preflight(http, endpoint, origin)
    refused = http.post(endpoint, data=form, headers={"Origin": origin})
    redeemed = http.post(endpoint, data=form)

    assert "Access-Control-Allow-Origin" not in checked.headers
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert refused.json()["error_codes"] == [9002326]
    assert redeemed.status_code == 200, redeemed.text


def test_an_spa_grant_is_redeemed_from_a_browser_only(
    http: requests.Session,
    platform: FakeIdentityPlatform,
    contoso: FakeTenant,
    browser_app: FakeApp,
    browser_api: FakeApp,
    ada: FakeUser,
) -> None:
    form, _ = browser_code(platform, contoso, browser_app, ada, browser_api)
    endpoint = token_endpoint(platform, contoso)

    from_a_server = http.post(endpoint, data=form)
    tokens = http.post(endpoint, data=form, headers={"Origin": SPA_ORIGIN}).json()
    refresh = {
        "grant_type": "refresh_token",
        "client_id": browser_app.client_id,
        "refresh_token": tokens["refresh_token"],
    }
    refreshed_by_a_server = http.post(endpoint, data=refresh)
    refreshed = http.post(endpoint, data=refresh, headers={"Origin": SPA_ORIGIN})

    for refused in (from_a_server, refreshed_by_a_server):
        assert refused.status_code == 400
        assert refused.json()["error_codes"] == [9002327]
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN


def test_the_plain_http_port_serves_the_token_endpoint_to_cross_origin_requests_only() -> None:
    with FakeIdentityPlatform(browser_port=0) as split:
        tenant = split.add_tenant("Contoso", "contoso.example")
        user = split.add_user(tenant, name="Ada Lovelace", email="ada@contoso.example")
        api = split.register_app()
        split.expose_api(api)
        client_app = split.register_app(
            spa_redirect_uris=[SPA_PLATFORM_REDIRECT_URI], public_client=True
        )
        form, _ = browser_code(split, tenant, client_app, user, api)
        plain_token_endpoint = f"{split.browser_base_url}/{tenant.tenant_id}/oauth2/v2.0/token"
        # As a browser without the fake's CA: plain HTTP.
        with requests.Session() as plain:
            plain.trust_env = False
            without_origin = plain.post(plain_token_endpoint, data=form, timeout=5)
            checked = preflight(plain, plain_token_endpoint, SPA_ORIGIN)
            answer = plain.post(
                plain_token_endpoint, data=form, headers={"Origin": SPA_ORIGIN}, timeout=5
            )

    assert without_origin.status_code == 404
    assert checked.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN
    assert answer.status_code == 200, answer.text
    assert answer.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN


@pytest.mark.parametrize(
    ("registration", "refusal"),
    [
        ({"spa_redirect_uris": [SPA_PLATFORM_REDIRECT_URI]}, "only a public client"),
        (
            {"spa_redirect_uris": ["myapp://auth"], "public_client": True},
            "not an absolute http or https URL",
        ),
        (
            {"spa_redirect_uris": ["/oauth2-redirect.html"], "public_client": True},
            "not an absolute http or https URL",
        ),
        (
            {
                "redirect_uris": [SPA_PLATFORM_REDIRECT_URI],
                "spa_redirect_uris": [SPA_PLATFORM_REDIRECT_URI],
                "public_client": True,
            },
            "redirect URI of two platforms",
        ),
    ],
    ids=["confidential-client", "custom-scheme", "relative", "two-platforms"],
)
def test_spa_redirect_uris_are_absolute_web_urls_of_a_public_client(
    platform: FakeIdentityPlatform, registration: dict[str, Any], refusal: str
) -> None:
    with pytest.raises(ValueError, match=refusal):
        platform.register_app(**registration)
