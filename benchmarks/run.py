"""Measure what a sign-in costs: CPU, queries, cache commands, throughput, memory, users.

    .venv/bin/python benchmarks/run.py            # the full run (about twenty minutes)
    .venv/bin/python benchmarks/run.py --quick    # fewer sign-ins and rounds, to check it works

The API is the example project under gunicorn (gthread) on PostgreSQL, in a database this
script creates and drops, and on a Redis server this script starts on a spare port and
stops, so that Redis's command statistics count the API's commands and nobody else's. The
fake Microsoft identity platform runs in a process of its own; the load comes from this
process (and from ``wrk`` for single endpoints). Everything stays on loopback. Results are
printed as a Markdown report (and written with --json).

CPU is the worker process's own, all its threads: its POSIX CPU-time clock
(``clock_getcpuclockid``, in nanoseconds), or where that cannot be read its utime + stime
from /proc/<pid>/stat (in clock ticks), read before and after a batch of requests, so
nothing else on the machine is counted in it.
Statements, rows written, health checks and commits are counted inside the worker
(``/bench/counters/``, see benchmarks/urls.py); Redis commands are the difference of
``INFO commandstats`` around the batch.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import multiprocessing
import os
import platform as host
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
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

from benchmarks.routes import API, FLOOR, FLOOR_CALLBACK_PATH, Route  # noqa: E402
from sso_api.entra.client import VALIDATED_ACCESS_TOKENS_KEPT  # noqa: E402
from sso_api.store import FLOW_PREFIX, HANDOFF_PREFIX  # noqa: E402
from sso_api.testing.browser import AuthorizationRejected, drive_authorization  # noqa: E402
from sso_api.testing.client import Pkce  # noqa: E402

# Twice what a worker keeps of validated Entra access tokens.
FRESH_TOKENS = 2 * VALIDATED_ACCESS_TOKENS_KEPT
# Accounts at the fake identity platform. The first WARM_USERS sign in while the server
# warms up; each of the others signs in for the first time while the counters run.
USERS = 50
WARM_USERS = 10
# Clients at once: for the sign-ins and for wrk alike, so that the CPU of a sign-in and
# of a bare request are taken under the same concurrency.
CONCURRENCY = 8
# Gunicorn's threads per worker.
THREADS = 4
# A sign-in is three requests to the API (start, Microsoft's answer, /token/): it cannot
# cost less than three bare requests.
REQUESTS_PER_SIGN_IN = 3


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
            redirect_uris=[
                f"http://127.0.0.1:{api_port}/api/sso/callback/",
                # The floor under a sign-in (benchmarks/urls.py) has a callback of its own.
                f"http://127.0.0.1:{api_port}{FLOOR_CALLBACK_PATH}",
            ]
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


# --- Redis, a server of the benchmark's own ----------------------------------------------


@dataclass
class RedisServer:
    """A Redis server on a spare loopback port, without persistence (as a cache runs).

    Its command statistics then hold the API's commands only: the shared Redis of a
    development machine also serves other people's tests.
    """

    executable: str
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers; raises RuntimeError if it does not."""
        self.process = subprocess.Popen(
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                tempfile.gettempdir(),
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def redis_reading(client: redis.Redis) -> dict[str, int]:
    """Calls per command since the server started, and ``connections``: those accepted.

    Redis counts a command once it has run, so an INFO is not in its own answer but in
    the next one: ``info`` is left out, which leaves out this script's own commands.
    """
    calls = {
        name.removeprefix("cmdstat_").upper(): int(stats["calls"])
        for name, stats in client.info("commandstats").items()
        if name != "cmdstat_info"
    }
    calls["connections"] = int(client.info("stats")["total_connections_received"])
    return calls


# --- The API under gunicorn -------------------------------------------------------------


# The C library of this process, for clock_getcpuclockid (POSIX), which Python lacks.
_LIBC = ctypes.CDLL(None, use_errno=True)


def _process_cpu_clock(pid: int) -> int | None:
    """The id of process ``pid``'s CPU-time clock, or None where there is none to read."""
    clock = ctypes.c_int()  # clockid_t
    if _LIBC.clock_getcpuclockid(pid, ctypes.byref(clock)) != 0:
        return None
    return int(clock.value)


@dataclass(frozen=True)
class CpuReading:
    """The CPU time a process has used so far: all its threads, ended ones included."""

    # From the process's CPU-time clock, in nanoseconds; None when it cannot be read.
    ns: int | None
    # utime + stime from /proc/<pid>/stat, in clock ticks (usually 1/100 s).
    ticks: int

    @classmethod
    def of(cls, pid: int) -> CpuReading:
        clock = _process_cpu_clock(pid)
        try:
            ns = None if clock is None else time.clock_gettime_ns(clock)
        except OSError:
            ns = None
        # The command name, in parentheses, may contain spaces: count fields after it.
        after_name = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        utime, stime = int(after_name[11]), int(after_name[12])  # fields 14 and 15
        return cls(ns=ns, ticks=utime + stime)

    def seconds_since(self, earlier: CpuReading) -> tuple[float, str]:
        """CPU seconds used between ``earlier`` and this reading, and what they were read from.

        The clock counts in nanoseconds; the ticks, used when the clock could not be read,
        are exact to a tick, which over a batch of thousands of requests is still fine.
        """
        if self.ns is not None and earlier.ns is not None:
            return (self.ns - earlier.ns) / 1e9, "process CPU-time clock"
        return (self.ticks - earlier.ticks) / os.sysconf("SC_CLK_TCK"), "/proc clock ticks"


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
                str(THREADS),
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
                requests.get(self.url + "/bench/bare/", timeout=10)
                return
            # Refused until gunicorn listens; the first answer may be slow on a busy machine
            # (the worker imports the project on its first request).
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
            self.process = None

    def worker_pid(self) -> int:
        """The process id of the only worker; raises RuntimeError unless there is one."""
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        workers = children.read_text().split()
        if len(workers) != 1:
            raise RuntimeError(f"expected one worker, found {len(workers)}")
        return int(workers[0])

    def worker_rss_kib(self) -> int:
        """Resident memory of the (single) worker, from /proc."""
        for line in Path(f"/proc/{self.worker_pid()}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def worker_counters(self) -> dict[str, Any]:
        """The worker's running totals (benchmarks/urls.py, ``WorkerCounters.reading``)."""
        answer = requests.get(self.url + "/bench/counters/", timeout=10)
        answer.raise_for_status()
        reading: dict[str, Any] = answer.json()
        if reading["pid"] != self.worker_pid():
            raise RuntimeError("the counters came from another process than the worker")
        return reading


# --- One sign-in, as a browser and an SPA do it ------------------------------------------


class SignInFailed(Exception):
    """A sign-in that did not end with tokens; the message says at which step and why."""


def _refusal(step: str, answer: requests.Response) -> SignInFailed:
    try:
        code = answer.json().get("code", "")
    except ValueError:
        code = ""
    return SignInFailed(f"{step}: HTTP {answer.status_code} {code}".rstrip())


def sign_in(
    api: Api, session: requests.Session, user: str, ca_bundle: str, route: Route = API
) -> tuple[float, dict[str, Any]]:
    """A whole sign-in; returns its duration in seconds and the JSON of /token/.

    Raises :class:`SignInFailed` when the API or the identity platform refuses a step,
    and ``requests``' errors when a connection fails.
    """
    started_at = time.perf_counter()
    sso_code, pkce = signed_in_up_to_the_callback(api, session, user, ca_bundle, route)
    tokens = session.post(
        api.url + route.redeem,
        json={"sso_code": sso_code, "code_verifier": pkce.verifier},
        timeout=30,
    )
    if tokens.status_code != 200:
        raise _refusal("/token/", tokens)
    return time.perf_counter() - started_at, dict(tokens.json())


def start(api: Api, session: requests.Session, pkce: Pkce, route: Route = API) -> requests.Response:
    """POST /start/ as the SPA does, bound to ``pkce``'s challenge."""
    return session.post(
        api.url + route.start,
        json={
            "next": "https://spa.example.com/",
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
        },
        timeout=30,
    )


def signed_in_up_to_the_callback(
    api: Api, session: requests.Session, user: str, ca_bundle: str, route: Route = API
) -> tuple[str, Pkce]:
    """/start/, the identity platform, the callback: the sso_code and the PKCE pair.

    Raises :class:`SignInFailed` as :func:`sign_in` does.
    """
    pkce = Pkce.new()
    started = start(api, session, pkce, route)
    if started.status_code != 200:
        raise _refusal("/start/", started)
    try:
        answer = drive_authorization(
            started.json()["authorization_url"], ca_bundle=ca_bundle, user_object_id=user
        )
    except AuthorizationRejected as exc:
        raise SignInFailed(f"identity platform: {exc.error}") from exc
    callback = api.url + urlsplit(answer.redirect_uri).path
    if answer.method == "POST":
        back = session.post(callback, data=answer.params, allow_redirects=False, timeout=30)
    else:
        back = session.get(callback, params=answer.params, allow_redirects=False, timeout=30)
    sent_to = parse_qs(urlsplit(back.headers.get("Location", "")).query)
    if "sso_code" not in sent_to:
        reason = sent_to.get("sso_error", [f"HTTP {back.status_code}"])[0]
        raise SignInFailed(f"callback: {reason}")
    return sent_to["sso_code"][0], pkce


def _new_keys(cache: redis.Redis, pattern: str, before: set[bytes]) -> list[bytes]:
    return [key for key in cache.scan_iter(match=pattern) if key not in before]


def held_bytes(api: Api, cache: redis.Redis, user: str, ca: str) -> dict[str, int]:
    """What Redis holds for one pending flow and for one unredeemed hand-off code.

    ``MEMORY USAGE`` (the value, the key and Redis's own overhead for them) of the record
    a /start/ leaves behind, and of the one a callback leaves until /token/.
    """
    flows, handoffs = f"*{FLOW_PREFIX}*", f"*{HANDOFF_PREFIX}*"
    flows_before, handoffs_before = (
        set(cache.scan_iter(match=flows)),
        set(cache.scan_iter(match=handoffs)),
    )
    session = _session()
    start(api, session, Pkce.new()).raise_for_status()
    (flow_key,) = _new_keys(cache, flows, flows_before)
    flow_bytes = int(cache.memory_usage(flow_key) or 0)
    signed_in_up_to_the_callback(api, session, user, ca)
    (handoff_key,) = _new_keys(cache, handoffs, handoffs_before)
    return {
        "flow": flow_bytes,
        "handoff": int(cache.memory_usage(handoff_key) or 0),
    }


def _session() -> requests.Session:
    session = requests.Session()
    # A connection the server reset before reading the request is safe to retry.
    retry = Retry(total=2, connect=2, read=0, status=0, other=0, allowed_methods=None)
    session.mount("http://", HTTPAdapter(max_retries=retry))
    return session


def run_sign_ins(
    api: Api,
    count: int,
    concurrency: int,
    users: Sequence[str],
    ca: str,
    route: Route = API,
) -> dict[str, Any]:
    """``count`` sign-ins, ``concurrency`` at a time, by ``users`` in turn, through ``route``.

    A sign-in that fails is counted, with its reason, and the others go on: the share of
    failures is a result. Rates and latencies are those of the sign-ins that succeeded.
    """
    sessions = [_session() for _ in range(concurrency)]

    def one(index: int) -> float | str:
        try:
            user = users[index % len(users)]
            return sign_in(api, sessions[index % concurrency], user, ca, route)[0]
        except SignInFailed as exc:
            return str(exc)
        except requests.RequestException as exc:
            return f"connection: {type(exc).__name__}"
        except Exception as exc:  # an answer of a shape no step expects
            return f"unexpected: {type(exc).__name__}"

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        outcomes = list(pool.map(one, range(count)))
    elapsed = time.perf_counter() - started
    durations = sorted(outcome for outcome in outcomes if isinstance(outcome, float))
    failures = Counter(outcome for outcome in outcomes if isinstance(outcome, str))
    return {
        "attempted": count,
        "failed": sum(failures.values()),
        "failures": dict(failures),
        "sign_ins_per_second": len(durations) / elapsed,
        "p50_ms": 1000 * statistics.median(durations) if durations else float("nan"),
        "p99_ms": (
            1000 * durations[min(len(durations) - 1, int(len(durations) * 0.99))]
            if durations
            else float("nan")
        ),
    }


# --- What the worker does: CPU, statements, Redis commands --------------------------------


def _difference(after: Mapping[str, Any], before: Mapping[str, Any]) -> dict[str, Any]:
    """``after - before``, key by key, for numbers in mappings nested to any depth."""
    return {
        key: (
            _difference(value, before.get(key, {}))
            if isinstance(value, Mapping)
            else value - before.get(key, 0)
        )
        for key, value in after.items()
    }


def _add(total: dict[str, Any], more: Mapping[str, Any]) -> None:
    """Add ``more`` to ``total`` in place, key by key (nested as in :func:`_difference`)."""
    for key, value in more.items():
        if isinstance(value, Mapping):
            _add(total.setdefault(key, {}), value)
        else:
            total[key] = total.get(key, 0) + value


def counted_sign_ins(
    api: Api,
    cache: redis.Redis,
    count: int,
    users: Sequence[str],
    ca: str,
    route: Route = API,
) -> dict[str, Any]:
    """``count`` sign-ins through ``route`` with what the worker spent on them: CPU,
    database, Redis.

    The worker's counters and Redis's statistics are read just outside the CPU readings,
    so the reading requests themselves cost no CPU in the result.
    """
    counters_before, redis_before = api.worker_counters()["totals"], redis_reading(cache)
    pid = api.worker_pid()
    cpu_before = CpuReading.of(pid)
    outcome = run_sign_ins(api, count, CONCURRENCY, users, ca, route)
    cpu_seconds, cpu_source = CpuReading.of(pid).seconds_since(cpu_before)
    counters = _difference(api.worker_counters()["totals"], counters_before)
    return {
        **outcome,
        "cpu_seconds": cpu_seconds,
        "cpu_source": cpu_source,
        "worker": counters,
        "redis": _difference(redis_reading(cache), redis_before),
    }


def bare_requests_cpu(api: Api, seconds: int) -> dict[str, Any]:
    """Worker CPU per request of the bare endpoint, under wrk for ``seconds``."""
    pid = api.worker_pid()
    cpu_before = CpuReading.of(pid)
    measured = wrk(api.url + "/bench/bare/", seconds=seconds)
    cpu_seconds, cpu_source = CpuReading.of(pid).seconds_since(cpu_before)
    return {"requests": measured.requests, "cpu_seconds": cpu_seconds, "cpu_source": cpu_source}


def measure_cpu(
    api: Api,
    cache: redis.Redis,
    *,
    rounds: int,
    sign_ins: int,
    bare_seconds: int,
    users: Sequence[str],
    ca: str,
) -> dict[str, Any]:
    """Worker CPU per sign-in, per floor sign-in and per bare request, in ``rounds``
    interleaved rounds.

    Each round runs ``sign_ins`` sign-ins, as many through the floor (:data:`FLOOR`) and
    ``bare_seconds`` of bare requests, each round starting one step later than the one
    before, and takes the ratios within the round. Per measure, the median round and the
    lowest and highest are reported. The worker's counters and Redis's commands are summed
    over every round's sign-ins, and apart over the floor's.
    """
    per_round: list[dict[str, float]] = []
    totals: dict[str, Any] = {}
    floor_totals: dict[str, Any] = {}
    sources: set[str] = set()
    steps: dict[str, Callable[[], dict[str, Any]]] = {
        "sign_ins": lambda: counted_sign_ins(api, cache, sign_ins, users, ca),
        "floor": lambda: counted_sign_ins(api, cache, sign_ins, users, ca, FLOOR),
        "bare": lambda: bare_requests_cpu(api, bare_seconds),
    }
    names = list(steps)
    kept = ("attempted", "failed", "failures", "worker", "redis")
    for round_number in range(rounds):
        order = names[round_number % len(names) :] + names[: round_number % len(names)]
        done = {step: steps[step]() for step in order}
        signed_in, floor, bare = done["sign_ins"], done["floor"], done["bare"]
        sources.update(step["cpu_source"] for step in done.values())
        _add(totals, {key: signed_in[key] for key in kept})
        _add(floor_totals, {key: floor[key] for key in kept})
        sign_in_ms = 1000 * signed_in["cpu_seconds"] / sign_ins
        floor_ms = 1000 * floor["cpu_seconds"] / sign_ins
        bare_ms = 1000 * bare["cpu_seconds"] / bare["requests"]
        per_round.append(
            {
                "sign_in_ms": sign_in_ms,
                "floor_ms": floor_ms,
                "bare_ms": bare_ms,
                "ratio": sign_in_ms / bare_ms,
                "floor_ratio": floor_ms / bare_ms,
                "vs_floor": sign_in_ms / floor_ms,
            }
        )
    return {
        "rounds": per_round,
        **{
            measure: _spread([row[measure] for row in per_round])
            for measure in ("sign_in_ms", "floor_ms", "bare_ms", "ratio", "floor_ratio", "vs_floor")
        },
        "cpu_source": " and ".join(sorted(sources)),
        "totals": totals,
        "floor_totals": floor_totals,
    }


def _spread(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"median": ordered[(len(ordered) - 1) // 2], "low": ordered[0], "high": ordered[-1]}


# --- Throughput of single endpoints, with wrk --------------------------------------------


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    requests: int


def wrk(
    url: str, *, seconds: int, script: str | None = None, header: str | None = None
) -> WrkResult:
    """Load ``url`` for ``seconds`` with one thread and CONCURRENCY connections.

    Raises RuntimeError when any answer is not 2xx or 3xx: errors are not throughput, and
    an expired token or a failing endpoint would otherwise pass for a fast one.
    """
    command = ["wrk", "-t1", f"-c{CONCURRENCY}", f"-d{seconds}s", "--latency", url]
    if script:
        command[1:1] = ["-s", script]
    if header:
        command[1:1] = ["-H", header]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx or 3xx responses" in output:
        raise RuntimeError(f"{url} answered with errors:\n{output}")
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    total = re.search(r"^\s*(\d+) requests in ", output, re.MULTILINE)
    if rate is None or total is None:
        raise RuntimeError(output)
    return WrkResult(requests_per_second=float(rate.group(1)), requests=int(total.group(1)))


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

# Each reported ratio: (endpoint, the endpoint it is divided by), both from one round.
COMPARISONS = {
    "start": ("start", "one_cache_write"),
    "start_vs_bare": ("start", "bare_drf"),
    "one_cache_write": ("one_cache_write", "bare_drf"),
    "one_redis_set": ("one_redis_set", "bare_drf"),
    "floor_start": ("floor_start", "one_cache_write"),
    "start_vs_floor": ("start", "floor_start"),
    "me": ("me", "simplejwt_view"),
    "me_vs_bare": ("me", "bare_drf"),
    "simplejwt_view": ("simplejwt_view", "bare_drf"),
    "entra_view": ("entra_view", "simplejwt_view"),
    "entra_view_fresh_tokens": ("entra_view_fresh_tokens", "simplejwt_view"),
}


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
    highest ratio of all rounds. ``/me/`` and simplejwt's view get the very same header,
    so the token they verify is the same, byte for byte.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(START_SCRIPT % Pkce.new().challenge)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as rotating:
        rotating.write(ROTATING_BEARER_SCRIPT % ",".join(f'"{t}"' for t in fresh_entra_tokens))
    ours = f"Authorization: Bearer {access_token}"
    endpoints: dict[str, Callable[[], WrkResult]] = {
        "bare_drf": lambda: wrk(api.url + "/bench/bare/", seconds=seconds),
        "one_cache_write": lambda: wrk(api.url + "/bench/one-cache-write/", seconds=seconds),
        "one_redis_set": lambda: wrk(api.url + "/bench/one-redis-set/", seconds=seconds),
        "start": lambda: wrk(api.url + API.start, seconds=seconds, script=script.name),
        "floor_start": lambda: wrk(api.url + FLOOR.start, seconds=seconds, script=script.name),
        "me": lambda: wrk(api.url + "/api/sso/me/", seconds=seconds, header=ours),
        "simplejwt_view": lambda: wrk(api.url + "/bench/simplejwt/", seconds=seconds, header=ours),
        "entra_view": lambda: wrk(
            api.url + "/bench/entra/",
            seconds=seconds,
            header=f"Authorization: Bearer {entra_token}",
        ),
        "entra_view_fresh_tokens": lambda: wrk(
            api.url + "/bench/entra/", seconds=seconds, script=rotating.name
        ),
    }
    names = list(endpoints)
    measured: list[dict[str, float]] = []
    try:
        for round_number in range(rounds):
            order = names[round_number % len(names) :] + names[: round_number % len(names)]
            measured.append({name: endpoints[name]().requests_per_second for name in order})
    finally:
        os.unlink(script.name)
        os.unlink(rotating.name)
    ratios = {}
    for row, (name, base) in COMPARISONS.items():
        by_ratio = sorted(measured, key=lambda each: each[name] / each[base])
        median_round = by_ratio[(len(by_ratio) - 1) // 2]
        ratios[row] = {
            "median": median_round[name] / median_round[base],
            "low": by_ratio[0][name] / by_ratio[0][base],
            "high": by_ratio[-1][name] / by_ratio[-1][base],
            "rps": median_round[name],
            "base_rps": median_round[base],
        }
    return {"ratios": ratios, "rounds": rounds, "access_token_bytes": len(access_token)}


# --- The run -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """How much of everything a run does: --quick checks the script, the full run measures."""

    sign_ins: int
    memory_sign_ins: int
    big_table: int
    latency_sign_ins: int
    wrk_seconds: int
    throughput_rounds: int
    cpu_rounds: int
    cpu_sign_ins: int
    cpu_bare_seconds: int

    @classmethod
    def for_run(cls, quick: bool) -> Sizes:
        if quick:
            return cls(
                sign_ins=100,
                memory_sign_ins=300,
                big_table=20_000,
                latency_sign_ins=100,
                wrk_seconds=3,
                throughput_rounds=1,
                cpu_rounds=3,
                cpu_sign_ins=40,
                cpu_bare_seconds=2,
            )
        return cls(
            sign_ins=500,
            memory_sign_ins=10_000,
            big_table=1_000_000,
            latency_sign_ins=300,
            wrk_seconds=8,
            throughput_rounds=5,
            cpu_rounds=5,
            cpu_sign_ins=200,
            cpu_bare_seconds=5,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, to check the script")
    parser.add_argument("--workers", type=int, default=2, help="workers of the multi-worker run")
    parser.add_argument("--json", type=Path, help="also write the results here")
    arguments = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed (Debian: apt-get install wrk)")
    redis_server = shutil.which("redis-server")
    if not redis_server:
        raise SystemExit("redis-server is needed (Debian: apt-get install redis-server)")

    # Each resource is released (in reverse order) however the run ends.
    with contextlib.ExitStack() as cleanup:
        api_port = _free_port()
        ours, theirs = multiprocessing.Pipe()
        platform_process = multiprocessing.Process(
            target=_platform_process, args=(theirs, api_port, USERS), daemon=True
        )
        platform_process.start()
        cleanup.callback(_stop_platform, ours, platform_process)
        idp = ours.recv()
        cache_server = RedisServer(redis_server)
        cleanup.callback(cache_server.stop)
        cache_server.start()
        database = f"sso_bench_{os.getpid()}"
        admin = psycopg.connect(
            host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
        )
        cleanup.callback(admin.close)
        admin.execute(f'CREATE DATABASE "{database}"')
        cleanup.callback(admin.execute, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MICROSOFT_SSO_")},
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'example'}",
            "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "SSO_BENCH_DATABASE": database,
            "SSO_BENCH_CACHE_PREFIX": f"sso-bench-{secrets.token_hex(4)}",
            "SSO_BENCH_REDIS_URL": cache_server.url,
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
            [sys.executable, str(ROOT / "example" / "manage.py"), "migrate", "--noinput", "-v0"],
            env=env,
            check=True,
        )
        api = Api(port=api_port, env=env)
        cleanup.callback(api.stop)
        results = measure(
            api,
            idp,
            ours,
            redis.Redis.from_url(cache_server.url),
            database,
            Sizes.for_run(arguments.quick),
            arguments.workers,
        )

    print(_report(results, arguments.workers))
    if arguments.json:
        arguments.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


def _stop_platform(pipe: Connection, process: multiprocessing.Process) -> None:
    pipe.send("stop")
    process.join(timeout=10)


def measure(
    api: Api,
    idp: dict[str, Any],
    platform: Connection,
    cache: redis.Redis,
    database: str,
    sizes: Sizes,
    workers: int,
) -> dict[str, Any]:
    """Everything the report shows, measured on ``api`` (stopped) against ``idp``.

    ``platform`` is the pipe to the identity platform's process (it counts the API's calls
    to it), ``cache`` a client of the API's Redis, ``database`` the API's database.
    """
    users, ca = idp["users"], idp["ca_bundle"]
    results: dict[str, Any] = {
        "machine": f"{host.machine()}, {os.cpu_count()} cores, Python {host.python_version()}, "
        f"{host.platform()}",
        # Sign-ins outside the measures that report their own failures.
        "other_sign_ins": {"attempted": 0, "failed": 0, "failures": {}},
    }

    def background(outcome: dict[str, Any]) -> None:
        _add(results["other_sign_ins"], {key: outcome[key] for key in ("attempted", "failed")})
        _add(results["other_sign_ins"]["failures"], outcome["failures"])

    for worker_count in (1, workers):
        api.start(worker_count)
        # Warm: discovery, keys, connections; creates the first users. As many clients as
        # later, so that every thread of the worker has opened its connections.
        background(run_sign_ins(api, 30, CONCURRENCY, users[:WARM_USERS], ca))
        if worker_count == 1:
            # The floor's paths too, so that neither side of a ratio pays a first time.
            background(run_sign_ins(api, 30, CONCURRENCY, users[:WARM_USERS], ca, FLOOR))
            results["first_sign_ins"] = counted_sign_ins(
                api, cache, USERS - WARM_USERS, users[WARM_USERS:], ca
            )
        platform.send("clear")
        platform.recv()
        measured = run_sign_ins(api, sizes.sign_ins, CONCURRENCY, users, ca)
        platform.send("counts")
        counts = platform.recv()
        measured["outbound_calls_per_sign_in"] = sum(counts.values()) / sizes.sign_ins
        measured["outbound_breakdown"] = counts
        results[f"sign_ins_{worker_count}_workers"] = measured
        if worker_count == 1:
            results["cpu"] = measure_cpu(
                api,
                cache,
                rounds=sizes.cpu_rounds,
                sign_ins=sizes.cpu_sign_ins,
                bare_seconds=sizes.cpu_bare_seconds,
                users=users,
                ca=ca,
            )
            results["database"] = api.worker_counters()["database"]
            results["held_bytes"] = held_bytes(api, cache, users[0], ca)
            _, tokens = sign_in(api, requests.Session(), users[0], ca)
            results["throughput"] = measure_throughput(
                api,
                tokens["access"],
                idp["entra_access_token"],
                idp["fresh_entra_access_tokens"],
                sizes.wrk_seconds,
                rounds=sizes.throughput_rounds,
            )
        api.stop()

    api.start(1)
    background(run_sign_ins(api, 200, 4, users, ca))
    before = api.worker_rss_kib()
    background(run_sign_ins(api, sizes.memory_sign_ins, CONCURRENCY, users, ca))
    after = api.worker_rss_kib()
    results["memory_kib"] = {
        "before": before,
        "after": after,
        "growth": after - before,
        "sign_ins": sizes.memory_sign_ins,
    }

    by_size = {}
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname=database, autocommit=True) as db:
        for size in (1_000, sizes.big_table):
            _fill_users(db, size)
            background(run_sign_ins(api, 50, 4, users, ca))
            by_size[size] = run_sign_ins(api, sizes.latency_sign_ins, 4, users, ca)
            background(by_size[size])
    results["latency_by_user_count"] = by_size
    api.stop()
    return results


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
                                               roles_json, email, email_trusted)
        SELECT id, 'filler-tenant', gen_random_uuid()::text, now(), '[]', '', false
        FROM new_users
        """,
        (missing,),
    )
    db.execute("ANALYZE")


# --- The report --------------------------------------------------------------------------


def _per(total: float, count: int) -> str:
    return f"{total / count:.2f}".rstrip("0").rstrip(".")


def _breakdown(totals: Mapping[str, int], count: int) -> str:
    """``totals`` per sign-in, largest first, as "NAME n, NAME n"; "none" when empty."""
    shown = sorted(((n, name) for name, n in totals.items() if n), key=lambda x: (-x[0], x[1]))
    return ", ".join(f"{name} {_per(n, count)}" for n, name in shown) or "none"


def _failed(outcome: Mapping[str, Any]) -> str:
    share = 100 * outcome["failed"] / outcome["attempted"]
    reasons = "".join(f"; {reason}: {n}" for reason, n in sorted(outcome["failures"].items()))
    return f"failed {outcome['failed']} of {outcome['attempted']} ({share:.1f}%{reasons})"


def _per_sign_in(counted: Mapping[str, Any]) -> dict[str, str]:
    """What :func:`counted_sign_ins` counted, per sign-in, as text for the report."""
    worker, count = counted["worker"], counted["attempted"]
    commands = {name: n for name, n in counted["redis"].items() if name != "connections"}

    def total_and_parts(parts: Mapping[str, int]) -> str:
        return f"{_per(sum(parts.values()), count)} ({_breakdown(parts, count)})"

    return {
        "statements": total_and_parts(worker["statements"]),
        "unseen": f"{_per(worker['health_checks'], count)}, {_per(worker['commits'], count)}",
        "rows": total_and_parts(worker["rows_written"]),
        "redis": total_and_parts(commands),
    }


def _database_rows(returning: Mapping[str, Any], first: Mapping[str, Any]) -> list[str]:
    """The worker's database work and the Redis commands per sign-in, as report rows.

    Each row gives a returning user's sign-in, then (after ";") a first sign-in, which
    creates the user and the identity.
    """
    again, new = _per_sign_in(returning), _per_sign_in(first)
    opened = sum(
        counted["worker"]["connections_opened"] + counted["redis"]["connections"]
        for counted in (returning, first)
    )
    return [
        "| SQL statements per sign-in: a returning user; a first sign-in (creates the user) "
        f"| {again['statements']}; {new['statements']} | |",
        "| Also per sign-in, not seen as statements: connection health checks (`SELECT 1`), "
        f"transactions committed | {again['unseen']}; {new['unseen']} | |",
        f"| Rows written per sign-in: a returning user; a first sign-in | {again['rows']}; "
        f"{new['rows']} | |",
        f"| Redis commands per sign-in: a returning user; a first sign-in | {again['redis']}; "
        f"{new['redis']} | |",
        f"| Database and Redis connections opened during those sign-ins | {opened} | 0 |",
    ]


def _connections(database: Mapping[str, Any]) -> str:
    """How the worker held its database connections, from its settings."""
    checked = "on" if database["conn_health_checks"] else "off"
    if database["pool"]:
        return f"a psycopg pool per process (CONN_HEALTH_CHECKS {checked})"
    age = database["conn_max_age"]
    if age == 0:
        return "a new one for each request (CONN_MAX_AGE 0)"
    kept = "for good" if age is None else f"for up to {age} s"
    return f"persistent, each kept {kept} (CONN_MAX_AGE), CONN_HEALTH_CHECKS {checked}"


def _report(results: dict[str, Any], workers: int) -> str:
    one, many = results["sign_ins_1_workers"], results[f"sign_ins_{workers}_workers"]
    throughput, memory, cpu = results["throughput"], results["memory_kib"], results["cpu"]
    first, steady = results["first_sign_ins"], cpu["totals"]
    floor_count = cpu["floor_totals"]["attempted"]
    floor_statements = sum(cpu["floor_totals"]["worker"]["statements"].values())
    floor_redis = sum(
        n for name, n in cpu["floor_totals"]["redis"].items() if name != "connections"
    )

    def ratio(name: str) -> str:
        measured = throughput["ratios"][name]
        spread = ""
        if throughput["rounds"] > 1:
            spread = f", rounds {measured['low']:.2f}-{measured['high']:.2f}"
        return (
            f"{measured['median']:.2f} ({measured['rps']:.0f} vs {measured['base_rps']:.0f} "
            f"req/s{spread})"
        )

    def spread(measure: Mapping[str, float], unit: str, digits: int) -> str:
        median, low, high = (f"{measure[key]:.{digits}f}" for key in ("median", "low", "high"))
        return f"{median}{unit} (rounds {low}-{high})"

    sizes = results["latency_by_user_count"]
    small, large = (sizes[key] for key in sorted(sizes))
    token_bytes = throughput["access_token_bytes"]
    lines = [
        f"Machine: {results['machine']}",
        f"Database connections: {_connections(results['database'])}; gunicorn gthread, "
        f"{THREADS} threads per worker; {CONCURRENCY} clients at once",
        "",
        "| Measure | Result | Target |",
        "|---|---|---|",
        f"| Sign-ins per second, 1 worker | {one['sign_ins_per_second']:.1f} "
        f"(p50 {one['p50_ms']:.0f} ms, p99 {one['p99_ms']:.0f} ms) | |",
        f"| Sign-ins per second, {workers} workers | {many['sign_ins_per_second']:.1f} "
        f"(p50 {many['p50_ms']:.0f} ms, p99 {many['p99_ms']:.0f} ms) | |",
        f"| Sign-ins that failed, {CONCURRENCY} at once, 1 worker | {_failed(one)} | 0 |",
        f"| Sign-ins that failed, {CONCURRENCY} at once, {workers} workers | {_failed(many)} | 0 |",
        f"| Worker CPU per sign-in (/start/, Microsoft's answer, /token/), 1 worker | "
        f"{spread(cpu['sign_in_ms'], ' ms', 2)} | |",
        f"| Worker CPU per bare DRF request, same worker | {spread(cpu['bare_ms'], ' ms', 3)} | |",
        f"| CPU per sign-in vs per bare request ({len(cpu['rounds'])} interleaved rounds, "
        f"{cpu['cpu_source']}) | {spread(cpu['ratio'], 'x', 1)} | <= 10x |",
        f"| The floor: worker CPU per sign-in through the same {REQUESTS_PER_SIGN_IN} requests "
        f"doing only the work no sign-in can skip (msal's flow, one HTTPS token call, the "
        f"id_token's RS256 check, {_per(floor_statements, floor_count)} SQL statements, "
        f"{_per(floor_redis, floor_count)} Redis commands, two simplejwt tokens) | "
        f"{spread(cpu['floor_ms'], ' ms', 2)} | |",
        f"| The floor vs a bare request: the least a sign-in can cost on this stack | "
        f"{spread(cpu['floor_ratio'], 'x', 1)} | |",
        f"| A sign-in vs its floor: what the API adds (validation, rules, roles, audit, "
        f"sessions, errors) | {spread(cpu['vs_floor'], 'x', 2)} | |",
        *_database_rows(steady, first),
        f"| Calls to the identity platform per sign-in (steady state) | "
        f"{one['outbound_calls_per_sign_in']:.2f} ({one['outbound_breakdown']}) | exactly 1 |",
        f"| `/start/` throughput vs a bare DRF endpoint that writes one flow-sized record to "
        f"the flow cache | {ratio('start')} | >= 0.80 |",
        f"| The floor under `/start/` (the same endpoint plus msal's flow: state, nonce, "
        f"PKCE verifier) vs the one-write endpoint: the most `/start/` can reach with msal | "
        f"{ratio('floor_start')} | |",
        f"| `/start/` vs that floor: what the API adds (request validation, `next` and "
        f"challenge checks, the callback URI) | {ratio('start_vs_floor')} | |",
        f"| `/start/` vs a bare DRF endpoint (as reported before) | {ratio('start_vs_bare')} | |",
        f"| The one-write endpoint vs the bare endpoint | {ratio('one_cache_write')} | |",
        f"| The same write as one redis-py SET, bypassing Django's cache layer, vs the bare "
        f"endpoint | {ratio('one_redis_set')} | |",
        f"| Bearer `/me/` throughput vs a view under simplejwt's stateless authentication, "
        f"with the same access token ({token_bytes} bytes) | {ratio('me')} | >= 0.90 |",
        f"| Bearer `/me/` throughput vs a bare DRF endpoint (as reported before) | "
        f"{ratio('me_vs_bare')} | |",
        f"| simplejwt's stateless view vs a bare DRF endpoint: the floor under the line "
        f"above | {ratio('simplejwt_view')} | |",
        f"| A view under `EntraAccessTokenAuthentication` vs the same view under simplejwt's "
        f"stateless authentication | {ratio('entra_view')} | >= 0.85 |",
        f"| The same, with {FRESH_TOKENS:,} Entra tokens in turn, so that each is verified "
        f"in full (no validated token remembered): the floor under the line above | "
        f"{ratio('entra_view_fresh_tokens')} | |",
        f"| Worker memory growth over {memory['sign_ins']:,} sign-ins | "
        f"{memory['growth'] / 1024:.1f} MB ({memory['before'] / 1024:.0f} -> "
        f"{memory['after'] / 1024:.0f} MB) | < 5 MB |",
        f"| Sign-in p50 with {min(sizes):,} vs {max(sizes):,} users | "
        f"{small['p50_ms']:.0f} ms vs {large['p50_ms']:.0f} ms "
        f"({large['p50_ms'] / small['p50_ms']:.2f}x) | within 20% |",
        f"| Every other sign-in of the run (warm-up, counted and CPU rounds, memory, user "
        f"counts) | "
        f"{_failed(_merged_failures(results['other_sign_ins'], steady, first))} | 0 |",
        *capacity(results),
    ]
    return "\n".join(lines)


# What the capacity plan assumes beside what the run measured.
CAPACITY_RATES = (100, 1_000, 10_000)
# Cores kept busy at most this much, leaving room for bursts and the rest of the host.
CPU_UTILISATION = 0.7
# How long a person typically spends at Microsoft between /start/ and the callback, and
# how long a flow is kept when they never come back (MICROSOFT_SSO_TIMEOUT, 10 minutes).
TYPICAL_SECONDS_AT_MICROSOFT = 30
FLOW_LIFETIME_SECONDS = 600
# How long a hand-off code typically waits for /token/, and at most (HANDOFF_TTL_SECONDS).
TYPICAL_HANDOFF_SECONDS = 1
HANDOFF_LIFETIME_SECONDS = 60


def capacity(results: Mapping[str, Any]) -> list[str]:
    """A deployment sized for each of :data:`CAPACITY_RATES`, from this run's figures.

    Per sign-in: the worker CPU (median round), SQL statements, rows written and Redis
    commands of a returning user, and the bytes Redis holds per pending flow and per
    hand-off code. Everything scales linearly with the rate: nothing here is shared
    between sign-ins but the database and the cache.
    """
    steady = results["cpu"]["totals"]
    count = steady["attempted"]
    cpu_ms = results["cpu"]["sign_in_ms"]["median"]
    statements = sum(steady["worker"]["statements"].values()) / count
    rows = sum(steady["worker"]["rows_written"].values()) / count
    commands = sum(n for name, n in steady["redis"].items() if name != "connections") / count
    flow, handoff = results["held_bytes"]["flow"], results["held_bytes"]["handoff"]

    def megabytes(rate: int, seconds: int, size: int) -> str:
        return f"{rate * seconds * size / 1e6:,.1f}"

    lines = [
        "",
        f"Capacity on paper, from the figures above: {cpu_ms:.1f} ms of worker CPU, "
        f"{statements:.1f} SQL statements, {rows:.1f} rows written and {commands:.1f} Redis "
        f"commands per sign-in; {flow} bytes held in Redis per pending flow, {handoff} per "
        f"hand-off code; cores busy at most {CPU_UTILISATION:.0%}.",
        "",
        "| Sign-ins per second | Worker cores | SQL statements/s | Rows written/s | "
        "Redis commands/s | Redis MB for flows (30 s typical; all kept 10 min) | "
        "Redis MB for hand-off codes (1 s; 60 s) | Calls to Microsoft/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for rate in CAPACITY_RATES:
        cores = rate * cpu_ms / 1000 / CPU_UTILISATION
        lines.append(
            f"| {rate:,} | {cores:,.0f} | {rate * statements:,.0f} | {rate * rows:,.0f} | "
            f"{rate * commands:,.0f} | "
            f"{megabytes(rate, TYPICAL_SECONDS_AT_MICROSOFT, flow)}; "
            f"{megabytes(rate, FLOW_LIFETIME_SECONDS, flow)} | "
            f"{megabytes(rate, TYPICAL_HANDOFF_SECONDS, handoff)}; "
            f"{megabytes(rate, HANDOFF_LIFETIME_SECONDS, handoff)} | {rate:,} |"
        )
    return lines


def _merged_failures(*outcomes: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {"attempted": 0, "failed": 0, "failures": {}}
    for outcome in outcomes:
        _add(merged, {"attempted": outcome["attempted"], "failed": outcome["failed"]})
        _add(merged["failures"], outcome.get("failures", {}))
    return merged


if __name__ == "__main__":
    raise SystemExit(main())
