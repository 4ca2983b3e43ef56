"""Sign-in flows and hand-off codes, kept in a Django cache shared by all workers.

Nothing here uses the session: the browser that comes back from Microsoft (especially
with a cross-site ``form_post``) carries no cookie we could rely on, and mobile apps have no
session at all. A flow is found by its ``state``, a hand-off by its ``sso_code``.

Keys are SHA-256 hashes of those values, so whoever can read the cache (a shared Redis, a
database table) does not learn a state or code that could be replayed.

Both kinds of record are **consumed exactly once**: ``take`` reads the record and then
deletes it, and only the caller whose delete actually removed the key gets the record.
Every Django cache backend reports that (the database backend by row count, Redis by the
number of keys removed), so with 20 concurrent callbacks carrying one state, exactly one
proceeds.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache

from sso_api.exceptions import CacheUnavailable

logger = logging.getLogger("sso_api.store")

FLOW_PREFIX = "sso_api:flow:"
HANDOFF_PREFIX = "sso_api:handoff:"
# Entra access tokens already exchanged, by their ``uti``.
EXCHANGED_PREFIX = "sso_api:exchanged:"


def _key(prefix: str, secret: str) -> str:
    return prefix + hashlib.sha256(secret.encode("utf-8")).hexdigest()


class OneTimeStore:
    """Records that can be taken once, in the cache called ``cache_name``."""

    def __init__(self, cache_name: str) -> None:
        self.cache_name = cache_name

    @property
    def _cache(self) -> BaseCache:
        return caches[self.cache_name]

    def claim(self, prefix: str, secret: str, ttl_seconds: int) -> bool:
        """Mark ``secret`` as used for ``ttl_seconds``; True only for the first caller.

        The cache's own add-if-absent decides (Redis ``SET NX``, an insert for the database
        cache), so of several concurrent callers exactly one gets True. Raises
        :class:`CacheUnavailable` when the cache cannot be written.
        """
        try:
            return bool(self._cache.add(_key(prefix, secret), True, timeout=ttl_seconds))
        except Exception as exc:
            logger.error("cache %r add failed: %s", self.cache_name, type(exc).__name__)
            raise CacheUnavailable() from exc

    def put(self, prefix: str, secret: str, record: dict[str, Any], ttl_seconds: int) -> None:
        """Store ``record`` under ``secret`` for ``ttl_seconds``.

        Raises :class:`CacheUnavailable` when the cache cannot be written.
        """
        try:
            self._cache.set(_key(prefix, secret), record, timeout=ttl_seconds)
        except Exception as exc:
            # Backends raise their own error types (redis, database, memcached); whatever
            # it is, the client gets one stable code. The class name suffices for the log.
            logger.error("cache %r write failed: %s", self.cache_name, type(exc).__name__)
            raise CacheUnavailable() from exc

    def take(
        self,
        prefix: str,
        secret: str,
        *,
        check: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any] | None:
        """Return the record stored under ``secret`` and delete it, or None.

        None when there is no such record, it expired, or a concurrent caller took it.
        ``check`` sees the record before it is deleted; whatever it raises propagates and
        leaves the record in place, so a request that may not use a record cannot use it
        up either. Raises :class:`CacheUnavailable` when the cache cannot be reached.
        """
        key = _key(prefix, secret)
        try:
            record = self._cache.get(key)
        except Exception as exc:
            logger.error("cache %r read failed: %s", self.cache_name, type(exc).__name__)
            raise CacheUnavailable() from exc
        if not isinstance(record, dict):
            return None
        if check is not None:
            check(record)
        try:
            # Only the caller whose delete removed the key may use the record.
            won = self._cache.delete(key)
        except Exception as exc:
            logger.error("cache %r delete failed: %s", self.cache_name, type(exc).__name__)
            raise CacheUnavailable() from exc
        return record if won else None
