"""Run the whole demo on loopback: identity platform, API and single-page app.

    python example/run_demo.py [--api-port 8000] [--spa-port 5173] [--platform-port 9443]
                               [--platform-browser-port 9080] [--verbose]

* The identity platform is the project's fake (``sso_api.testing``) with demo tenants and
  users, unless ``MICROSOFT_SSO_APPLICATION_ID``, ``MICROSOFT_SSO_CLIENT_SECRET`` and
  ``MICROSOFT_SSO_TENANT_ID`` are set: then it is the real Microsoft Entra ID. The fake
  serves the pages a browser is sent to (sign-in, sign-out) over plain HTTP on
  ``--platform-browser-port``, so no browser meets a certificate warning; the API's own
  calls (discovery, keys, token) go over HTTPS and trust the fake's CA through
  ``MICROSOFT_SSO_CA_BUNDLE``, as they would trust Microsoft's.
* The API is the example project on SQLite and the database cache, migrated here. Its
  request log goes to ``api.log`` in the state directory (to this terminal with
  ``--verbose``), so the banner stays readable. Against the fake, every app role becomes
  a Django group (the example's default) and two of Contoso's groups are mapped to Django
  groups (``MICROSOFT_SSO_GROUP_MAP``); a user in too many groups for a token has them
  read from the fake's Microsoft Graph (``MICROSOFT_SSO_GRAPH_URL``).
* The SPA is ``frontend_example/dist`` (build it first), served on its own origin with a
  ``config.json`` that points it at the API.
* Swagger UI (``/api/docs/``) signs in through the API's own flow, or with its
  "Authorize" dialog (the ``entraOAuth2`` scheme): against the fake, its app registration
  is a public client of its own whose "Single-page application" redirect URI is Swagger
  UI's ``oauth2-redirect.html``, and the demo's registration exposes the API
  (``api://demo-client/access_as_user``), so Swagger UI gets an Entra access token for it
  and sends it as a bearer token. Against the real Entra ID, export
  ``SSO_SWAGGER_CLIENT_ID`` for such a registration of your own (docs/openapi.md).

Once everything answers, it prints a banner (the URL to open, the demo accounts and what
each shows, their app roles and groups, Swagger UI, the admin report, the log file, how to
stop), writes ``demo.json`` (URLs, tenants, groups, users, database path) into the state
directory for tools and tests, and stops everything on Ctrl-C or SIGTERM. Besides the SPA,
``myapp://auth`` may receive a sign-in's ``sso_code``, so a mobile developer can try
``/start/?redirect=true&next=myapp://auth``.

The API runs with ``DJANGO_DEBUG=1`` (runserver then serves Swagger UI's static files) but
never with the example's published development key: Django's SECRET_KEY and the key that
signs the API's tokens are random, made on the first start and kept in the state directory
(``django-secret-key`` and ``jwt-signing-key``, readable by their owner only), so signed-in
users stay signed in across restarts.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sso_api.testing import FakeIdentityPlatform  # noqa: E402
from sso_api.testing.cli import add_demo_directory, state_document  # noqa: E402

REAL_ENTRA_VARIABLES = (
    "MICROSOFT_SSO_APPLICATION_ID",
    "MICROSOFT_SSO_CLIENT_SECRET",
    "MICROSOFT_SSO_TENANT_ID",
)
#: The custom-scheme return address a native app would use; allowed as ``next`` in the demo.
MOBILE_APP_NEXT = "myapp://auth"
#: The tenant the demo's API lets in; the fake's other tenant shows a refusal.
ALLOWED_DEMO_TENANT = "Contoso"
#: The allowed tenant's groups that the demo maps (by object id, in
#: ``MICROSOFT_SSO_GROUP_MAP``) to Django groups of the same names.
MAPPED_DEMO_GROUPS = ("Contoso staff", "Engineering")
#: The example project's view that only holders of the ``Admin`` app role may read.
ADMIN_REPORT_PATH = "/api/example/admin-report/"
#: Where the example serves drf-spectacular-sidecar's oauth2-redirect.html (its settings'
#: ``SWAGGER_UI_OAUTH2_REDIRECT_PATH``): Swagger UI's redirect URI, on the API's origin.
SWAGGER_UI_OAUTH2_REDIRECT_PATH = (
    "/static/drf_spectacular_sidecar/swagger-ui-dist/oauth2-redirect.html"
)
#: The client id of Swagger UI's own app registration on the fake.
SWAGGER_UI_CLIENT_ID = "demo-swagger-ui"
#: The authority segment the demo's API (and Swagger UI) sign in at, on the fake.
DEMO_AUTHORITY_SEGMENT = "organizations"


class _SpaHandler(SimpleHTTPRequestHandler):
    """Serves the built SPA, its config.json, and index.html for unknown paths."""

    config: bytes = b"{}"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/config.json":
            self._send(self.config, "application/json")
            return
        if path != "/" and not (Path(self.directory) / path.lstrip("/")).is_file():
            self.path = "/"  # client-side routes land on the app
        super().do_GET()

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet


def _wait_for(
    url: str, server: subprocess.Popen[bytes], log: Path | None, timeout: float = 30.0
) -> None:
    """Return once ``url`` answers over HTTP.

    Exits, with the end of the server's ``log`` when there is one, if ``server`` ends
    first or ``timeout`` seconds pass. Probe a URL that answers without authentication:
    a 401 would be logged by the API as an ``Unauthorized`` warning at every start.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (loopback URL)
                return
        except urllib.error.HTTPError:
            return  # any HTTP answer means the server is up
        except OSError:
            time.sleep(0.2)
    tail = log.read_text(errors="replace").splitlines()[-20:] if log is not None else []
    if server.poll() is not None:
        reason = f"the server for {url} stopped"
    else:
        reason = f"{url} did not come up within {timeout:.0f} s"
    raise SystemExit("\n".join([*tail, reason]))


def _account_outcome(user: dict[str, Any], allowed_tenant_ids: set[str]) -> str:
    """What signing in as a demo user (a state document's entry) shows in the demo."""
    if user["tenant_id"] not in allowed_tenant_ids:
        return "refused: tenant_not_allowed (not an allowed tenant)"
    if user["disabled"]:
        return "refused at Microsoft: access_denied (account disabled)"
    if user["guest"]:
        return "signs in as a guest; a guest's email is never trusted"
    if user["email_verified"] is None:
        return "signs in; no xms_edov claim, so the email is not trusted"
    if not user["email_verified"]:
        return "signs in; the email is marked unverified, so it is not trusted"
    return "signs in; verified email"


def _demo_group_map(platform: dict[str, Any]) -> dict[str, str]:
    """``MICROSOFT_SSO_GROUP_MAP`` for the demo: the object id of each of the allowed
    tenant's ``MAPPED_DEMO_GROUPS`` -> a Django group of the same name.

    ``platform`` is the fake's state document.
    """
    allowed = {t["tenant_id"] for t in platform["tenants"] if t["name"] == ALLOWED_DEMO_TENANT}
    return {
        group["object_id"]: group["name"]
        for group in platform["groups"]
        if group["tenant_id"] in allowed and group["name"] in MAPPED_DEMO_GROUPS
    }


def _authorization_facts(user: dict[str, Any], group_names: dict[str, str]) -> list[str]:
    """What Entra says about a demo user (a state document's entry) beyond who they are:
    their app roles and groups, one fact a line; none when they have neither.

    ``group_names`` maps group object ids to names.
    """
    facts = []
    if user["roles"]:
        plural = "s" if len(user["roles"]) > 1 else ""
        facts.append(f"app role{plural} {', '.join(user['roles'])}")
    if user["group_overage"]:
        facts.append(
            f"in {len(user['groups'])} groups: over the token's limit, read from Microsoft Graph"
        )
    elif user["groups"]:
        facts.append("in " + ", ".join(group_names[group_id] for group_id in user["groups"]))
    return facts


def _start_url_for_mobile_apps(api_origin: str) -> tuple[str, str]:
    """A ready-to-open ``/start/`` URL returning to ``myapp://auth``, and its PKCE verifier."""
    verifier = secrets.token_urlsafe(32)
    digest = hashlib.sha256(verifier.encode()).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    query = urllib.parse.urlencode(
        {
            "redirect": "true",
            "next": MOBILE_APP_NEXT,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
        safe=":/",
    )
    return f"{api_origin}/api/sso/start/?{query}", verifier


def _shown(path: Path | str) -> str:
    """``path`` as the banner shows it: relative to the working directory when inside it."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _banner(
    *,
    spa_origin: str,
    api_origin: str,
    api_log: Path | None,
    platform: dict[str, Any] | None,
    entra_tenant: str | None,
) -> str:
    """What the demo prints once it is up: where to go, who to be, how to stop.

    ``platform`` is the fake's state document (None against the real Entra ID, whose
    tenant is ``entra_tenant``); ``api_log`` is where the API's request log goes (None
    with ``--verbose``).
    """
    mobile_url, mobile_verifier = _start_url_for_mobile_apps(api_origin)
    lines = [
        "",
        "  Sign in with Microsoft: the demo is running.",
        "",
        f'  Open {spa_origin}/ and press "Sign in with Microsoft".',
        "",
    ]
    if platform is not None:
        tenant_names = {tenant["tenant_id"]: tenant["name"] for tenant in platform["tenants"]}
        allowed = {tid for tid, name in tenant_names.items() if name == ALLOWED_DEMO_TENANT}
        name_width = max(len(user["name"]) for user in platform["users"])
        tenant_width = max(len(name) for name in tenant_names.values())
        lines.append(
            "  Demo accounts, to pick on the fake Microsoft sign-in page "
            f"({ALLOWED_DEMO_TENANT} is the allowed tenant):"
        )
        lines += [
            f"    {user['name']:<{name_width}}  {tenant_names[user['tenant_id']]:<{tenant_width}}"
            f"  {_account_outcome(user, allowed)}"
            for user in platform["users"]
        ]
        lines += ['    "Cancel" on that page comes back as access_denied.', ""]
        group_names = {group["object_id"]: group["name"] for group in platform["groups"]}
        authorized = [
            (user["name"], _authorization_facts(user, group_names))
            for user in platform["users"]
            if user["tenant_id"] in allowed and not user["disabled"]
        ]
        authorized = [(name, facts) for name, facts in authorized if facts]
        if authorized:
            mapped = " and ".join(sorted(set(_demo_group_map(platform).values())))
            lines += [
                "  Their app roles and groups in Entra. Every app role becomes a Django group,",
                f"  and so do {mapped} (MICROSOFT_SSO_GROUP_MAP):",
            ]
            width = max(len(name) for name, _ in authorized)
            for name, facts in authorized:
                lines += [
                    f"    {name if index == 0 else '':<{width}}  {fact}"
                    for index, fact in enumerate(facts)
                ]
            lines.append("")
    else:
        lines += [
            f"  Signing in against the real Microsoft Entra ID, tenant {entra_tenant}. Register",
            f"  {api_origin}/api/sso/callback/ as a Web redirect URI of the app.",
            "",
        ]
    lines += [
        f'  Swagger UI    {api_origin}/api/docs/ signs in too: "Sign in with Microsoft" (our',
        "                tokens; then try /me/), or Authorize > entraOAuth2 (an Entra token;",
        "                then try the admin report)",
        f"  Admin report  {api_origin}{ADMIN_REPORT_PATH}",
        "                answers the app role Admin only (the SPA has a button for it)",
        f"  Mobile apps   next={MOBILE_APP_NEXT} is allowed. Open in a browser:",
        f"                {mobile_url}",
        f"                then redeem the sso_code with code_verifier {mobile_verifier}",
    ]
    if platform is not None:
        lines += [
            f"  Sign-in pages {platform['browser_base_url']}/ (plain HTTP: no certificate "
            "warning);",
            f"                the API calls {platform['base_url']}/ over HTTPS, trusting",
            f"                {_shown(platform['ca_bundle'])}",
        ]
    lines += [
        f"  API log       {_shown(api_log)} (--verbose shows it here instead)"
        if api_log is not None
        else "  API log       below, in this terminal (--verbose)",
        "",
        "  Press Ctrl-C to stop everything.",
        "",
    ]
    return "\n".join(lines)


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(  # noqa: S603 (fixed command line)
        [sys.executable, str(ROOT / "example" / "manage.py"), *args], env=env, check=True
    )


def _demo_secret(state_dir: Path, filename: str) -> str:
    """The random secret kept in ``state_dir / filename``, made on first use.

    A new secret is written to a file created with mode 0600 and then renamed into place,
    so the secret is never readable by others, not even for a moment, and a start that is
    interrupted leaves no half-written key behind. An existing file is reused (and
    narrowed to 0600).
    """
    path = state_dir / filename
    if path.is_file():
        stored = path.read_text().strip()
        if stored:
            path.chmod(0o600)
            return stored
    secret = secrets.token_urlsafe(50)
    unfinished = path.with_name(path.name + ".new")
    unfinished.unlink(missing_ok=True)
    descriptor = os.open(unfinished, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(secret + "\n")
    os.replace(unfinished, path)
    return secret


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api-port", type=int, default=8000)
    parser.add_argument("--spa-port", type=int, default=5173)
    parser.add_argument(
        "--platform-port",
        type=int,
        default=9443,
        help="the fake identity platform's HTTPS port (discovery, keys, token)",
    )
    parser.add_argument(
        "--platform-browser-port",
        type=int,
        default=9080,
        help="the fake identity platform's plain-HTTP port (sign-in and sign-out pages)",
    )
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".demo")
    parser.add_argument("--spa-dist", type=Path, default=ROOT / "frontend_example" / "dist")
    parser.add_argument(
        "--access-token-seconds", type=int, default=300, help="lifetime of access tokens"
    )
    parser.add_argument(
        "--refresh-margin-seconds",
        type=int,
        default=30,
        help="how long before expiry the SPA refreshes its access token",
    )
    parser.add_argument("--response-mode", choices=("form_post", "query"), default="form_post")
    parser.add_argument(
        "--consent",
        action="store_true",
        help="the fake identity platform asks for consent after the account is picked",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show the API's request log here instead of writing it to api.log "
        "in the state directory",
    )
    arguments = parser.parse_args()

    state_dir: Path = arguments.state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    if not (arguments.spa_dist / "index.html").is_file():
        raise SystemExit(f"{arguments.spa_dist} has no index.html: build the SPA first")
    api_origin = f"http://127.0.0.1:{arguments.api_port}"
    spa_origin = f"http://127.0.0.1:{arguments.spa_port}"
    database = state_dir / "db.sqlite3"

    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        # Explicit: an inherited DJANGO_SETTINGS_MODULE (a test runner's) must not win.
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "EXAMPLE_DATABASE": str(database),
        "SSO_SPA_ORIGINS": spa_origin,
        "SSO_ACCESS_TOKEN_SECONDS": str(arguments.access_token_seconds),
        "MICROSOFT_SSO_RESPONSE_MODE": arguments.response_mode,
        "MICROSOFT_SSO_LOGOUT_REDIRECT_PATH": spa_origin + "/",
        "MICROSOFT_SSO_REFRESH_COOKIE": "1",
        # Besides the SPA (SSO_SPA_ORIGINS), a native app's custom scheme may receive the
        # sso_code, so /start/?redirect=true&next=myapp://auth can be tried.
        "MICROSOFT_SSO_ALLOWED_REDIRECT_URLS": ",".join(
            filter(None, [os.environ.get("MICROSOFT_SSO_ALLOWED_REDIRECT_URLS"), MOBILE_APP_NEXT])
        ),
        # Debug for runserver's static files (Swagger UI, Redoc); the keys are this
        # state directory's own, so nothing is signed with the published example key.
        "DJANGO_DEBUG": "1",
        "DJANGO_SECRET_KEY": _demo_secret(state_dir, "django-secret-key"),
        "DJANGO_JWT_SIGNING_KEY": _demo_secret(state_dir, "jwt-signing-key"),
    }
    # The demo signs with its HS256 key above; RS256 key files exported for another
    # project would conflict with it (the settings refuse both at once).
    for name in ("DJANGO_JWT_PRIVATE_KEY_FILE", "DJANGO_JWT_PUBLIC_KEY_FILE"):
        env.pop(name, None)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    platform: FakeIdentityPlatform | None = None
    api_log = None if arguments.verbose else state_dir / "api.log"
    demo: dict[str, Any] = {
        "api": api_origin,
        "spa": spa_origin,
        "database": str(database),
        "api_log": str(api_log) if api_log is not None else None,
    }
    entra_tenant: str | None = None
    if all(os.environ.get(name) for name in REAL_ENTRA_VARIABLES):
        entra_tenant = os.environ["MICROSOFT_SSO_TENANT_ID"]
        # SSO_SWAGGER_AUTHORITY too: Swagger UI reaches Microsoft where the API does.
        for name in ("MICROSOFT_SSO_AUTHORITY", "MICROSOFT_SSO_CA_BUNDLE", "SSO_SWAGGER_AUTHORITY"):
            env.pop(name, None)
    else:
        # The pages over plain HTTP: a browser that does not know the fake's CA (any
        # browser) signs in without a certificate warning.
        platform = FakeIdentityPlatform(
            port=arguments.platform_port,
            certificate_dir=state_dir / "certificates",
            browser_port=arguments.platform_browser_port,
        )
        client_secret = secrets.token_urlsafe(24)
        demo_app = platform.register_app(
            client_id="demo-client",
            client_secret=client_secret,
            redirect_uris=[f"{api_origin}/api/sso/callback/"],
            front_channel_logout_url=f"{api_origin}/api/sso/logout/frontchannel/",
        )
        # Expose an API as docs/msal-apps.md registers it: api://demo-client/access_as_user,
        # with the email claims, so a user first seen through an Entra token gets their
        # email as at a browser sign-in.
        platform.expose_api(demo_app, optional_claims=("idtyp", "email", "xms_edov"))
        # Swagger UI's own registration: a single-page app, whose code is redeemed from the
        # browser at the fake's token endpoint, cross-origin.
        platform.register_app(
            client_id=SWAGGER_UI_CLIENT_ID,
            spa_redirect_uris=[api_origin + SWAGGER_UI_OAUTH2_REDIRECT_PATH],
            public_client=True,
        )
        add_demo_directory(platform)
        platform.faults.require_consent = arguments.consent
        platform.start()
        document = state_document(platform, "demo-client")
        allowed = next(t for t in document["tenants"] if t["name"] == ALLOWED_DEMO_TENANT)  # type: ignore[attr-defined]
        env.update(
            {
                "MICROSOFT_SSO_APPLICATION_ID": "demo-client",
                "MICROSOFT_SSO_CLIENT_SECRET": client_secret,
                "MICROSOFT_SSO_TENANT_ID": DEMO_AUTHORITY_SEGMENT,
                "MICROSOFT_SSO_AUTHORITY": platform.authority(DEMO_AUTHORITY_SEGMENT),
                "MICROSOFT_SSO_CA_BUNDLE": platform.ca_bundle,
                # Contoso may sign in, Fabrikam may not: both outcomes can be tried. It
                # also keeps Fabrikam's administrators from granting the app's roles,
                # which become Django groups here (check sso.W016).
                "MICROSOFT_SSO_ALLOWED_TENANTS": allowed["tenant_id"],
                # Two of Contoso's groups become Django groups; Dorothy Vaughan is in
                # too many groups for her token, so her sign-in reads them from the
                # fake's Microsoft Graph.
                "MICROSOFT_SSO_GROUP_MAP": json.dumps(_demo_group_map(document)),
                "MICROSOFT_SSO_GRAPH_URL": platform.graph_url,
                # Swagger UI's browser reaches the fake where every browser does, over
                # plain HTTP: its sign-in page and, cross-origin, its token endpoint.
                "SSO_SWAGGER_CLIENT_ID": SWAGGER_UI_CLIENT_ID,
                "SSO_SWAGGER_AUTHORITY": f"{platform.browser_base_url}/{DEMO_AUTHORITY_SEGMENT}",
            }
        )
        demo["identity_platform"] = document

    api: subprocess.Popen[bytes] | None = None
    spa: ThreadingHTTPServer | None = None
    log_file = api_log.open("wb") if api_log is not None else None
    try:
        _manage(env, "migrate", "--noinput", "-v", "0")
        _manage(env, "createcachetable", "-v", "0")
        api = subprocess.Popen(  # noqa: S603 (fixed command line)
            [
                sys.executable,
                str(ROOT / "example" / "manage.py"),
                "runserver",
                f"127.0.0.1:{arguments.api_port}",
                "--noreload",
                "--skip-checks",
            ],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT if log_file is not None else None,
        )
        _wait_for(f"{api_origin}/api/docs/", api, api_log)

        config = {
            "apiBase": f"{api_origin}/api/sso/",
            "cookieMode": True,
            "refreshMarginSeconds": arguments.refresh_margin_seconds,
        }
        handler = functools.partial(_SpaHandler, directory=str(arguments.spa_dist))
        _SpaHandler.config = json.dumps(config).encode()
        spa = ThreadingHTTPServer(("127.0.0.1", arguments.spa_port), handler)
        threading.Thread(target=spa.serve_forever, daemon=True).start()

        banner = _banner(
            spa_origin=spa_origin,
            api_origin=api_origin,
            api_log=api_log,
            platform=demo.get("identity_platform"),
            entra_tenant=entra_tenant,
        )
        print(banner, flush=True)
        # Written aside and renamed: readers poll for the file and must never see half of it.
        pending = state_dir / "demo.json.tmp"
        pending.write_text(json.dumps(demo, indent=2) + "\n")
        os.replace(pending, state_dir / "demo.json")
        while not stop.wait(0.5):
            if api.poll() is not None:
                where = f"; its log is {api_log}" if api_log is not None else ""
                print(f"The API stopped{where}.", file=sys.stderr)
                return 1
        return 0
    finally:
        if spa is not None:
            spa.shutdown()
        if api is not None and api.poll() is None:
            api.terminate()
            try:
                api.wait(timeout=10)
            except subprocess.TimeoutExpired:
                api.kill()
        if platform is not None:
            platform.stop()
        if log_file is not None:
            log_file.close()
        (state_dir / "demo.json").unlink(missing_ok=True)


if __name__ == "__main__":
    raise SystemExit(main())
