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

`run_batches` is the same for POST requests that are each sent once (the order intake figure):
every client sends its own list of order batches (bench/orderfeed.py), built before "ready", one
after the other, and counts the answers' statuses (how many orders were "created").
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

    from .orderfeed import Batch

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
    # How often the bodies said `"status": "<word>"`, for each word asked for.
    markers: Counter[str] = field(default_factory=Counter)

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
        self.markers.update(other.markers)

    def then(self, later: LoadResult) -> LoadResult:
        """This run and a later one of the same clients, as one run."""
        return LoadResult(
            clients=self.clients,
            elapsed=self.elapsed + later.elapsed,
            latencies=self.latencies + later.latencies,
            statuses=self.statuses + later.statuses,
            failures=self.failures + later.failures,
            markers=self.markers + later.markers,
        )


def build_request(host: str, port: int, path: str, headers: Mapping[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def build_post(host: str, port: int, path: str, headers: Mapping[str, str], body: bytes) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


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


class _ListClient(threading.Thread):
    """Sends each of its requests once, in turn; counts the statuses in the answers."""

    def __init__(
        self,
        host: str,
        port: int,
        requests: list[bytes],
        go: threading.Event,
        markers: list[str],
    ) -> None:
        super().__init__(daemon=True)
        self.host, self.port, self.requests, self.go = host, port, requests, go
        self.markers = {
            name: (f'"status": "{name}"'.encode(), f'"status":"{name}"'.encode())
            for name in markers
        }
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.counted: Counter[str] = Counter()
        self.failures = 0
        self.finished = 0.0

    def run(self) -> None:
        self.go.wait()
        sock: socket.socket | None = None
        clock = time.perf_counter
        for request in self.requests:
            started = clock()
            try:
                if sock is None:
                    sock = _connect(self.host, self.port)
                sock.sendall(request)
                status, keep_alive, body = read_response(sock)
            except (OSError, ValueError, IndexError):
                self.failures += 1  # not sent again: the batch is lost, and counted as such
                if sock is not None:
                    sock.close()
                sock = None
                continue
            self.latencies.append(clock() - started)
            self.statuses[status] += 1
            for name, (spaced, compact) in self.markers.items():
                self.counted[name] += body.count(spaced) + body.count(compact)
            if not keep_alive:
                sock.close()
                sock = None
        if sock is not None:
            sock.close()
        self.finished = clock()


def _batch_requests(spec: dict[str, Any], batches: list[dict[str, Any]]) -> list[bytes]:
    from datetime import datetime

    from .orderfeed import Batch, batch_body

    now = datetime.fromisoformat(spec["now"])
    requests = []
    for data in batches:
        batch = Batch.from_json(data)
        headers = {**spec["headers"], "X-Merchant": batch.merchant.slug}
        body = batch_body(batch, tag=spec["tag"], now=now)
        requests.append(build_post(spec["host"], spec["port"], spec["path"], headers, body))
    return requests


def drive_batches(spec: dict[str, Any]) -> LoadResult:
    """One client thread per list of batches in spec["clients"]; each sends its list once."""
    go = threading.Event()
    clients = [
        _ListClient(spec["host"], spec["port"], _batch_requests(spec, batches), go, spec["markers"])
        for batches in spec["clients"]
    ]
    result = _run_clients(clients, spec, go)
    for client in clients:
        result.markers.update(client.counted)
    return result


def drive(spec: dict[str, Any]) -> LoadResult:
    """Run spec["clients"] client threads for spec["duration"] seconds in this process."""
    host, port = spec["host"], spec["port"]
    request = build_request(host, port, spec["path"], spec["headers"])
    go = threading.Event()
    clients = [_Client(host, port, request, go) for _ in range(spec["clients"])]

    def until(started: float) -> None:
        for client in clients:
            client.end = started + spec["duration"]

    return _run_clients(clients, spec, go, on_start=until)


def _run_clients(
    clients: Sequence[Any],
    spec: dict[str, Any],
    go: threading.Event,
    *,
    on_start: Callable[[float], None] | None = None,
) -> LoadResult:
    """Start the client threads, wait for "go" on standard input when the spec says so, let
    them run (after `on_start(started)`), and gather their latencies, statuses and failures."""
    for client in clients:
        client.start()
    if spec.get("wait_for_go"):
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            raise SystemExit("expected 'go'")
    started = time.perf_counter()
    if on_start is not None:
        on_start(started)
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
    specs = [
        {
            "host": host,
            "port": port,
            "path": path,
            "headers": dict(headers),
            "clients": share,
            "duration": duration,
            "wait_for_go": True,
        }
        for share in shares
        if share
    ]
    return _run_children(specs, timeout=duration + 2 * SOCKET_TIMEOUT)


def run_batches(
    *,
    host: str,
    port: int,
    path: str,
    headers: Mapping[str, str],
    clients: Sequence[Sequence[Batch]],
    tag: str,
    now: datetime,
    markers: Sequence[str] = (),
    processes: int = 2,
) -> LoadResult:
    """One closed-loop client per list of batches, each sending its batches once (as
    `POST path`, `X-Merchant` the batch's merchant), over up to `processes` processes that
    start together. Returns when every batch has been answered (or failed)."""
    shares = [len(clients) // processes + (i < len(clients) % processes) for i in range(processes)]
    specs, start = [], 0
    for share in (s for s in shares if s):
        mine = clients[start : start + share]
        specs.append(
            {
                "kind": "batches",
                "host": host,
                "port": port,
                "path": path,
                "headers": dict(headers),
                "clients": [[batch.as_json() for batch in batches] for batches in mine],
                "tag": tag,
                "now": now.isoformat(),
                "markers": list(markers),
                "wait_for_go": True,
            }
        )
        start += share
    most = max((len(batches) for batches in clients), default=0)
    return _run_children(specs, timeout=(most + 1) * SOCKET_TIMEOUT)


def _run_children(specs: list[dict[str, Any]], *, timeout: float) -> LoadResult:
    children: list[subprocess.Popen[str]] = []
    try:
        for spec in specs:
            child = subprocess.Popen(
                [sys.executable, "-m", "bench.loadgen"],
                cwd=BASE_DIR,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            children.append(child)
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
            out, _ = child.communicate(timeout=timeout)
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
        "markers": dict(result.markers),
    }


def _result_from_json(data: dict[str, Any]) -> LoadResult:
    return LoadResult(
        clients=data["clients"],
        elapsed=data["elapsed"],
        latencies=data["latencies"],
        statuses=Counter({int(k): v for k, v in data["statuses"].items()}),
        failures=data["failures"],
        markers=Counter(data.get("markers", {})),
    )


def main() -> None:
    spec = json.loads(sys.stdin.readline())
    result = drive_batches(spec) if spec.get("kind") == "batches" else drive(spec)
    print(json.dumps(_result_to_json(result)), flush=True)


if __name__ == "__main__":
    main()
