"""Machinery shared by the fault tests: child processes that reach the test database, throwaway
servers on spare ports, bounded waits, and the summary line each test prints.

The spare-port, throwaway-Redis and worker helpers come from tests/services.py.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from bench.environment import database_url
from disputes_portal.celery import app as celery_app
from tests.services import celery_worker, free_port, reset_broker_connections, start_redis

__all__ = [
    "BASE_DIR",
    "PG_BIN",
    "LineReader",
    "PostgresCluster",
    "celery_pointed_at",
    "celery_worker",
    "child_env",
    "database_url",
    "free_port",
    "quiet_logger",
    "report",
    "require_redis_server",
    "reset_broker_connections",
    "run_manage",
    "start_redis",
    "stop_process",
    "wait_for_port",
    "wait_until",
]

BASE_DIR = Path(settings.BASE_DIR)
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def require_redis_server() -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")


def report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    """The counts of a fault test, shown even without -s (pytest's capture is lifted)."""
    with capsys.disabled():
        print(f"\n[faults] {line}", flush=True)


def child_env(**overrides: str) -> dict[str, str]:
    """The environment of a child Django process: ours, without the suite's Redis cache, plus
    the overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.pop("REDIS_URL", None)
    env["DJANGO_SETTINGS_MODULE"] = "disputes_portal.settings"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


def wait_for_port(
    port: int, *, timeout: float, process: subprocess.Popen[Any] | None = None
) -> None:
    """Wait for a server process to listen on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)  # waiting for a server process to listen, not for app behaviour
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


def wait_until(check: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Poll an external server's state (e.g. PostgreSQL dropping a dead client's backend)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not after {timeout} s")
        time.sleep(0.05)


def stop_process(process: subprocess.Popen[Any], *, timeout: float = 10) -> None:
    """Terminate a child we started, then kill it if it does not go."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)


class LineReader:
    """A child's output read line by line in a thread, so every wait for a line has a timeout."""

    def __init__(self, stream: Any) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: Any) -> None:
        for line in iter(stream.readline, ""):
            self.lines.put(line)
        self.lines.put(None)  # end of the stream: the child has exited or closed it

    def wait_for(self, predicate: Callable[[str], bool], *, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching line after {timeout} s; last: {self.seen[-5:]}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise EOFError(f"the child closed its output; last lines: {self.seen[-10:]}")
            self.seen.append(line)
            if predicate(line):
                return line

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


@contextmanager
def celery_pointed_at(broker_url: str, *, result_backend: str | None = None) -> Iterator[None]:
    """Celery publishing to `broker_url` for real (not eagerly); restored afterwards."""
    old = {
        "broker_url": celery_app.conf.broker_url,
        "task_always_eager": celery_app.conf.task_always_eager,
        "broker_transport_options": celery_app.conf.broker_transport_options,
        "task_publish_retry_policy": celery_app.conf.task_publish_retry_policy,
        "result_backend": celery_app.conf.result_backend,
    }
    celery_app.conf.update(
        broker_url=broker_url,
        result_backend=result_backend,
        task_always_eager=False,
        # What production sets for a non-filesystem broker: fail fast when it is down.
        broker_transport_options={"max_retries": 1, "interval_start": 0, "interval_step": 0.2},
        task_publish_retry_policy={
            "max_retries": 1,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.2,
        },
    )
    reset_broker_connections()
    try:
        yield
    finally:
        celery_app.conf.update(**old)
        reset_broker_connections()


@contextmanager
def quiet_logger(name: str, handler: logging.Handler) -> Iterator[None]:
    """Send `name`'s records to `handler` only (e.g. caplog's, to count them), not to the console:
    a warning with a traceback per request would bury the test's output."""
    logger = logging.getLogger(name)
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


class PostgresCluster:
    """A throwaway PostgreSQL 15 cluster on a spare port, run as the `postgres` OS user (initdb
    refuses root); its data, socket and log live in a temporary directory it removes."""

    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists():
            pytest.skip(f"PostgreSQL 15 binaries not found in {PG_BIN}")
        # initdb refuses to run as root: as root, the cluster belongs to the `postgres` user.
        self.as_root = os.geteuid() == 0
        if self.as_root and shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot run initdb")
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        if self.as_root:
            shutil.chown(self.root, user="postgres", group="postgres")
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        command = [str(PG_BIN / tool), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(  # noqa: S603 - fixed local binaries, our own arguments
            command, check=True, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def _ctl(self, action: str, *args: str) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "-t", "30",
            action, *args,
        )  # fmt: skip

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def destroy(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def run_manage(*args: str, env: dict[str, str], timeout: float = 120) -> None:
    """`manage.py <args>` in a child process; its output is shown only when it fails."""
    result = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
