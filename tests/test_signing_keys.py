"""Which keys of a published key set are used to verify id_tokens.

The key sets are the fake platform's real ones, fetched over HTTPS, with foreign members
added the way real key sets carry them (encryption keys, other key types, broken keys).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from sso_api.entra.metadata import rsa_signing_keys
from sso_api.testing import FakeIdentityPlatform, FakeTenant


@pytest.fixture
def published_jwks(
    identity_platform: FakeIdentityPlatform, contoso: FakeTenant
) -> Iterator[dict[str, Any]]:
    """The platform's key set while it publishes two keys (a rollover in progress)."""
    identity_platform.rotate_signing_key(keep_old=True)
    response = requests.get(
        f"{identity_platform.authority(contoso)}/discovery/v2.0/keys",
        verify=identity_platform.ca_bundle,
        timeout=5,
    )
    jwks: dict[str, Any] = response.json()
    assert len(jwks["keys"]) == 2
    yield jwks
    # Later tests expect one published key, as a fresh platform has.
    identity_platform.rotate_signing_key(keep_old=False)


def published_key_ids(jwks: dict[str, Any]) -> set[str]:
    return {str(member["kid"]) for member in jwks["keys"]}


def rsa_jwk(**members: Any) -> dict[str, Any]:
    """A well-formed public RSA JWK of a new key, with ``members`` added or replaced."""
    public_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    return {**json.loads(RSAAlgorithm.to_jwk(public_key)), **members}


def test_every_published_key_is_read_by_its_key_id(published_jwks: dict[str, Any]) -> None:
    keys = rsa_signing_keys(published_jwks)

    assert set(keys) == published_key_ids(published_jwks)
    assert all(isinstance(key.key, rsa.RSAPublicKey) for key in keys.values())


def test_members_that_are_not_rsa_signing_keys_are_ignored(
    published_jwks: dict[str, Any],
) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    foreign = [
        {**json.loads(ECAlgorithm.to_jwk(ec_key)), "kid": "an-ec-key", "use": "sig"},
        {"kty": "oct", "k": "c2VjcmV0LXNoYXJlZC13aXRoLW5vYm9keQ", "kid": "a-shared-secret"},
        rsa_jwk(kid="an-encryption-key", use="enc"),
        {**rsa_jwk(kid="a-pss-key"), "alg": "PS256"},
        rsa_jwk(),  # no kid: no token could name it
        "not-an-object",
    ]
    jwks = {"keys": [*foreign, *published_jwks["keys"]]}

    assert set(rsa_signing_keys(jwks)) == published_key_ids(published_jwks)


@pytest.mark.parametrize(
    "broken",
    [
        {"n": "A"},  # base64url of impossible length
        {"e": "AA"},  # exponent zero
        {"n": 12345},  # not a string
        {"e": None},  # None: the member is left out
        {"alg": ["RS256"]},  # not a string: PyJWT would fail on the whole set
        {"alg": {"x": 1}},
    ],
    ids=[
        "modulus-length",
        "exponent-zero",
        "modulus-type",
        "exponent-missing",
        "alg-list",
        "alg-object",
    ],
)
def test_a_malformed_key_does_not_hide_the_others(
    published_jwks: dict[str, Any], broken: dict[str, Any]
) -> None:
    malformed = {k: v for k, v in rsa_jwk(kid="broken", **broken).items() if v is not None}
    jwks = {"keys": [malformed, *published_jwks["keys"]]}

    assert set(rsa_signing_keys(jwks)) == published_key_ids(published_jwks)


@pytest.mark.parametrize(
    "jwks",
    [{}, {"keys": []}, {"keys": "not-a-list"}, {"keys": [rsa_jwk(kid="k", use="enc")]}],
    ids=["no-keys-member", "empty", "not-a-list", "no-signing-key"],
)
def test_a_key_set_without_a_usable_key_yields_no_key(jwks: dict[str, Any]) -> None:
    assert rsa_signing_keys(jwks) == {}
