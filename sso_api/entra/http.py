"""The HTTP transport for every call to the identity platform, ours and msal's.

Two promises it keeps that a plain ``requests.Session`` handed to msal does not:

* **The configured CA bundle really is used.** ``requests`` replaces a session-level
  ``verify`` with ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` from the environment whenever the
  per-request ``verify`` is left unset, which is what msal does. This transport passes
  ``verify`` on every request, so ``MICROSOFT_SSO_CA_BUNDLE`` wins over the environment.
* **Every call has a timeout**, so a slow identity platform cannot hold a worker forever.

It also refuses POST answers msal would mishandle (see
:func:`_raise_for_unusable_post_answer`). It caches nothing: what is worth keeping (the
discovery document, the signing keys) is kept by :class:`~sso_api.entra.client.EntraClient`.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from requests.adapters import HTTPAdapter


class ProviderHTTPError(requests.HTTPError):
    """The identity platform answered a POST with 429, a 5xx status or a non-JSON body."""

    def __init__(self, status_code: int, retry_after: str | None = None) -> None:
        super().__init__(f"identity platform answered HTTP {status_code}")
        self.status_code = status_code
        self.retry_after = retry_after


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
    POST answers with 429, a 5xx status or a non-JSON body raise
    :class:`ProviderHTTPError`; every other answer is returned as it came.
    """

    def __init__(self, *, verify: str | bool, timeout: float) -> None:
        super().__init__()
        self._verify = verify
        self._timeout = timeout
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
