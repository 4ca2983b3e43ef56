"""``manage.py sso_redirect_uri https://api.example.com``: the URLs to register in Entra."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sso_api.callback_uri import callback_path, front_channel_logout_path


class Command(BaseCommand):
    help = (
        "Print the exact redirect URI (with its trailing slash) and the front-channel logout "
        "URL to register in the Entra app registration for the given base URL."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "base_url",
            help="Scheme and host (and port) the API is reached at, e.g. https://api.example.com",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        base = urlsplit(str(options["base_url"]).strip())
        if base.scheme not in ("http", "https") or not base.netloc or "@" in base.netloc:
            raise CommandError(
                "Give a base URL like https://api.example.com or http://localhost:8000"
            )
        if base.path not in ("", "/") or base.query or base.fragment:
            raise CommandError(
                "Give only scheme and host; the path comes from where sso_api.urls is mounted "
                "(with FORCE_SCRIPT_NAME included)."
            )
        origin = f"{base.scheme}://{base.netloc}"
        self.stdout.write(f"Redirect URI (Web platform):  {origin}{callback_path()}")
        logout_url = f"{origin}{front_channel_logout_path()}"
        self.stdout.write(f"Front-channel logout URL:     {logout_url}")
        if base.scheme != "https":
            self.stderr.write(
                "Note: Entra accepts http redirect URIs only for localhost, and the "
                "front-channel logout URL must be https."
            )
