"""PostgreSQL restarted (and stopped, then started) under load: a real app server (gunicorn, two
sync workers) on a throwaway cluster. Requests during the outage fail cleanly and quickly (5xx,
or a closed connection, never a hang), /health/ says the database is unavailable, and once
PostgreSQL is back every request succeeds again without restarting the app: the same worker
processes reconnect (CONN_HEALTH_CHECKS)."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path
from typing import IO

import pytest

from tests.faults.helpers import (
    BASE_DIR,
    PostgresCluster,
    child_env,
    free_port,
    report,
    require_redis_server,
    run_manage,
    start_redis,
    stop_process,
    wait_for_port,
    wait_until,
)

pytestmark = [pytest.mark.faults, pytest.mark.postgres]

REQUEST_TIMEOUT = 10.0  # seconds: a request that takes longer counts as a hang
THREADS = 4
# Each round: how PostgreSQL is disturbed. "stop" keeps it down until the outage is observed.
ROUNDS = ["restart", "stop", "restart", "stop"]
DEMO_OWNER = ("owner@demo-shop.example", "demo-owner-pass")  # made by seed_demo
SUCCESSES = 3  # 200s seen per page after each round before the next one
CLEAN_ERRORS = {"ConnectionResetError", "RemoteDisconnected", "BrokenPipeError"}


@dataclass(frozen=True)
class Outcome:
    path: str
    started: float
    ended: float
    status: int | None  # None: no HTTP answer, see `error`
    error: str
    body: bytes


class Load:
    """Threads sending requests one after the other, as fast as the server answers."""

    def __init__(self, base: str, paths: list[str], headers: dict[str, dict[str, str]]) -> None:
        self.base, self.paths, self.headers = base, paths, headers
        self.results: list[Outcome] = []
        self.changed = threading.Condition()
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(THREADS)
        ]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=REQUEST_TIMEOUT + 5)
        assert not any(thread.is_alive() for thread in self.threads)

    def _run(self, offset: int) -> None:
        n = offset
        while not self.stopping.is_set():
            path = self.paths[n % len(self.paths)]
            n += 1
            outcome = self._request(path)
            with self.changed:
                self.results.append(outcome)
                self.changed.notify_all()

    def _request(self, path: str) -> Outcome:
        url = self.base + path  # always http://127.0.0.1:<port>/...
        request = urllib.request.Request(url, headers=self.headers.get(path, {}))  # noqa: S310
        started = time.monotonic()
        status, error, body = None, "", b""
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:  # noqa: S310
                status, body = response.status, response.read()
        except urllib.error.HTTPError as failure:
            status, body = failure.code, failure.read()
        except urllib.error.URLError as failure:
            error = type(failure.reason).__name__
        except (OSError, http.client.HTTPException) as failure:
            error = type(failure).__name__
        if error in ("TimeoutError", "timeout"):
            error = "timeout"
        return Outcome(path, started, time.monotonic(), status, error, body)

    def wait_for(
        self, match: Callable[[Outcome], bool], *, timeout: float, what: str, count: int = 1
    ) -> Outcome:
        """Wait (bounded) until `count` results match; return the first of them."""
        checked = 0
        found: list[Outcome] = []

        def seen() -> bool:
            nonlocal checked
            found.extend(o for o in self.results[checked:] if match(o))
            checked = len(self.results)
            return len(found) >= count

        with self.changed:
            if not self.changed.wait_for(seen, timeout=timeout):
                raise TimeoutError(f"{what}: not seen in {timeout} s; last {self.results[-5:]}")
        return found[0]

    def since(self, moment: float) -> list[Outcome]:
        with self.changed:
            return [o for o in self.results if o.started >= moment]


def health(outcome: Outcome) -> dict[str, str]:
    return json.loads(outcome.body) if outcome.path == "/health/" and outcome.body else {}


def worker_pids(master: int) -> set[int]:
    """The gunicorn master's child processes (its workers), from /proc."""
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            children.add(int(stat.parent.name))
    return children


def log_in(base: str) -> str:
    """Log the demo owner in through the real login form; return the Cookie header."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(base + "/portal/login/", timeout=REQUEST_TIMEOUT) as response:
        page = response.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token, "no CSRF token on the login page"
    form = urllib.parse.urlencode(
        {
            "csrfmiddlewaretoken": token.group(1),
            "username": DEMO_OWNER[0],
            "password": DEMO_OWNER[1],
        }
    ).encode()
    with opener.open(base + "/portal/login/", data=form, timeout=REQUEST_TIMEOUT) as response:
        assert response.url.endswith("/portal/"), response.url
    assert any(cookie.name == "sessionid" for cookie in jar)
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in jar)


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def app_server(cluster, tmp_path) -> Iterator[tuple[str, int]]:
    """gunicorn on a spare port against the throwaway cluster, with a throwaway Redis broker
    (so /health/ judges the database alone). Yields the base URL and the master's pid."""
    require_redis_server()
    redis_port = free_port()
    redis = start_redis(redis_port, tmp_path)
    server = None
    log = (tmp_path / "gunicorn.log").open("w")
    try:
        env = child_env(
            DATABASE_URL=cluster.url,
            CELERY_BROKER_URL=f"redis://127.0.0.1:{redis_port}/0",
            DEBUG="false",
            SECRET_KEY="fault-test-secret-key-" + "x" * 40,
            HTTPS="false",
            ALLOWED_HOSTS="127.0.0.1",
            LOG_LEVEL="WARNING",
            PRIVATE_MEDIA_ROOT=str(tmp_path / "media"),
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        )
        run_manage("migrate", "--no-input", "-v0", env=env)
        run_manage("seed_demo", env=env | {"DEBUG": "true"})
        port = free_port()
        server = subprocess_gunicorn(port, env, log)
        wait_for_port(port, timeout=30, process=server)
        yield f"http://127.0.0.1:{port}", server.pid
    finally:
        if server is not None:
            stop_process(server, timeout=15)
        log.close()
        stop_process(redis)


def subprocess_gunicorn(port: int, env: dict[str, str], log: IO[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own interpreter and app
        [
            sys.executable,
            "-m",
            "gunicorn",
            "disputes_portal.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--worker-class",
            "sync",
            "--timeout",
            "30",
            "--graceful-timeout",
            "5",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=log,
    )


def test_postgres_restarted_under_load_requests_fail_cleanly_and_the_app_recovers(
    cluster, app_server, capsys
):
    base, master = app_server
    cookie = log_in(base)
    paths = ["/health/", "/open/", "/portal/login/", "/portal/"]
    headers = {"/portal/": {"Cookie": cookie}}
    wait_until(lambda: len(worker_pids(master)) == 2, timeout=30, what="two gunicorn workers")
    workers = worker_pids(master)

    def ok_after(path: str, moment: float) -> Callable[[Outcome], bool]:
        return lambda o: o.path == path and o.started >= moment and o.status == 200

    # What failed while PostgreSQL was restarting, or down: per kind of round.
    outage: dict[str, Counter[str]] = {action: Counter() for action in ROUNDS}
    healthy: list[tuple[float, float]] = []  # PostgreSQL up and settled: every request is a 200
    with Load(base, paths, headers) as load:
        back = time.monotonic()
        for path in paths:
            load.wait_for(
                ok_after(path, back), count=SUCCESSES, timeout=30, what=f"{path} answering"
            )
        for action in ROUNDS:
            disturbed = time.monotonic()
            healthy.append((back, disturbed))
            if action == "restart":
                cluster.restart()  # pg_ctl -w: returns once PostgreSQL accepts connections
            else:
                cluster.stop()
                down = time.monotonic()
                # Down for as long as it takes to see each page fail cleanly.
                unhealthy = load.wait_for(
                    lambda o, t=down: o.path == "/health/" and o.started >= t,
                    timeout=30,
                    what="/health/ while PostgreSQL is down",
                )
                assert unhealthy.status == 503
                assert health(unhealthy) == {
                    "status": "error",
                    "database": "unavailable",
                    "broker": "ok",
                }
                for path in ("/open/", "/portal/"):
                    failed = load.wait_for(
                        lambda o, t=down, p=path: o.path == p and o.started >= t,
                        timeout=30,
                        what=f"{path} while PostgreSQL is down",
                    )
                    assert failed.status == 503, failed  # "temporarily unavailable"
                cluster.start()
            back = time.monotonic()
            outage[action].update(
                f"{o.path} {o.status or o.error}"
                for o in load.since(disturbed)
                if o.started < back and o.status != 200
            )
            # Without restarting the app, every page answers again (a few times each).
            for path in paths:
                load.wait_for(
                    ok_after(path, back), count=SUCCESSES, timeout=30, what=f"{path} after {action}"
                )
        healthy.append((back, time.monotonic()))

    results = load.results
    assert not [o for o in results if o.error == "timeout"]  # nothing hung
    assert max(o.ended - o.started for o in results) < REQUEST_TIMEOUT
    failures = [o for o in results if o.status != 200]
    unclean = [o for o in failures if o.status not in (500, 503) and o.error not in CLEAN_ERRORS]
    assert unclean == []
    # Once PostgreSQL is back, not one request fails: the first one reconnects.
    settled = [o for o in results if any(a <= o.started and o.ended <= b for a, b in healthy)]
    assert {o.status for o in settled} == {200}, Counter((o.path, o.status) for o in settled)
    assert worker_pids(master) == workers  # the same processes: no worker was restarted

    report(
        capsys,
        f"postgres restarted under load: {len(ROUNDS)} rounds ({', '.join(ROUNDS)}), "
        f"{len(results)} requests from {THREADS} threads, {len(failures)} failed cleanly "
        f"(while restarting: {dict(outage['restart'])}, "
        f"while stopped: {dict(outage['stop'])}), none hung, "
        f"{len(settled)} while PostgreSQL was up all succeeded; "
        f"slowest {max(o.ended - o.started for o in results):.2f} s",
    )
