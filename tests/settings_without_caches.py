"""The test settings without CACHES and with the secure callback: check sso.E001."""

from tests.settings import *  # noqa: F403

del CACHES  # noqa: F821
MICROSOFT_SSO_REQUIRE_SECURE_CALLBACK = True
