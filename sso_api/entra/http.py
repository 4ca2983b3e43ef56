"""The HTTP client for every call to the identity platform, ours and msal's.

Two promises it keeps that a plain ``requests.Session`` handed to msal does not:

* **The configured CA bundle really is used.** ``requests`` replaces a session-level
  ``verify`` with ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` from the environment whenever the
  per-request ``verify`` is left unset, which is what msal does. This client passes
  ``verify`` on every request, so ``MICROSOFT_SSO_CA_BUNDLE`` wins over the environment.
* **Every call has a timeout**, so a slow identity platform cannot hold a worker forever.

It also keeps OpenID discovery documents for the life of the process: msal fetches the
document when an application object is built, and our own id_token validation needs it
too; both are served by a single fetch.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter

DISCOVERY_SUFFIX = "/.well-known/openid-configuration"
# How long a discovery document is trusted before it is fetched again. Entra's endpoints
# in it do not change; a day bounds the staleness after a real change.
DISCOVERY_TTL_SECONDS = 24 * 3600


class ProviderHTTPError(requests.HTTPError):
    """The identity platform answered a POST with 429, a 5xx status or a non-JSON body."""

    def __init__(self, status_code: int, retry_after: str | None = None) -> None:
        super().__init__(f"identity platform answered HTTP {status_code}")
        self.status_code = status_code
        self.retry_after = retry_after


class _CachedResponse:
    """The parts of a ``requests.Response`` that msal reads, kept for reuse."""

    def __init__(self, response: requests.Response) -> None:
        self.status_code = response.status_code
        self.text = response.text
        self.headers = dict(response.headers)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise requests.HTTPError(f"HTTP {self.status_code}")


def _raise_for_unusable_post_answer(response: requests.Response) -> None:
    """Turn answers msal would mishandle into :class:`ProviderHTTPError`.

    msal caches 429/5xx answers to replay them to later callers (see
    ``sso_api.entra.client``) and logs the whole body of a non-JSON answer; raising here,
    before msal sees the answer, avoids both.
    """
    if response.status_code == 429 or response.status_code >= 500:
        raise ProviderHTTPError(response.status_code, response.headers.get("Retry-After"))
    try:
        json.loads(response.text)
    except ValueError:
        raise ProviderHTTPError(response.status_code) from None


class IdentityPlatformSession(requests.Session):
    """A ``requests.Session`` with a fixed trust store and timeout on every request.

    ``verify`` is the CA bundle path, or ``True`` for the system's default trust store.
    """

    def __init__(self, *, verify: str | bool, timeout: float) -> None:
        super().__init__()
        self._verify = verify
        self._timeout = timeout
        self._discovery_cache: dict[str, tuple[float, _CachedResponse]] = {}
        self._discovery_lock = threading.Lock()
        # No automatic retries: a failed call surfaces at once as a stable error code and
        # the user retries the sign-in; retries here would multiply a slow platform's delay.
        adapter = HTTPAdapter(max_retries=0, pool_maxsize=32)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        # Explicit per-request values: requests lets the environment override only the
        # session-level ones.
        kwargs["verify"] = self._verify
        kwargs["timeout"] = self._timeout
        response = super().request(method, url, *args, **kwargs)
        if str(method).upper() == "POST":
            _raise_for_unusable_post_answer(response)
        return response

    def get(self, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        """GET, answering discovery documents from the process-wide copy when fresh."""
        url_text = url.decode() if isinstance(url, bytes) else url
        if not url_text.endswith(DISCOVERY_SUFFIX) or kwargs.get("params"):
            return super().get(url, *args, **kwargs)
        with self._discovery_lock:
            cached = self._discovery_cache.get(url_text)
            if cached and time.monotonic() - cached[0] < DISCOVERY_TTL_SECONDS:
                return cached[1]
        response = _CachedResponse(super().get(url, *args, **kwargs))
        if response.status_code == 200:
            with self._discovery_lock:
                self._discovery_cache[url_text] = (time.monotonic(), response)
        return response

    def forget_discovery(self) -> None:
        """Drop cached discovery documents (after a failure that may mean they changed)."""
        with self._discovery_lock:
            self._discovery_cache.clear()
