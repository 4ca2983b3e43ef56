"""The suite really runs on the engines its leg names."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import caches
from django.db import connection


@pytest.mark.django_db
def test_the_leg_uses_the_database_and_cache_it_names() -> None:
    backend = type(caches["default"]).__name__
    if settings.PRODUCTION_LEG:
        assert connection.vendor == "postgresql"
        assert backend == "RedisCache"
        caches["default"].set("leg-probe", 1, 5)
        assert caches["default"].get("leg-probe") == 1
    else:
        assert connection.vendor == "sqlite"
        assert backend == "DatabaseCache"
