"""Token signing keys of the fake identity platform, its JWKS, and compact JWS encoding.

Tokens are encoded here rather than with PyJWT because the fake must also mint the
forgeries a validator has to reject (``alg: none``, HS256 keyed with a public key),
which PyJWT rightly refuses to produce. One encoder serves honest and forged tokens
alike, so they differ only in what the fault asks for.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from .faults import SigningFault

__all__ = ["KeyRing", "SigningKey", "b64url_decode", "b64url_encode"]


def b64url_encode(raw: bytes) -> str:
    """Unpadded base64url, the encoding of JWS segments and JWK members (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url; raises ``ValueError`` on anything else."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


def _uint_b64(value: int) -> str:
    return b64url_encode(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class SigningKey:
    """An RSA key pair with the self-signed certificate Entra publishes beside it.

    ``key_id`` equals the certificate's SHA-1 thumbprint (``x5t``), as it does for
    Entra's v2.0 keys.
    """

    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    key_id: str

    @classmethod
    def generate(cls) -> SigningKey:
        """Create a new 2048-bit key and its certificate."""
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, "sso_api fake identity platform signing")]
        )
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(private_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .sign(private_key, hashes.SHA256())
        )
        # x5t is defined as the SHA-1 thumbprint (RFC 7517 §4.8); it identifies, it
        # does not protect anything.
        thumbprint = certificate.fingerprint(hashes.SHA1())  # noqa: S303
        return cls(
            private_key=private_key, certificate=certificate, key_id=b64url_encode(thumbprint)
        )

    @property
    def public_pem(self) -> bytes:
        """The public key as SubjectPublicKeyInfo PEM, the form validators usually hold."""
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def jwk(self, issuer: str) -> dict[str, object]:
        """The public JWK as Entra's keys endpoint lists it (``issuer`` is per tenant)."""
        numbers = self.private_key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self.key_id,
            "x5t": self.key_id,
            "n": _uint_b64(numbers.n),
            "e": _uint_b64(numbers.e),
            "x5c": [
                base64.b64encode(self.certificate.public_bytes(serialization.Encoding.DER)).decode()
            ],
            "issuer": issuer,
        }

    def sign_rs256(self, signing_input: bytes) -> bytes:
        """RSASSA-PKCS1-v1_5 with SHA-256 over ``signing_input`` (JWA RS256)."""
        return self.private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())

    def verify_rs256(self, signing_input: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's RS256 signature of ``signing_input``."""
        try:
            self.private_key.public_key().verify(
                signature, signing_input, padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            return False
        return True


def _signing_input(header: Mapping[str, object], claims: Mapping[str, object]) -> bytes:
    encoded_header = b64url_encode(json.dumps(header, separators=(",", ":")).encode())
    encoded_claims = b64url_encode(json.dumps(claims, separators=(",", ":")).encode())
    return f"{encoded_header}.{encoded_claims}".encode("ascii")


class KeyRing:
    """The published signing keys, the one signing now, and an unpublished impostor.

    Thread-safe: the server thread signs while a test rotates keys.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current = SigningKey.generate()
        self._published: tuple[SigningKey, ...] = (self._current,)
        self._impostor: SigningKey | None = None

    @property
    def current_key_id(self) -> str:
        """The kid of the key signing tokens now."""
        with self._lock:
            return self._current.key_id

    def rotate(self, *, keep_old: bool) -> str:
        """Sign with a new key from now on and publish it; return its kid.

        With ``keep_old`` the previous keys stay published (the overlap Entra keeps
        during a rollover), so tokens they signed still verify; without it they vanish
        from the JWKS at once.
        """
        new_key = SigningKey.generate()
        with self._lock:
            self._published = (new_key, *self._published) if keep_old else (new_key,)
            self._current = new_key
        return new_key.key_id

    def jwks(self, issuer: str) -> dict[str, object]:
        """The JSON Web Key Set of the published keys."""
        with self._lock:
            published = self._published
        return {"keys": [key.jwk(issuer) for key in published]}

    def sign(
        self,
        claims: Mapping[str, object],
        *,
        signing: SigningFault = "valid",
        client_secret: str = "",
    ) -> str:
        """Encode ``claims`` as a compact JWS, honestly or forged as ``signing`` says.

        ``client_secret`` is only used by ``"hs256_client_secret"``.
        """
        with self._lock:
            current = self._current
        if signing in ("wrong_key", "unknown_kid"):
            impostor = self._impostor_key()
            kid = current.key_id if signing == "wrong_key" else impostor.key_id
            header: dict[str, object] = {"typ": "JWT", "alg": "RS256", "kid": kid, "x5t": kid}
            signing_input = _signing_input(header, claims)
            signature = impostor.sign_rs256(signing_input)
        elif signing == "alg_none":
            signing_input = _signing_input({"typ": "JWT", "alg": "none"}, claims)
            signature = b""
        elif signing in ("hs256", "hs256_client_secret"):
            secret = current.public_pem if signing == "hs256" else client_secret.encode()
            header = {"typ": "JWT", "alg": "HS256", "kid": current.key_id}
            signing_input = _signing_input(header, claims)
            signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
        else:
            header = {"typ": "JWT", "alg": "RS256", "kid": current.key_id, "x5t": current.key_id}
            signing_input = _signing_input(header, claims)
            signature = current.sign_rs256(signing_input)
        return f"{signing_input.decode('ascii')}.{b64url_encode(signature)}"

    def verified_claims(self, token: str) -> dict[str, object] | None:
        """The claims of ``token`` if a published key signed it with RS256, else None.

        Only the signature is checked (not ``exp``, ``aud`` or ``iss``): this serves
        ``id_token_hint`` at logout, where an expired token is still a fine hint.
        """
        try:
            encoded_header, encoded_claims, encoded_signature = token.split(".")
            signing_input = f"{encoded_header}.{encoded_claims}".encode("ascii")
            unverified_header = json.loads(b64url_decode(encoded_header))
            signature = b64url_decode(encoded_signature)
        except (ValueError, RecursionError):  # RecursionError: absurdly nested JSON
            return None
        if not isinstance(unverified_header, dict) or unverified_header.get("alg") != "RS256":
            return None
        with self._lock:
            published = self._published
        key = next((k for k in published if k.key_id == unverified_header.get("kid")), None)
        if key is None or not key.verify_rs256(signing_input, signature):
            return None
        try:
            claims = json.loads(b64url_decode(encoded_claims))
        except (ValueError, RecursionError):
            return None
        return claims if isinstance(claims, dict) else None

    def _impostor_key(self) -> SigningKey:
        # Generated on first use: most platforms never need it, and key generation is
        # the slowest step of starting one.
        with self._lock:
            if self._impostor is None:
                self._impostor = SigningKey.generate()
            return self._impostor
