"""Figure 3, API list: `GET /api/v1/disputes` under load, against a bare-WSGI floor.

Two gunicorn servers with the same settings (bench/gunicorn_conf.py: 2 sync workers) run side by
side on spare ports: the portal (`disputes_portal.wsgi`, DEBUG off, production settings) and the
floor (`bench.floor_wsgi`: the same SQL through psycopg, the same JSON). Both answer the first
page of one merchant's cases for the same API key. At each client count the portal is loaded,
then the floor, by a closed-loop generator (bench/loadgen.py) for the same duration, so the
ratio is measured in one run on the same machine state.

Before loading, the floor is checked against the portal: the SQL the portal sends for the
request (captured in this process) must be the floor's SQL, and both servers must answer the
same JSON (the cursor compared by what it holds, since it carries the second it was signed in).
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from django.core import signing
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from api.keys import api_key_create, api_key_revoke, hash_key
from disputes.models import Merchant

from . import floor_wsgi, gunicorn_conf
from .environment import database_url
from .loadgen import BASE_DIR, LoadResult, fetch, run_load
from .results import Figure, check, median_ms, p99_ms

PATH = "/api/v1/disputes"
HOST = "127.0.0.1"
TARGET = ">= 0.5"  # portal requests/s over floor requests/s, at TARGET_CLIENTS clients
TARGET_CLIENTS = 4
P99_TARGET = "<= 2"  # the portal's p99 over the floor's, at TARGET_CLIENTS clients
# A bench-only key: the portal refuses to serve on the development key with DEBUG off.
BENCH_SECRET_KEY = "bench-only-secret-key-" + "k" * 40
START_TIMEOUT = 60.0  # seconds for gunicorn to load the app in its workers
NO_LIMIT = str(10**9)  # the API's rate limit, counted but never reached
GUNICORN_CONF = BASE_DIR / "bench" / "gunicorn_conf.py"


def api_list_figures(
    *,
    merchant_slug: str,
    clients: Sequence[int] = (4, 32),
    duration: float = 15.0,
    warmup: float | None = None,
) -> list[Figure]:
    """Requests per second and p99 latency of the portal and of its floor at each client count.

    Runs in a configured Django process whose database holds the merchant's cases (committed:
    the servers are other processes). Makes an API key for the merchant.
    """
    merchant = Merchant.objects.get(slug=merchant_slug)
    new_key = api_key_create(name="bench api list", merchant=merchant, now=timezone.now())
    key = new_key.key
    same_sql = captured_sql(key) == floor_sql(key=key, merchant_id=merchant.pk)
    headers = {
        "Authorization": f"Bearer {key}",
        # The servers run with HTTPS on, as in production, behind a TLS proxy that says so.
        "X-Forwarded-Proto": "https",
    }
    env = server_env()
    warmup = min(2.0, duration) if warmup is None else warmup
    with ExitStack() as stack:
        portal = stack.enter_context(
            gunicorn("disputes_portal.wsgi:application", env | {"API_RATE_LIMIT": NO_LIMIT})
        )
        floor = stack.enter_context(gunicorn("bench.floor_wsgi:application", env))
        for server in (portal, floor):
            check_answers(server, headers)
        same_json = comparable(fetch(HOST, portal.port, PATH, headers)[1]) == comparable(
            fetch(HOST, floor.port, PATH, headers)[1]
        )

        def load(server: Server, clients: int, duration: float) -> Measured:
            return measured_load(
                server, path=PATH, headers=headers, clients=clients, duration=duration
            )

        for server in (portal, floor):  # every worker connected, code paths warm
            load(server, max((TARGET_CLIENTS, *clients)), warmup)
        runs = []
        for count in clients:
            # Portal, floor, floor, portal: a machine that gets slower or faster during the
            # measurement changes both servers' figures alike.
            half = duration / 2
            portal_first, floor_first = load(portal, count, half), load(floor, count, half)
            floor_second, portal_second = load(floor, count, half), load(portal, count, half)
            runs.append((count, portal_first.then(portal_second), floor_first.then(floor_second)))
    api_key_revoke(api_key=new_key.api_key, now=timezone.now())
    checks = {"same_sql": same_sql, "same_json": same_json}
    return [
        figure
        for count, portal_run, floor_run in runs
        for figure in _figures(count, portal_run, floor_run, duration=duration, checks=checks)
    ]


def measured_load(
    server: Server, *, path: str, headers: Mapping[str, str], clients: int, duration: float
) -> Measured:
    """A closed-loop load run of `path` on the server, with the CPU its workers used."""
    cpu_before = workers_cpu(server)
    result = run_load(
        host=HOST,
        port=server.port,
        path=path,
        headers=headers,
        clients=clients,
        duration=duration,
    )
    return Measured(result, server_cpu=workers_cpu(server) - cpu_before)


@dataclass(frozen=True)
class Measured:
    """A load run, and the CPU time the server's workers used during it (seconds)."""

    load: LoadResult
    server_cpu: float

    def then(self, later: Measured) -> Measured:
        return Measured(self.load.then(later.load), self.server_cpu + later.server_cpu)

    def details(self, prefix: str) -> dict[str, Any]:
        run = self.load
        ok = run.statuses[200]
        return {
            f"{prefix}requests": run.requests,
            f"{prefix}errors": run.errors,
            f"{prefix}statuses": {str(status): n for status, n in sorted(run.statuses.items())},
            f"{prefix}median_ms": median_ms(run.latencies) if run.latencies else None,
            f"{prefix}p99_ms": p99_ms(run.latencies) if run.latencies else None,
            # Less noisy than the rates on a shared machine: what one request costs the workers.
            f"{prefix}worker_cpu_ms_per_request": (
                round(self.server_cpu / ok * 1000, 3) if ok and self.server_cpu else None
            ),
        }


def _figures(
    count: int,
    portal: Measured,
    floor: Measured,
    *,
    duration: float,
    checks: dict[str, bool],
) -> list[Figure]:
    valid = portal.load.errors == 0 and floor.load.errors == 0 and all(checks.values())
    details: dict[str, Any] = {
        "clients": count,
        "duration_s": duration,
        "server": "gunicorn, 2 sync workers",
        **portal.details(""),
        **floor.details("floor_"),
        **checks,
    }
    rps, floor_rps = portal.load.rps, floor.load.rps
    ratio = rps / floor_rps if floor_rps else 0.0
    target = TARGET if count == TARGET_CLIENTS else None
    p99, floor_p99 = details["p99_ms"] or 0.0, details["floor_p99_ms"] or 0.0
    p99_ratio = p99 / floor_p99 if floor_p99 else None
    p99_target = P99_TARGET if count == TARGET_CLIENTS else None
    return [
        Figure(
            name=f"api list @{count} clients",
            value=round(rps, 1),
            unit="requests/s",
            floor=round(floor_rps, 1),
            ratio=round(ratio, 3),
            target=target,
            met=(valid and check(ratio, target)) if target else None,
            details=details,
        ),
        Figure(
            name=f"api list p99 @{count} clients",
            value=p99,
            unit="ms",
            floor=floor_p99,
            ratio=round(p99_ratio, 3) if p99_ratio is not None else None,
            target=p99_target,
            met=(valid and check(p99_ratio, p99_target))
            if p99_target and p99_ratio is not None
            else None,
            details=details,
        ),
    ]


# --- The floor does what the portal does ---------------------------------------------------------


def captured_sql(key: str) -> list[str]:
    """The SQL of `GET /api/v1/disputes` through the whole portal stack, in this process: the
    key lookup of a first request, then every query of a second one (the key is then kept by
    the worker and its use of this minute noted: the list's query alone, as under load)."""
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    with override_settings(ALLOWED_HOSTS=["testserver"]):
        with CaptureQueriesContext(connection) as first:
            client.get(PATH, secure=True)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(PATH, secure=True)
    if response.status_code != 200:
        raise RuntimeError(f"the API answered {response.status_code} in process")
    return [first.captured_queries[0]["sql"]] + [q["sql"] for q in queries.captured_queries]


def floor_sql(*, key: str, merchant_id: int) -> list[str]:
    """The floor's queries for the same request, with their values bound as psycopg binds them
    (client-side, as Django's backend does)."""
    connection.ensure_connection()
    raw = connection.connection
    with psycopg.ClientCursor(raw) as cursor:
        return [
            cursor.mogrify(floor_wsgi.KEY_SQL, (hash_key(key),)),
            cursor.mogrify(floor_wsgi.LIST_SQL, (merchant_id,)),
        ]


def comparable(body: bytes, *, secret_key: str = BENCH_SECRET_KEY) -> Any:
    """A response body with its cursor replaced by what the cursor holds (a cursor also holds
    the second it was signed in)."""
    data = json.loads(body)
    if isinstance(data, dict) and data.get("next_cursor"):
        data["next_cursor"] = signing.loads(
            data["next_cursor"], key=secret_key, salt=floor_wsgi.CURSOR_SALT
        )
    return data


# --- Servers -------------------------------------------------------------------------------------


def server_env() -> dict[str, str]:
    """This process's environment for a production-like server on this process's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(
        DJANGO_SETTINGS_MODULE="disputes_portal.settings",
        DATABASE_URL=database_url(connection.settings_dict),
        DEBUG="false",
        HTTPS="true",
        BEHIND_TLS_PROXY="true",
        SECRET_KEY=BENCH_SECRET_KEY,
        ALLOWED_HOSTS=HOST,
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.pop("API_RATE_LIMIT", None)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Server:
    port: int
    process: subprocess.Popen[bytes]


@contextmanager
def gunicorn(app: str, env: dict[str, str]) -> Iterator[Server]:
    """A gunicorn for `app` on a spare port, in its own process group, once its workers have
    loaded the app; stopped, with its workers, however the block ends."""
    port = free_port()
    ready_read, ready_write = os.pipe()  # each worker writes a line once it has loaded the app
    try:
        server = subprocess.Popen(  # noqa: S603 - our own interpreter and app
            [
                sys.executable,
                "-m",
                "gunicorn",
                app,
                "--config",
                str(GUNICORN_CONF),
                "--bind",
                f"{HOST}:{port}",
            ],
            cwd=BASE_DIR,
            env=env | {"BENCH_READY_FD": str(ready_write)},
            pass_fds=(ready_write,),
            start_new_session=True,
        )
    except BaseException:
        os.close(ready_read)
        raise
    finally:
        os.close(ready_write)
    try:
        _wait_for_workers(ready_read, count=gunicorn_conf.workers, process=server)
        yield Server(port=port, process=server)
    finally:
        os.close(ready_read)
        stop_server(server)


def _wait_for_workers(fd: int, *, count: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    ready = 0
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while ready < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"gunicorn: {ready} of {count} workers up after {START_TIMEOUT} s"
                )
            if not selector.select(remaining):
                continue
            lines = os.read(fd, 256)
            if not lines:  # every copy of the pipe's other end is closed: gunicorn has exited
                process.wait(timeout=START_TIMEOUT)
                raise RuntimeError(f"gunicorn exited with {process.returncode} before serving")
            ready += lines.count(b"\n")


def workers_cpu(server: Server) -> float:
    """CPU seconds used so far by the gunicorn master's workers (from /proc; 0 without it)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == server.process.pid:  # fields: state, ppid, ..., utime, stime
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the master (it stops its workers), then SIGKILL to the whole group."""
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    with suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)  # workers left behind, if any


def check_answers(server: Server, headers: Mapping[str, str]) -> None:
    """The first request: it makes a worker connect to the database, and must be a 200."""
    status, body = fetch(HOST, server.port, PATH, headers)
    if status != 200:
        raise RuntimeError(f"{PATH} answered {status}: {body[:300]!r}")
