from __future__ import annotations

from django.apps import AppConfig


class SSOApiConfig(AppConfig):
    name = "sso_api"
    label = "sso_api"
    verbose_name = "Sign in with Microsoft"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registering the checks is the import's side effect.
        from sso_api import checks  # noqa: F401
