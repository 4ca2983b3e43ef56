"""An HTTP client for tests that talk to the fake identity platform as an app would."""

from __future__ import annotations

from typing import Any

import requests


class TrustingSession(requests.Session):
    """msal's http client: trusts only the fake's CA, on every request.

    ``verify`` is passed per request because requests lets REQUESTS_CA_BUNDLE override
    ``Session.verify``; ``trust_env`` is off so no proxy stands in the way of loopback.
    """

    def __init__(self, ca_bundle: str) -> None:
        super().__init__()
        self.trust_env = False
        self.ca_bundle = ca_bundle

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs["verify"] = self.ca_bundle
        kwargs.setdefault("timeout", 5)
        return super().request(method, url, *args, **kwargs)
