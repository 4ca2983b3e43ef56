"""``python -m sso_api.testing serve``: run the fake identity platform in the foreground.

For demos and manual testing. It prints exactly one line, the base URL, once the
platform accepts connections (after writing the state file, if asked), so a script
can wait for that line and then read the state file. SIGINT and SIGTERM stop it
cleanly with exit status 0.

With ``--browser-port``, the sign-in and sign-out pages are served over plain HTTP on
that port as well (and the discovery documents name them there), so a browser reaches
them without trusting the fake's CA; discovery, keys and token stay HTTPS.

The state file is JSON: ``base_url``, ``browser_base_url`` (where the pages are; the
base URL without ``--browser-port``), ``graph_url``, ``ca_bundle``, ``client_id``,
``redirect_uris``, ``authorities`` (``common``, ``organizations``), ``tenants``
(``name``, ``domain``, ``tenant_id``, ``issuer``, ``authority``), ``groups`` (``name``,
``object_id``, ``tenant_id``, ``member_of``) and ``users`` (``name``, ``email``,
``preferred_username``, ``object_id``, ``tenant_id``, ``guest``, ``disabled``,
``email_verified``, ``roles``, ``groups``: every group id with nesting,
``directory_roles``, ``group_overage``: whether tokens carry the overage indicator
instead of ``groups``). It never contains the client secret.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from .directory import FakeUser
from .identity_platform import MULTI_TENANT_SEGMENTS, FakeIdentityPlatform

__all__ = ["DEMO_PROJECT_GROUPS", "add_demo_directory", "main", "state_document"]

# Demo ids derive from fixed names, so every run of the demo has the same tenant and
# object ids and an app database keeps recognising the demo users across restarts.
_DEMO_NAMESPACE = uuid.UUID("5f1d1c1e-7a43-4c3e-9d7e-0b1a5e0d2f10")


def _demo_id(name: str) -> str:
    return str(uuid.uuid5(_DEMO_NAMESPACE, name))


#: How many "Project NNN" groups Dorothy Vaughan, the demo's user in group overage, is
#: a direct member of: with her team she is in 199 groups, which fit in a token, and the
#: groups they are nested in take her past Entra's limit of 200.
DEMO_PROJECT_GROUPS = 198


def add_demo_directory(platform: FakeIdentityPlatform) -> None:
    """Add the demo tenants, groups and users (fixed ids; see ``_demo_id``).

    Contoso (``contoso.example``): a member with a verified email and the app role
    ``Admin``, a member whose tokens lack ``xms_edov``, a guest from Fabrikam, a
    disabled user, and a member in group overage. Fabrikam (``fabrikam.example``): two
    members. No two accounts share a name or an email, so each can be told apart on the
    account picker and in the app's user list.

    Contoso's groups nest: "Platform team" is in "Engineering", which is in "Contoso
    staff", as are "Support" and "Projects"; the "Project NNN" groups are in
    "Projects". The platform's overage limit stays Entra's 200.
    """
    contoso = platform.add_tenant("Contoso", "contoso.example", tenant_id=_demo_id("contoso"))
    fabrikam = platform.add_tenant("Fabrikam", "fabrikam.example", tenant_id=_demo_id("fabrikam"))
    staff = platform.add_group(contoso, "Contoso staff", object_id=_demo_id("group:contoso-staff"))
    engineering = platform.add_group(
        contoso, "Engineering", member_of=[staff], object_id=_demo_id("group:engineering")
    )
    platform_team = platform.add_group(
        contoso, "Platform team", member_of=[engineering], object_id=_demo_id("group:platform")
    )
    support = platform.add_group(
        contoso, "Support", member_of=[staff], object_id=_demo_id("group:support")
    )
    projects = platform.add_group(
        contoso, "Projects", member_of=[staff], object_id=_demo_id("group:projects")
    )
    project_groups = [
        platform.add_group(
            contoso,
            f"Project {number:03}",
            member_of=[projects],
            object_id=_demo_id(f"group:project-{number:03}"),
        )
        for number in range(1, DEMO_PROJECT_GROUPS + 1)
    ]
    platform.add_user(
        contoso,
        name="Ada Lovelace",
        email="ada@contoso.example",
        given_name="Ada",
        family_name="Lovelace",
        roles=["Admin"],
        groups=[platform_team],
        object_id=_demo_id("ada"),
    )
    platform.add_user(
        contoso,
        name="Grace Hopper",
        email="grace@contoso.example",
        email_verified=None,
        groups=[support],
        object_id=_demo_id("grace"),
    )
    platform.add_user(
        contoso,
        name="Katherine Johnson (guest)",
        email="katherine@fabrikam.example",
        guest=True,
        home_tenant=fabrikam,
        object_id=_demo_id("katherine-guest-in-contoso"),
    )
    platform.add_user(
        contoso,
        name="Charles Babbage",
        email="charles@contoso.example",
        disabled=True,
        object_id=_demo_id("charles"),
    )
    platform.add_user(
        contoso,
        name="Dorothy Vaughan",
        email="dorothy@contoso.example",
        given_name="Dorothy",
        family_name="Vaughan",
        groups=[platform_team, *project_groups],
        directory_roles=["Global Reader"],
        object_id=_demo_id("dorothy"),
    )
    platform.add_user(
        fabrikam,
        name="Mary Jackson",
        email="mary@fabrikam.example",
        object_id=_demo_id("mary"),
    )
    platform.add_user(
        fabrikam,
        name="Alan Turing",
        email="alan@fabrikam.example",
        email_verified=False,
        object_id=_demo_id("alan"),
    )


def state_document(platform: FakeIdentityPlatform, client_id: str) -> dict[str, object]:
    """What the state file holds (see the module docstring); no secrets."""
    app = next(app for app in platform.apps if app.client_id == client_id)
    return {
        "base_url": platform.base_url,
        "browser_base_url": platform.browser_base_url,
        "graph_url": platform.graph_url,
        "ca_bundle": platform.ca_bundle,
        "client_id": client_id,
        "redirect_uris": list(app.redirect_uris),
        "authorities": {segment: platform.authority(segment) for segment in MULTI_TENANT_SEGMENTS},
        "tenants": [
            {
                "name": tenant.name,
                "domain": tenant.domain,
                "tenant_id": tenant.tenant_id,
                "issuer": tenant.issuer,
                "authority": platform.authority(tenant),
            }
            for tenant in platform.tenants
        ],
        "groups": [
            {
                "name": group.name,
                "object_id": group.object_id,
                "tenant_id": group.tenant_id,
                "member_of": list(group.member_of),
            }
            for group in platform.groups
        ],
        "users": [_user_entry(platform, user) for user in platform.users],
    }


def _user_entry(platform: FakeIdentityPlatform, user: FakeUser) -> dict[str, object]:
    groups = platform.transitive_group_ids(user)
    return {
        "name": user.name,
        "email": user.email,
        "preferred_username": user.preferred_username,
        "object_id": user.object_id,
        "tenant_id": user.tenant_id,
        "guest": user.guest,
        "disabled": user.disabled,
        "email_verified": user.email_verified,
        "roles": list(user.roles),
        "groups": list(groups),
        "directory_roles": list(user.directory_roles),
        # The id_token's groups claim is replaced by an overage indicator past the limit.
        "group_overage": len(groups) > platform.group_overage_limit,
    }


def _write_atomically(path: Path, content: str) -> None:
    # A reader polling for the file never sees it half written.
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(content, encoding="utf-8")
    os.replace(temporary, path)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sso_api.testing")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the fake Microsoft identity platform")
    serve.add_argument("--host", default="127.0.0.1", help="127.0.0.1, localhost or ::1")
    serve.add_argument("--port", type=int, default=9443, help="0 picks a free port")
    serve.add_argument(
        "--browser-port",
        type=int,
        help="also serve the sign-in and sign-out pages over plain HTTP on this port "
        "(0 picks a free one), so a browser needs no certificate; default: HTTPS only",
    )
    serve.add_argument(
        "--certificate-dir",
        type=Path,
        help="where ca.pem, server.pem and server-key.pem live (reused when still valid); "
        "default: a temporary directory",
    )
    serve.add_argument("--client-id", required=True)
    serve.add_argument("--client-secret", required=True)
    serve.add_argument("--redirect-uri", action="append", required=True, help="repeat for several")
    serve.add_argument("--front-channel-logout-url")
    serve.add_argument("--demo", action="store_true", help="add the demo tenants, groups and users")
    serve.add_argument("--state-file", type=Path, help="write base URL, ids and users as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    arguments = _parser().parse_args(argv)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        platform = FakeIdentityPlatform(
            host=arguments.host,
            port=arguments.port,
            certificate_dir=arguments.certificate_dir,
            browser_port=arguments.browser_port,
        )
    except OSError as exc:
        print(f"cannot start the fake identity platform: {exc}", file=sys.stderr)
        return 1
    with platform:
        platform.register_app(
            client_id=arguments.client_id,
            client_secret=arguments.client_secret,
            redirect_uris=arguments.redirect_uri,
            front_channel_logout_url=arguments.front_channel_logout_url,
        )
        if arguments.demo:
            add_demo_directory(platform)
        if arguments.state_file is not None:
            document = state_document(platform, arguments.client_id)
            _write_atomically(arguments.state_file, json.dumps(document, indent=2) + "\n")
        print(platform.base_url, flush=True)
        # A timed wait, so the signal handler's set() is noticed even on platforms
        # where an untimed wait is not interrupted by signals.
        while not stop.wait(0.5):
            pass
    return 0
