"""Throwaway real services for tests: spare ports, a redis-server, a Celery worker in-process."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from celery.contrib.testing.worker import start_worker

from disputes_portal.celery import app as celery_app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(port: int, tmp_path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(  # noqa: S603 - a fixed local binary, our own arguments
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.05)  # waiting for a server process to listen, not for app behaviour
    process.kill()
    raise RuntimeError("redis-server did not start")


def reset_broker_connections() -> None:
    """Forget the app's pools so the next publish uses the broker now configured (kombu keys
    its pools by broker URL, so a new URL gets fresh connections)."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    # The result backend is cached per app (or per thread): make it follow the new URL.
    celery_app._backend_cache = None
    celery_app._local.__dict__.pop("backend", None)


@contextmanager
def celery_worker() -> Iterator[None]:
    """A real Celery worker in this process (solo pool, in a thread). Celery's logging set-up
    replaces the root logger's handlers with ones bound to this test's captured stderr; they are
    put back afterwards, so later tests do not log into a closed stream."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, loglevel="WARNING"):
            yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


class WebhookReceiver:
    """What a local webhook receiver got: (headers in lower case, body) per POST, and the
    statuses it answers in turn (the last one from then on)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[tuple[dict[str, str], bytes]] = []


@contextmanager
def webhook_receiver(
    statuses: list[int] | None = None, path: str = "/hooks"
) -> Iterator[tuple[WebhookReceiver, str]]:
    """A real HTTP server on a loopback port, and its URL: nothing leaves the machine."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    state = WebhookReceiver(statuses or [200])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status = state.statuses.pop(0) if len(state.statuses) > 1 else state.statuses[0]
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}{path}"
    finally:
        server.shutdown()
        server.server_close()
