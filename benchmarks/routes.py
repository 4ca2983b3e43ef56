"""The paths a benchmarked sign-in goes through; shared by the server and the load.

Importable without Django's settings: ``benchmarks/run.py`` drives the sign-ins and
``benchmarks/urls.py`` serves the floor's paths.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    """Where the SPA's two requests of a sign-in go.

    ``start`` answers the authorization URL, ``redeem`` trades the hand-off code for
    tokens; the callback between them is the redirect URI the identity platform answers to.
    """

    start: str
    redeem: str


# The API's sign-in.
API = Route(start="/api/sso/start/", redeem="/api/sso/token/")
# The floor under it: the same three requests doing only the work no implementation can
# skip (benchmarks/urls.py, "The floor under a sign-in"), with a callback of its own.
FLOOR = Route(start="/bench/floor/start/", redeem="/bench/floor/token/")
FLOOR_CALLBACK_PATH = "/bench/floor/callback/"
