"""Measure what a sign-in costs: throughput, latency, outbound calls, memory, user count.

    .venv/bin/python benchmarks/run.py            # the full run (about ten minutes)
    .venv/bin/python benchmarks/run.py --quick    # fewer sign-ins, to check it works

The API is the example project under gunicorn (gthread) on PostgreSQL and Redis on
127.0.0.1, in a database this script creates and drops. The fake Microsoft identity
platform runs in a process of its own; the load comes from this process. Everything
stays on loopback. Results are printed as a Markdown report (and written with --json).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform as host
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import redis
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sso_api.entra.client import VALIDATED_ACCESS_TOKENS_KEPT  # noqa: E402
from sso_api.testing.browser import drive_authorization  # noqa: E402
from sso_api.testing.client import Pkce  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/0"
# Twice what a worker keeps of validated Entra access tokens.
FRESH_TOKENS = 2 * VALIDATED_ACCESS_TOKENS_KEPT


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- The identity platform, in its own process ------------------------------------------


def _platform_process(connection: Connection, api_port: int, users: int) -> None:
    from sso_api.testing import FakeIdentityPlatform

    with FakeIdentityPlatform(certificate_dir=tempfile.mkdtemp(prefix="sso-bench-")) as platform:
        tenant = platform.add_tenant(name="Contoso", domain="contoso.example")
        app = platform.register_app(
            redirect_uris=[f"http://127.0.0.1:{api_port}/api/sso/callback/"]
        )
        # The API also accepts Entra access tokens issued for it to a mobile app (MSAL).
        platform.expose_api(app, access_token_version=2, optional_claims=("email", "xms_edov"))
        mobile_app = platform.register_app(redirect_uris=["myapp://auth"], public_client=True)
        accounts = [
            platform.add_user(tenant, name=f"User {n}", email=f"user{n}@contoso.example")
            for n in range(users)
        ]
        people = [account.object_id for account in accounts]
        connection.send(
            {
                "authority": platform.authority(tenant),
                "tenant_id": tenant.tenant_id,
                "ca_bundle": platform.ca_bundle,
                "client_id": app.client_id,
                "client_secret": app.client_secret,
                "users": people,
                # Valid for an hour: longer than the whole throughput phase.
                "entra_access_token": platform.mint_access_token(
                    accounts[0], api=app, client=mobile_app
                ),
                # More distinct tokens than a worker remembers as validated: sent in turn,
                # every one of them is verified in full each time it comes back.
                "fresh_entra_access_tokens": [
                    platform.mint_access_token(accounts[0], api=app, client=mobile_app)
                    for _ in range(FRESH_TOKENS)
                ],
            }
        )
        while True:
            command = connection.recv()
            if command == "counts":
                connection.send(
                    {name: platform.count(name) for name in ("metadata", "keys", "token")}
                )
            elif command == "clear":
                platform.clear_requests()
                connection.send(True)
            else:
                return


# --- The API under gunicorn -------------------------------------------------------------


@dataclass
class Api:
    port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, workers: int) -> None:
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "example_project.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--worker-class",
                "gthread",
                "--threads",
                "4",
                # Longer than any pause of the load, so the server never closes a kept-alive
                # connection just as the client reuses it.
                "--keep-alive",
                "75",
                "--log-level",
                "warning",
            ],
            env=self.env,
            cwd=ROOT / "example",
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(self.url + "/bench/bare/", timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
            self.process = None

    def worker_rss_kib(self) -> int:
        """Resident memory of the (single) worker, from /proc."""
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        worker = int(children.read_text().split()[0])
        for line in Path(f"/proc/{worker}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")


# --- One sign-in, as a browser and an SPA do it ------------------------------------------


def sign_in(
    api: Api, session: requests.Session, user: str, ca_bundle: str
) -> tuple[float, dict[str, Any]]:
    """A whole sign-in; returns its duration in seconds and the JSON of /token/."""
    started_at = time.perf_counter()
    pkce = Pkce.new()
    started = session.post(
        api.url + "/api/sso/start/",
        json={
            "next": "https://spa.example.com/",
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
        },
        timeout=30,
    )
    started.raise_for_status()
    answer = drive_authorization(
        started.json()["authorization_url"], ca_bundle=ca_bundle, user_object_id=user
    )
    callback = api.url + urlsplit(answer.redirect_uri).path
    if answer.method == "POST":
        back = session.post(callback, data=answer.params, allow_redirects=False, timeout=30)
    else:
        back = session.get(callback, params=answer.params, allow_redirects=False, timeout=30)
    code = parse_qs(urlsplit(back.headers["Location"]).query)["sso_code"][0]
    tokens = session.post(
        api.url + "/api/sso/token/",
        json={"sso_code": code, "code_verifier": pkce.verifier},
        timeout=30,
    )
    tokens.raise_for_status()
    return time.perf_counter() - started_at, dict(tokens.json())


def _session() -> requests.Session:
    session = requests.Session()
    # A connection the server reset before reading the request is safe to retry.
    retry = Retry(total=2, connect=2, read=0, status=0, other=0, allowed_methods=None)
    session.mount("http://", HTTPAdapter(max_retries=retry))
    return session


def run_sign_ins(
    api: Api, count: int, concurrency: int, users: list[str], ca: str
) -> dict[str, float]:
    sessions = [_session() for _ in range(concurrency)]

    def one(index: int) -> float:
        return sign_in(api, sessions[index % concurrency], users[index % len(users)], ca)[0]

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        durations = sorted(pool.map(one, range(count)))
    elapsed = time.perf_counter() - started
    return {
        "sign_ins_per_second": count / elapsed,
        "p50_ms": 1000 * statistics.median(durations),
        "p99_ms": 1000 * durations[min(len(durations) - 1, int(len(durations) * 0.99))],
    }


# --- Throughput of single endpoints, with wrk --------------------------------------------


def wrk_rps(
    url: str, *, seconds: int, script: str | None = None, header: str | None = None
) -> float:
    command = ["wrk", "-t1", "-c8", f"-d{seconds}s", "--latency", url]
    if script:
        command[1:1] = ["-s", script]
    if header:
        command[1:1] = ["-H", header]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx or 3xx responses" in output:
        # Errors are not throughput: an expired token or a failing endpoint spoils the run.
        raise RuntimeError(f"{url} answered with errors:\n{output}")
    for line in output.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    raise RuntimeError(output)


# A request per token, in turn: each token comes back after all the others.
ROTATING_BEARER_SCRIPT = """local tokens = {%s}
local next_token = 0
request = function()
  next_token = next_token %% #tokens + 1
  return wrk.format("GET", nil, {["Authorization"] = "Bearer " .. tokens[next_token]})
end
"""

START_SCRIPT = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"next": "/", "code_challenge": "%s", "code_challenge_method": "S256"}'
"""


# Ratios taken against another endpoint than the bare one: the Entra bearer view against
# the same view under simplejwt's stateless authentication.
_BASELINES = {"entra_view": "simplejwt_view", "entra_view_fresh_tokens": "simplejwt_view"}


def measure_throughput(
    api: Api,
    access_token: str,
    entra_token: str,
    fresh_entra_tokens: list[str],
    seconds: int,
    rounds: int,
) -> dict[str, Any]:
    """Requests per second of /start/, /me/ and the reference endpoints, with ratios.

    Each round measures every endpoint for ``seconds``, back to back, starting one
    endpoint later than the round before, and every ratio is taken within its round: a
    slow stretch of the shared machine then weighs on both sides of it. For each ratio
    the median round is reported (with its own requests per second), and the lowest and
    highest ratio of all rounds.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(START_SCRIPT % Pkce.new().challenge)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as rotating:
        rotating.write(ROTATING_BEARER_SCRIPT % ",".join(f'"{t}"' for t in fresh_entra_tokens))
    endpoints: dict[str, Callable[[], float]] = {
        "bare_drf": lambda: wrk_rps(api.url + "/bench/bare/", seconds=seconds),
        "one_cache_write": lambda: wrk_rps(api.url + "/bench/one-cache-write/", seconds=seconds),
        "one_redis_set": lambda: wrk_rps(api.url + "/bench/one-redis-set/", seconds=seconds),
        "start": lambda: wrk_rps(api.url + "/api/sso/start/", seconds=seconds, script=script.name),
        "me": lambda: wrk_rps(
            api.url + "/api/sso/me/",
            seconds=seconds,
            header=f"Authorization: Bearer {access_token}",
        ),
        "simplejwt_view": lambda: wrk_rps(
            api.url + "/bench/simplejwt/",
            seconds=seconds,
            header=f"Authorization: Bearer {access_token}",
        ),
        "entra_view": lambda: wrk_rps(
            api.url + "/bench/entra/",
            seconds=seconds,
            header=f"Authorization: Bearer {entra_token}",
        ),
        "entra_view_fresh_tokens": lambda: wrk_rps(
            api.url + "/bench/entra/", seconds=seconds, script=rotating.name
        ),
    }
    names = list(endpoints)
    measured: list[dict[str, float]] = []
    try:
        for round_number in range(rounds):
            order = names[round_number % len(names) :] + names[: round_number % len(names)]
            measured.append({name: endpoints[name]() for name in order})
    finally:
        os.unlink(script.name)
        os.unlink(rotating.name)
    ratios = {}
    for name in names[1:]:
        base = _BASELINES.get(name, "bare_drf")
        by_ratio = sorted(measured, key=lambda row: row[name] / row[base])
        median_round = by_ratio[(len(by_ratio) - 1) // 2]
        ratios[name] = {
            "median": median_round[name] / median_round[base],
            "low": by_ratio[0][name] / by_ratio[0][base],
            "high": by_ratio[-1][name] / by_ratio[-1][base],
            "rps": median_round[name],
            "bare_rps": median_round[base],
        }
    return {"ratios": ratios, "rounds": rounds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, to check the script")
    parser.add_argument("--workers", type=int, default=2, help="workers of the multi-worker run")
    parser.add_argument("--json", type=Path, help="also write the results here")
    arguments = parser.parse_args()
    sign_ins = 100 if arguments.quick else 500
    memory_sign_ins = 300 if arguments.quick else 10_000
    big_table = 20_000 if arguments.quick else 1_000_000
    wrk_seconds = 3 if arguments.quick else 10
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed (Debian: apt-get install wrk)")

    api_port = _free_port()
    ours, theirs = multiprocessing.Pipe()
    platform_process = multiprocessing.Process(
        target=_platform_process, args=(theirs, api_port, 50), daemon=True
    )
    platform_process.start()
    idp = ours.recv()
    database = f"sso_bench_{os.getpid()}"
    admin = psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True)
    admin.execute(f'CREATE DATABASE "{database}"')
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MICROSOFT_SSO_")},
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'example'}",
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "SSO_BENCH_DATABASE": database,
        "SSO_BENCH_CACHE_PREFIX": f"sso-bench-{secrets.token_hex(4)}",
        "SSO_BENCH_REDIS_URL": REDIS_URL,
        # Longer than the whole throughput phase, which uses one access token throughout.
        "SSO_ACCESS_TOKEN_SECONDS": "3600",
        "MICROSOFT_SSO_APPLICATION_ID": idp["client_id"],
        "MICROSOFT_SSO_CLIENT_SECRET": idp["client_secret"],
        "MICROSOFT_SSO_TENANT_ID": idp["tenant_id"],
        "MICROSOFT_SSO_AUTHORITY": idp["authority"],
        "MICROSOFT_SSO_CA_BUNDLE": idp["ca_bundle"],
        "MICROSOFT_SSO_ALLOWABLE_DOMAINS": "*",
    }
    subprocess.run(
        [sys.executable, str(ROOT / "example" / "manage.py"), "migrate", "--noinput", "-v", "0"],
        env=env,
        check=True,
    )
    api = Api(port=api_port, env=env)
    users, ca = idp["users"], idp["ca_bundle"]
    results: dict[str, Any] = {
        "machine": f"{host.machine()}, {os.cpu_count()} cores, Python {host.python_version()}, "
        f"{host.platform()}",
    }
    try:
        for workers in (1, arguments.workers):
            api.start(workers)
            run_sign_ins(api, 30, 4, users, ca)  # warm: discovery, keys, connections
            ours.send("clear")
            ours.recv()
            measured = run_sign_ins(api, sign_ins, 8, users, ca)
            ours.send("counts")
            counts = ours.recv()
            measured["outbound_calls_per_sign_in"] = sum(counts.values()) / sign_ins
            measured["outbound_breakdown"] = counts
            results[f"sign_ins_{workers}_workers"] = measured
            if workers == 1:
                _, tokens = sign_in(api, requests.Session(), users[0], ca)
                results["throughput"] = measure_throughput(
                    api,
                    tokens["access"],
                    idp["entra_access_token"],
                    idp["fresh_entra_access_tokens"],
                    wrk_seconds,
                    rounds=1 if arguments.quick else 3,
                )
            api.stop()

        api.start(1)
        run_sign_ins(api, 200, 4, users, ca)
        before = api.worker_rss_kib()
        run_sign_ins(api, memory_sign_ins, 8, users, ca)
        after = api.worker_rss_kib()
        results["memory_kib"] = {
            "before": before,
            "after": after,
            "growth": after - before,
            "sign_ins": memory_sign_ins,
        }

        by_size = {}
        with psycopg.connect(
            host="127.0.0.1", user="postgres", dbname=database, autocommit=True
        ) as db:
            for size in (1_000, big_table):
                _fill_users(db, size)
                run_sign_ins(api, 50, 4, users, ca)
                by_size[size] = run_sign_ins(api, 300 if not arguments.quick else 100, 4, users, ca)
        results["latency_by_user_count"] = by_size
        api.stop()
    finally:
        api.stop()
        ours.send("stop")
        platform_process.join(timeout=10)
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()
        _delete_keys(env["SSO_BENCH_CACHE_PREFIX"])

    print(_report(results, arguments.workers))
    if arguments.json:
        arguments.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


def _delete_keys(prefix: str) -> None:
    """Remove what the run left in Redis: pending flows and the reference writes."""
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])


def _fill_users(db: psycopg.Connection[Any], total: int) -> None:
    """Add plain users (with identities) until the table holds ``total`` rows."""
    current = db.execute("SELECT count(*) FROM auth_user").fetchone()[0]  # type: ignore[index]
    missing = total - current
    if missing <= 0:
        return
    db.execute(
        """
        WITH new_users AS (
            INSERT INTO auth_user (password, is_superuser, username, first_name, last_name,
                                   email, is_staff, is_active, date_joined)
            SELECT '!', false, 'filler-' || g || '-' || md5(random()::text), '', '', '',
                   false, true, now()
            FROM generate_series(1, %s) AS g
            RETURNING id
        )
        INSERT INTO sso_api_microsoftidentity (user_id, tenant_id, object_id, created_at,
                                               roles_json)
        SELECT id, 'filler-tenant', gen_random_uuid()::text, now(), '[]' FROM new_users
        """,
        (missing,),
    )
    db.execute("ANALYZE")


def _report(results: dict[str, Any], workers: int) -> str:
    one, many = results["sign_ins_1_workers"], results[f"sign_ins_{workers}_workers"]
    throughput, memory = results["throughput"], results["memory_kib"]

    def ratio(name: str) -> str:
        measured = throughput["ratios"][name]
        spread = ""
        if throughput["rounds"] > 1:
            spread = f", rounds {measured['low']:.2f}-{measured['high']:.2f}"
        return (
            f"{measured['median']:.2f} ({measured['rps']:.0f} vs {measured['bare_rps']:.0f} "
            f"req/s{spread})"
        )

    sizes = results["latency_by_user_count"]
    small, large = (sizes[key] for key in sorted(sizes))
    lines = [
        f"Machine: {results['machine']}",
        "",
        "| Measure | Result | Target |",
        "|---|---|---|",
        f"| Sign-ins per second, 1 worker | {one['sign_ins_per_second']:.1f} "
        f"(p50 {one['p50_ms']:.0f} ms, p99 {one['p99_ms']:.0f} ms) | |",
        f"| Sign-ins per second, {workers} workers | {many['sign_ins_per_second']:.1f} "
        f"(p50 {many['p50_ms']:.0f} ms, p99 {many['p99_ms']:.0f} ms) | |",
        f"| Calls to the identity platform per sign-in (steady state) | "
        f"{one['outbound_calls_per_sign_in']:.2f} ({one['outbound_breakdown']}) | exactly 1 |",
        f"| `/start/` throughput vs a bare DRF endpoint | {ratio('start')} | >= 0.80 |",
        f"| The bare endpoint plus one flow-sized write to the flow cache, vs the bare "
        f"endpoint: the most `/start/` can reach | {ratio('one_cache_write')} | |",
        f"| The same write as one redis-py SET, bypassing Django's cache layer | "
        f"{ratio('one_redis_set')} | |",
        f"| Bearer `/me/` throughput vs a bare DRF endpoint | {ratio('me')} | >= 0.85 |",
        f"| A view under `EntraAccessTokenAuthentication` vs the same view under simplejwt's "
        f"stateless authentication | {ratio('entra_view')} | >= 0.85 |",
        f"| The same, with {FRESH_TOKENS:,} Entra tokens in turn, so that each is verified "
        f"in full (no validated token remembered): the floor under the line above | "
        f"{ratio('entra_view_fresh_tokens')} | |",
        f"| Worker memory growth over {memory['sign_ins']} sign-ins | "
        f"{memory['growth'] / 1024:.1f} MB ({memory['before'] / 1024:.0f} -> "
        f"{memory['after'] / 1024:.0f} MB) | < 5 MB |",
        f"| Sign-in p50 with {min(sizes):,} vs {max(sizes):,} users | "
        f"{small['p50_ms']:.0f} ms vs {large['p50_ms']:.0f} ms "
        f"({large['p50_ms'] / small['p50_ms']:.2f}x) | within 20% |",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
