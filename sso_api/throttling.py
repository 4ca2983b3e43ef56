"""Opt-in rate limits for the public endpoints, per DRF throttle scope.

The scopes are ``sso_start``, ``sso_token``, ``sso_exchange``, ``sso_refresh``,
``sso_logout`` (``/logout/`` and ``/logout/all/``), ``sso_frontchannel_logout`` and
``sso_sessions`` (listing and ending one's sessions). A scope is limited only when the project
gives it a rate; nothing is limited by default::

    REST_FRAMEWORK = {
        "DEFAULT_THROTTLE_RATES": {"sso_start": "30/min", "sso_token": "30/min",
                                   "sso_refresh": "60/min", "sso_logout": "30/min",
                                   "sso_frontchannel_logout": "60/min"},
    }

A limited request gets ``429`` with ``Retry-After`` and ``{"code": "throttled"}``.

Clients are told apart by the address of the socket (``REMOTE_ADDR``). DRF would take
``X-Forwarded-For`` as sent whenever its ``NUM_PROXIES`` setting is unset, so any client
could escape a limit by sending a new value with every request; here the header counts only
once the project says, with ``NUM_PROXIES``, how many proxies in front of it append to it.
"""

from __future__ import annotations

import logging
from typing import Any

from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

logger = logging.getLogger("sso_api")


class SSORateThrottle(ScopedRateThrottle):
    """DRF's scoped throttle, except that a scope without a configured rate is unlimited,
    that ``X-Forwarded-For`` is trusted only with ``NUM_PROXIES`` set, and that an
    unreachable cache lets requests through (the endpoints then answer
    ``cache_unavailable`` themselves where they need the cache)."""

    def allow_request(self, request: Any, view: Any) -> bool:
        try:
            return bool(super().allow_request(request, view))
        except Exception as exc:  # each cache backend raises its own connection errors
            logger.error("throttle cache unavailable: %s", type(exc).__name__)
            return True

    def get_rate(self) -> str | None:
        # Read on every request (DRF's class attribute is fixed at import), so settings
        # changed at run time or in tests apply.
        rates = api_settings.DEFAULT_THROTTLE_RATES
        rate = rates.get(self.scope) if self.scope else None
        return str(rate) if rate else None

    def get_ident(self, request: Any) -> str:
        """The client's address: the socket's, unless ``NUM_PROXIES`` names trusted proxies."""
        if api_settings.NUM_PROXIES is None:
            return str(request.META.get("REMOTE_ADDR", ""))
        return str(super().get_ident(request))
