from __future__ import annotations

from django.apps import AppConfig


class SSOApiConfig(AppConfig):
    name = "sso_api"
    label = "sso_api"
    verbose_name = "Sign in with Microsoft"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Both imports register something as their side effect: the system checks, and
        # drf-spectacular's description of AccessTokenAuthentication (simplejwt's bearer
        # scheme), which must exist before any schema is generated, whichever view module
        # the project happens to import first.
        from sso_api import checks, schema, signals  # noqa: F401

        signals.connect()
