"""Every check of the id_token, each against a real token the fake platform mints wrong."""

from __future__ import annotations

import secrets
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth import get_user_model

from sso_api.claims import MicrosoftClaims
from sso_api.conf import sso_settings
from sso_api.entra.client import EntraClient, entra_client
from sso_api.entra.id_token import validate_id_token
from sso_api.exceptions import InvalidIdToken, SSOError
from sso_api.models import MicrosoftIdentity
from sso_api.testing import FakeApp, FakeIdentityPlatform, FakeUser
from sso_api.testing.client import SignInDriver

pytestmark = pytest.mark.django_db


def assert_refused_without_trace(
    attempt_error: str | None, expected: str = "invalid_id_token"
) -> None:
    assert attempt_error == expected
    assert not get_user_model().objects.exists()
    assert not MicrosoftIdentity.objects.exists()


@pytest.mark.parametrize(
    "signing", ["wrong_key", "unknown_kid", "alg_none", "hs256", "hs256_client_secret"]
)
def test_a_token_not_signed_rs256_by_a_published_key_is_refused(
    browser: SignInDriver, ada: FakeUser, identity_platform: FakeIdentityPlatform, signing: str
) -> None:
    identity_platform.faults.id_token_signing = signing  # type: ignore[assignment]
    attempt = browser.sign_in(ada)
    assert_refused_without_trace(attempt.error)


@pytest.mark.parametrize(
    "override",
    [
        {"iss": "https://login.microsoftonline.com/evil/v2.0"},
        {"aud": "another-application"},
        {"nonce": "a-nonce-from-another-flow"},
        {"exp": int(time.time()) - 600},
        {"nbf": int(time.time()) + 600},
        {"iat": int(time.time()) + 600},
        {"tid": "00000000-0000-0000-0000-0000000000ee"},
    ],
    ids=["issuer", "audience", "nonce", "expired", "not-yet-valid", "issued-in-future", "tid"],
)
def test_a_token_with_a_wrong_claim_is_refused(
    browser: SignInDriver,
    ada: FakeUser,
    identity_platform: FakeIdentityPlatform,
    override: dict[str, Any],
) -> None:
    identity_platform.faults.id_token_claims_override = override
    attempt = browser.sign_in(ada)
    assert_refused_without_trace(attempt.error)


@pytest.mark.parametrize("claim", ["tid", "oid", "sub", "nonce", "exp", "iat", "nbf", "aud"])
def test_a_token_missing_a_required_claim_is_refused(
    browser: SignInDriver, ada: FakeUser, identity_platform: FakeIdentityPlatform, claim: str
) -> None:
    identity_platform.faults.id_token_claims_remove = {claim}
    attempt = browser.sign_in(ada)
    assert_refused_without_trace(attempt.error)


def test_a_small_clock_difference_is_tolerated(
    browser: SignInDriver, ada: FakeUser, identity_platform: FakeIdentityPlatform
) -> None:
    identity_platform.faults.clock_skew = 30  # Microsoft's clock runs 30 s ahead.
    attempt = browser.sign_in(ada)
    assert attempt.error is None


def test_keys_are_fetched_once_and_refetched_once_after_rotation(
    browser: SignInDriver, ada: FakeUser, identity_platform: FakeIdentityPlatform
) -> None:
    identity_platform.clear_requests()
    for _ in range(3):
        assert browser.sign_in(ada).error is None
    assert identity_platform.count("keys") == 1

    identity_platform.rotate_signing_key()
    assert browser.sign_in(ada).error is None
    assert browser.sign_in(ada).error is None

    assert identity_platform.count("keys") == 2


def test_keys_unreachable_is_a_provider_outage(
    browser: SignInDriver, ada: FakeUser, identity_platform: FakeIdentityPlatform
) -> None:
    identity_platform.faults.keys_endpoint_status = 500
    attempt = browser.sign_in(ada)
    assert_refused_without_trace(attempt.error, "provider_unavailable")

    identity_platform.faults.keys_endpoint_status = None
    assert browser.sign_in(ada).error is None


def test_multi_tenant_issuer_is_filled_from_the_tokens_tenant(
    browser: SignInDriver, multi_tenant: Any, identity_platform: FakeIdentityPlatform, fabrikam: Any
) -> None:
    fabrikam_user = identity_platform.add_user(
        fabrikam, name="Fay Fabrikam", email="fay@fabrikam.example", email_verified=True
    )
    body = browser.signed_in(fabrikam_user)
    assert body["user"]["tenant_id"] == fabrikam.tenant_id


def test_an_audience_list_is_refused_even_if_it_contains_ours(
    browser: SignInDriver, ada: FakeUser, identity_platform: FakeIdentityPlatform, entra_app: Any
) -> None:
    identity_platform.faults.id_token_claims_override = {"aud": [entra_app.client_id, "other"]}
    assert_refused_without_trace(browser.sign_in(ada).error)


def test_a_v1_issuer_for_the_same_tenant_is_refused(
    browser: SignInDriver, ada: FakeUser, identity_platform: FakeIdentityPlatform
) -> None:
    # Same keys, same tenant, but the v1.0 issuer: not the metadata's issuer.
    identity_platform.faults.id_token_claims_override = {
        "iss": f"https://sts.windows.net/{ada.tenant_id}/"
    }
    assert_refused_without_trace(browser.sign_in(ada).error)


@pytest.mark.parametrize(
    ("claims", "guest"),
    [
        ({"acct": 1}, True),
        ({"acct": 0, "idp": "https://sts.windows.net/other/"}, False),
        ({"idp": "https://sts.windows.net/home-tenant/"}, True),
        ({"idp": "https://sts.windows.net/the-tenant/"}, False),
        ({}, False),
    ],
)
def test_guests_are_recognised_by_acct_or_by_a_foreign_idp(
    claims: dict[str, Any], guest: bool
) -> None:
    base = {"tid": "the-tenant", "oid": "o", "sub": "s", "iss": "https://issuer/the-tenant/v2.0"}
    assert MicrosoftClaims.from_validated({**base, **claims}).is_guest is guest


@pytest.mark.parametrize(
    ("value", "verified"),
    [(True, True), (False, False), ("true", True), ("false", False), ("1", True), (None, None)],
)
def test_xms_edov_is_read_in_its_boolean_and_string_forms(
    value: Any, verified: bool | None
) -> None:
    claims = {"tid": "t", "oid": "o", "sub": "s", "iss": "i", "email": "a@b.example"}
    if value is not None:
        claims["xms_edov"] = value
    assert MicrosoftClaims.from_validated(claims).email_verified is verified


# -- validate_id_token on its own: checks msal would otherwise make first ---------------------


@pytest.fixture
def entra(sso: Any) -> EntraClient:
    """The shared Entra client of the test's configuration (fresh for every test)."""
    return entra_client(sso_settings())


@pytest.fixture(scope="module")
def impostor_key() -> rsa.RSAPrivateKey:
    """An RSA key the fake platform never published."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def genuine_id_token(
    entra: EntraClient, platform: FakeIdentityPlatform, app: FakeApp, user: FakeUser
) -> str:
    """An id_token the platform signed with its published key, redeemed by msal as in a sign-in.

    msal checks the token's nonce against the flow; it does not check the signature.
    """
    request = entra.initiate(
        scopes=[], redirect_uri=app.redirect_uris[0], state="a-state", response_mode="query"
    )
    answer = platform.authorize(request.url, user=user)
    result = entra.msal_app().acquire_token_by_auth_code_flow(request.flow, answer.params)
    return str(result["id_token"])


def resigned(id_token: str, *, algorithm: str, key: Any, kid: str) -> str:
    """The same claims as ``id_token``, signed anew with ``algorithm`` and header ``kid``."""
    unverified_claims = jwt.decode(id_token, options={"verify_signature": False})
    return jwt.encode(unverified_claims, key, algorithm=algorithm, headers={"kid": kid})


def validate(entra: EntraClient, raw_id_token: str, nonce: str) -> MicrosoftClaims:
    return validate_id_token(
        raw_id_token,
        metadata=entra.metadata(),
        keys=entra.signing_keys(),
        client_id=entra.config.client_id,
        nonce=nonce,
    )


def test_a_genuine_token_is_refused_with_the_nonce_of_another_sign_in(
    entra: EntraClient, identity_platform: FakeIdentityPlatform, entra_app: FakeApp, ada: FakeUser
) -> None:
    id_token = genuine_id_token(entra, identity_platform, entra_app, ada)
    nonce_it_answers = jwt.decode(id_token, options={"verify_signature": False})["nonce"]
    assert validate(entra, id_token, nonce_it_answers).object_id == ada.object_id

    with pytest.raises(InvalidIdToken) as refused:
        validate(entra, id_token, "the-nonce-of-another-sign-in")

    assert refused.value.reason == "id_token nonce does not match this sign-in"


@pytest.mark.parametrize("algorithm", ["none", "HS256", "RS512"])
def test_a_token_signed_with_another_algorithm_is_refused_before_any_key_lookup(
    entra: EntraClient,
    identity_platform: FakeIdentityPlatform,
    entra_app: FakeApp,
    ada: FakeUser,
    impostor_key: rsa.RSAPrivateKey,
    algorithm: str,
) -> None:
    key = {"none": "", "HS256": secrets.token_bytes(32), "RS512": impostor_key}[algorithm]
    forged = resigned(
        genuine_id_token(entra, identity_platform, entra_app, ada),
        algorithm=algorithm,
        key=key,
        kid="a-key-id-nobody-published",
    )
    identity_platform.clear_requests()

    with pytest.raises(InvalidIdToken) as refused:
        validate(entra, forged, "any-nonce")

    assert refused.value.reason == "id_token uses a refused signing algorithm"
    # An unknown key id would otherwise send us to the keys endpoint: a forger cannot
    # make us call Microsoft.
    assert identity_platform.count("keys") == 0


@pytest.fixture
def keys_known(
    entra: EntraClient, identity_platform: FakeIdentityPlatform, entra_app: FakeApp, ada: FakeUser
) -> tuple[str, str]:
    """A genuine id_token and its nonce, validated once so that the published keys are
    known; the platform's request counts start from zero afterwards."""
    genuine = genuine_id_token(entra, identity_platform, entra_app, ada)
    nonce = jwt.decode(genuine, options={"verify_signature": False})["nonce"]
    validate(entra, genuine, nonce)
    identity_platform.clear_requests()
    return genuine, nonce


def test_a_burst_of_tokens_with_unknown_key_ids_costs_the_keys_endpoint_one_request(
    entra: EntraClient,
    identity_platform: FakeIdentityPlatform,
    impostor_key: rsa.RSAPrivateKey,
    keys_known: tuple[str, str],
) -> None:
    genuine, nonce = keys_known

    for number in range(5):
        forged = resigned(genuine, algorithm="RS256", key=impostor_key, kid=f"unpublished-{number}")
        with pytest.raises(InvalidIdToken, match="unknown key id"):
            validate(entra, forged, nonce)

    assert identity_platform.count("keys") == 1


def test_a_failing_keys_endpoint_is_asked_once_for_a_burst_of_unknown_key_ids(
    entra: EntraClient,
    identity_platform: FakeIdentityPlatform,
    impostor_key: rsa.RSAPrivateKey,
    keys_known: tuple[str, str],
) -> None:
    genuine, nonce = keys_known
    identity_platform.faults.keys_endpoint_status = 503

    for number in range(5):
        forged = resigned(genuine, algorithm="RS256", key=impostor_key, kid=f"unpublished-{number}")
        with pytest.raises(SSOError):
            validate(entra, forged, nonce)

    assert identity_platform.count("keys") == 1
