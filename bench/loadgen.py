"""A small closed-loop HTTP load generator: N clients, each sending its next request as soon as
the previous one is answered, spread over a few processes so one GIL does not cap the load.

Each client is a thread with its own socket and a pre-built request; responses are parsed just
enough to find the status, the body's length and whether the server keeps the connection (a
gunicorn sync worker closes it after every response, so the client connects again). This is
cheaper per request than `http.client`, which matters on a small machine where the generator
shares the cores with the servers it measures: a costly generator would flatter the slower
server's ratio.

`run_load` is called from the benchmark; it starts `python -m bench.loadgen` children, which read
their spec as one JSON line on stdin, say "ready", start on "go" and print their results as JSON.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

BASE_DIR = Path(__file__).resolve().parent.parent
READ_SIZE = 65536
SOCKET_TIMEOUT = 30.0


@dataclass
class LoadResult:
    """What the clients saw: one latency (seconds) per answered request, the statuses, and the
    requests that got no answer at all (connection refused, reset, timed out)."""

    clients: int
    elapsed: float  # from "go" to the last client's last answer
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies) + self.failures

    @property
    def errors(self) -> int:
        """Every request not answered with a 200."""
        return self.failures + sum(n for status, n in self.statuses.items() if status != 200)

    @property
    def rps(self) -> float:
        """Answered-with-200 requests per second."""
        return self.statuses[200] / self.elapsed if self.elapsed > 0 else 0.0

    def merge(self, other: LoadResult) -> None:
        """Add the clients of another process that ran at the same time."""
        self.clients += other.clients
        self.elapsed = max(self.elapsed, other.elapsed)
        self.latencies += other.latencies
        self.statuses.update(other.statuses)
        self.failures += other.failures

    def then(self, later: LoadResult) -> LoadResult:
        """This run and a later one of the same clients, as one run."""
        return LoadResult(
            clients=self.clients,
            elapsed=self.elapsed + later.elapsed,
            latencies=self.latencies + later.latencies,
            statuses=self.statuses + later.statuses,
            failures=self.failures + later.failures,
        )


def build_request(host: str, port: int, path: str, headers: Mapping[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def read_response(sock: socket.socket) -> tuple[int, bool, bytes]:
    """Read one HTTP/1.1 response: (status, whether the connection stays open, body)."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(READ_SIZE)
        if not chunk:
            raise ConnectionError("the server closed the connection before answering")
        buffer += chunk
    head, _, body = buffer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    length = None
    http11 = status_line.startswith("HTTP/1.1")
    keep_alive = http11
    for line in header_lines:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection":
            directive = value.strip().lower()
            keep_alive = directive != "close" if http11 else directive == "keep-alive"
    if length is None:  # no length: the body runs to the end of the connection
        while chunk := sock.recv(READ_SIZE):
            body += chunk
        return status, False, body
    while len(body) < length:
        chunk = sock.recv(READ_SIZE)
        if not chunk:
            raise ConnectionError("the server closed the connection in the middle of a body")
        body += chunk
    return status, keep_alive, body


def fetch(host: str, port: int, path: str, headers: Mapping[str, str]) -> tuple[int, bytes]:
    """One request on a fresh connection: (status, body)."""
    with socket.create_connection((host, port), timeout=SOCKET_TIMEOUT) as sock:
        sock.sendall(build_request(host, port, path, {**headers, "Connection": "close"}))
        status, _, body = read_response(sock)
    return status, body


def _connect(host: str, port: int) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=SOCKET_TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class _Client(threading.Thread):
    def __init__(self, host: str, port: int, request: bytes, go: threading.Event) -> None:
        super().__init__(daemon=True)
        self.host, self.port, self.request, self.go = host, port, request, go
        self.end = 0.0  # set before `go`
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.failures = 0
        self.finished = 0.0

    def run(self) -> None:
        self.go.wait()
        sock: socket.socket | None = None
        clock = time.perf_counter
        while (started := clock()) < self.end:
            try:
                if sock is None:
                    sock = _connect(self.host, self.port)
                sock.sendall(self.request)
                status, keep_alive, _ = read_response(sock)
            except (OSError, ValueError, IndexError):
                self.failures += 1
                if sock is not None:
                    sock.close()
                sock = None
                continue
            self.latencies.append(clock() - started)
            self.statuses[status] += 1
            if not keep_alive:
                sock.close()
                sock = None
        if sock is not None:
            sock.close()
        self.finished = clock()


def drive(spec: dict[str, Any]) -> LoadResult:
    """Run spec["clients"] client threads for spec["duration"] seconds in this process."""
    host, port = spec["host"], spec["port"]
    request = build_request(host, port, spec["path"], spec["headers"])
    go = threading.Event()
    clients = [_Client(host, port, request, go) for _ in range(spec["clients"])]
    for client in clients:
        client.start()
    if spec.get("wait_for_go"):
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            raise SystemExit("expected 'go'")
    started = time.perf_counter()
    for client in clients:
        client.end = started + spec["duration"]
    go.set()
    for client in clients:
        client.join()
    result = LoadResult(
        clients=len(clients),
        elapsed=max(c.finished for c in clients) - started if clients else 0.0,
    )
    for client in clients:
        result.latencies += client.latencies
        result.statuses.update(client.statuses)
        result.failures += client.failures
    return result


def run_load(
    *,
    host: str,
    port: int,
    path: str,
    headers: Mapping[str, str],
    clients: int,
    duration: float,
    processes: int = 2,
) -> LoadResult:
    """`clients` closed-loop clients for `duration` seconds, over up to `processes` processes
    that start together."""
    shares = [clients // processes + (i < clients % processes) for i in range(processes)]
    children: list[subprocess.Popen[str]] = []
    try:
        for share in (s for s in shares if s):
            child = subprocess.Popen(
                [sys.executable, "-m", "bench.loadgen"],
                cwd=BASE_DIR,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            children.append(child)
            spec = {
                "host": host,
                "port": port,
                "path": path,
                "headers": dict(headers),
                "clients": share,
                "duration": duration,
                "wait_for_go": True,
            }
            _pipe(child.stdin).write(json.dumps(spec) + "\n")
            _pipe(child.stdin).flush()
        for child in children:
            if _pipe(child.stdout).readline().strip() != "ready":
                raise RuntimeError(f"load generator {child.pid} did not start")
        for child in children:
            _pipe(child.stdin).write("go\n")
            _pipe(child.stdin).flush()
        total = LoadResult(clients=0, elapsed=0.0)
        for child in children:
            out, _ = child.communicate(timeout=duration + 2 * SOCKET_TIMEOUT)
            if child.returncode != 0:
                raise RuntimeError(f"load generator {child.pid} exited with {child.returncode}")
            total.merge(_result_from_json(json.loads(out)))
        return total
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()


def _pipe(stream: IO[str] | None) -> IO[str]:
    if stream is None:
        raise RuntimeError("the child was started without a pipe")
    return stream


def _result_to_json(result: LoadResult) -> dict[str, Any]:
    return {
        "clients": result.clients,
        "elapsed": result.elapsed,
        "latencies": result.latencies,
        "statuses": {str(k): v for k, v in result.statuses.items()},
        "failures": result.failures,
    }


def _result_from_json(data: dict[str, Any]) -> LoadResult:
    return LoadResult(
        clients=data["clients"],
        elapsed=data["elapsed"],
        latencies=data["latencies"],
        statuses=Counter({int(k): v for k, v in data["statuses"].items()}),
        failures=data["failures"],
    )


def main() -> None:
    spec = json.loads(sys.stdin.readline())
    print(json.dumps(_result_to_json(drive(spec))), flush=True)


if __name__ == "__main__":
    main()
