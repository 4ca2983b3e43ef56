"""OAuth 2.0 / OpenID Connect request plumbing of the fake, shaped like Entra's.

Errors carry Entra's OAuth error and its documented AADSTS number
(https://learn.microsoft.com/entra/identity-platform/reference-error-codes); the
messages are our own words. :class:`Trace` renders them the way Entra does, as JSON
at the token endpoint and as the ``error_description`` of a redirect.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from .server import HttpRequest
from .signing import b64url_encode

__all__ = [
    "EntraError",
    "Trace",
    "basic_credentials",
    "echo",
    "malformed",
    "missing_parameter",
    "parameters",
    "pkce_matches",
    "required",
    "with_query",
]

# Echoed request values are cut to this length in error descriptions.
_ECHO_LIMIT = 200
_MAX_PARAMETERS = 100
# RFC 7636 §4.1: a code verifier is 43 to 128 unreserved characters.
_CODE_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")


class EntraError(Exception):
    """A refusal with Entra's OAuth ``error``, AADSTS ``code`` and HTTP ``status``."""

    def __init__(self, error: str, code: int, message: str, status: int = 400) -> None:
        super().__init__(f"AADSTS{code}: {message}")
        self.error = error
        self.code = code
        self.message = message
        self.status = status


def missing_parameter(name: str) -> EntraError:
    """AADSTS900144, Entra's answer to a missing required parameter."""
    return EntraError(
        "invalid_request", 900144, f"The request must contain the parameter '{name}'."
    )


def malformed(message: str) -> EntraError:
    """AADSTS9002313, Entra's catch-all for a malformed request."""
    return EntraError("invalid_request", 9002313, f"Invalid request: {message}")


@dataclass(frozen=True)
class Trace:
    """The diagnostics Entra attaches to every error; its descriptions repeat them."""

    trace_id: str
    correlation_id: str
    timestamp: str

    @classmethod
    def for_request(cls, request: HttpRequest) -> Trace:
        """New ids, echoing the client's ``client-request-id`` (msal sends one) if a UUID."""
        requested = request.header("client-request-id")
        try:
            correlation_id = str(uuid.UUID(requested)) if requested else str(uuid.uuid4())
        except ValueError:
            correlation_id = str(uuid.uuid4())
        return cls(
            trace_id=str(uuid.uuid4()),
            correlation_id=correlation_id,
            timestamp=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
        )

    def describe(self, error: EntraError) -> str:
        """The ``error_description``: ``"AADSTS<code>: <message> Trace ID: ..."``."""
        return (
            f"AADSTS{error.code}: {error.message} Trace ID: {self.trace_id} "
            f"Correlation ID: {self.correlation_id} Timestamp: {self.timestamp}"
        )

    def document(self, error: EntraError, base_url: str) -> dict[str, object]:
        """The JSON error body of Entra's token and discovery endpoints."""
        return {
            "error": error.error,
            "error_description": self.describe(error),
            "error_codes": [error.code],
            "timestamp": self.timestamp,
            "trace_id": self.trace_id,
            "correlation_id": self.correlation_id,
            "error_uri": f"{base_url}/error?code={error.code}",
        }


def parameters(request: HttpRequest, *, include_query: bool) -> dict[str, str]:
    """The request's parameters from the query (if asked) and a form-encoded body.

    Empty values count as absent, as at Entra. Raises :class:`EntraError` for a
    repeated parameter (RFC 6749 §3.1), a body that is not form-encoded UTF-8, or too
    many parameters.
    """
    sources = [request.query] if include_query else []
    if request.body:
        content_type = (request.header("Content-Type") or "").split(";", 1)[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise malformed("the body must be application/x-www-form-urlencoded.")
        try:
            sources.append(request.body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise malformed("the body is not UTF-8.") from exc
    found: dict[str, str] = {}
    for source in sources:
        try:
            pairs = parse_qsl(
                source, keep_blank_values=True, errors="strict", max_num_fields=_MAX_PARAMETERS
            )
        except ValueError as exc:
            raise malformed("the parameters cannot be decoded.") from exc
        for name, value in pairs:
            if name in found:
                raise malformed(f"the parameter '{echo(name)}' is repeated.")
            if value:
                found[name] = value
    return found


def required(params: dict[str, str], name: str) -> str:
    """``params[name]``, or :func:`missing_parameter` raised."""
    value = params.get(name)
    if value is None:
        raise missing_parameter(name)
    return value


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """(client id, secret) from an HTTP Basic ``Authorization`` header, or None.

    RFC 6749 §2.3.1: both halves are form-urlencoded before base64. Raises
    :class:`EntraError` (invalid_client, 401) when the header is Basic but garbled.
    """
    if authorization is None or authorization[:6].lower() != "basic ":
        return None
    garbled = EntraError("invalid_client", 7000215, "Malformed HTTP Basic credentials.", 401)
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise garbled from exc
    client_id, separator, secret = decoded.partition(":")
    if not separator:
        raise garbled
    return unquote_plus(client_id), unquote_plus(secret)


def pkce_matches(verifier: str, challenge: str) -> bool:
    """Whether ``BASE64URL(SHA256(verifier)) == challenge`` (RFC 7636 §4.6, S256)."""
    if not _CODE_VERIFIER.fullmatch(verifier):
        return False
    computed = b64url_encode(hashlib.sha256(verifier.encode("ascii")).digest())
    return hmac.compare_digest(computed, challenge)


def with_query(url: str, params: dict[str, str]) -> str:
    """``url`` with ``params`` added to its query, its own parameters kept."""
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def echo(value: str) -> str:
    """A client-supplied value, cut short, for quoting in an error description."""
    return value if len(value) <= _ECHO_LIMIT else f"{value[:_ECHO_LIMIT]}..."
