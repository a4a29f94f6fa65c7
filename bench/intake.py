"""Figures 7 to 9: order intake. The batch API and `manage.py import_orders`, against a floor
that stores the same orders with PostgreSQL COPY (bench/floor_orders.py), and the import's
memory on a file ten times larger.

Batch API: `POST /api/v1/orders/batch`, a thousand new orders per call, with an operator key and
`X-Merchant` (as a provider's feed sends them), several merchants taking turns. The portal and
the floor run side by side under gunicorn with the same settings as in the API list figure
(bench/gunicorn_conf.py: 2 sync workers), loaded by the same closed-loop clients
(bench/loadgen.py `run_batches`: each of 4 clients sends its share of the batches once). The
batches go portal, floor, floor, portal (a half each time), so that a machine that changes
speed changes both alike. Then the portal's batches are sent again: every order `unchanged`
(an informational figure).

Import: a generated CSV file (a header row, a merchant column, the shipments as JSON in a cell)
through `manage.py import_orders` in a child process, against the floor reading the same file
in a child process (`python -m bench.floor_orders FILE`, a thousand lines per transaction).

Memory: JSON Lines files of 100 000 and 1 000 000 lines, written to a temporary directory as
they are generated, each imported by `manage.py import_orders` in a child process whose peak
resident memory it reports as it ends (VmHWM, bench/child_peak.py). The files are deleted
afterwards.

Every figure checks that what was measured did the work: the portal's and the floor's orders are
compared row by row (every column but the id and the creation time; the order numbers differ
by their prefix only), and each run must have created every order it was sent.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection
from django.utils import timezone

from api.keys import api_key_create, api_key_revoke
from disputes.contracts import contract_terms_at, currencies_priced, terms_of
from disputes.models import Merchant

from .api_load import HOST, NO_LIMIT, Server, gunicorn, server_env, workers_cpu
from .loadgen import BASE_DIR, LoadResult, build_post, read_response, run_batches
from .orderfeed import (
    BATCH_SIZE,
    Batch,
    FeedMerchant,
    batch_body,
    now_utc,
    plan_batches,
    write_csv,
    write_jsonl,
)
from .results import Figure, check, median_ms, p99_ms

API_TARGET = ">= 0.3"  # batch API orders/s over the COPY floor's
IMPORT_TARGET = ">= 0.5"  # import_orders orders/s over the COPY floor's
MEMORY_FACTOR = 1.2  # the large file's peak within this factor of the small file's ...
MEMORY_SLACK_MB = 8.0  # ... plus this much
MEMORY_TARGET = f"<= {MEMORY_FACTOR} (+{MEMORY_SLACK_MB:.0f} MB)"
PATH = "/api/v1/orders/batch"
CHILD_TIMEOUT = 1800.0  # seconds for one import child process
_MANAGE = BASE_DIR / "manage.py"
_MARKERS = ("created", "updated", "unchanged", "error")
# The columns compared between the portal's rows and the floor's: all but id, order_number (by
# its number after the prefix), created_at and updated_at (compared with each other).
_COMPARED = (
    "merchant_id",
    "placed_at",
    "amount",
    "currency",
    "customer_email",
    "customer_language",
    "payment_state",
    "protection_tier",
    "protection_status",
    "protection_ends_at",
    "protection_extended_at",
    "protection_checkin_sent_at",
    "protection_ending_notice_for",
    "is_invoice",
    "shipments",
    "line_summary",
    "paid_at",
    "cancelled_at",
    "refunded_outside_amount",
    "moved_to_customer",
)


def feed_merchants(slugs: Sequence[str]) -> list[FeedMerchant]:
    """The merchants by slug, each with a currency its fee plan prices (else RuntimeError: the
    portal would refuse every order)."""
    now = timezone.now()
    merchants = {m.slug: m for m in Merchant.objects.filter(slug__in=slugs)}
    missing = set(slugs) - set(merchants)
    if missing:
        raise RuntimeError(f"No merchants {', '.join(sorted(missing))}.")
    for merchant in merchants.values():
        plan = terms_of(contract_terms_at(merchant, now)).fee_plan
        if not currencies_priced(plan, {merchant.currency}):
            raise RuntimeError(f"No fee schedule of plan {plan} prices {merchant.currency}.")
    return [FeedMerchant(slug, merchants[slug].currency) for slug in slugs]


def run_id() -> str:
    """Eight hex digits for this run's order numbers (a second run on the same data creates
    orders again rather than finding them unchanged)."""
    return f"{time.time_ns() // 1000 % 16**8:08x}"


def max_order_id() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM disputes_order")
        return int(cursor.fetchone()[0])


def compare_rows(*, tag: str, floor_tag: str, after_id: int) -> dict[str, Any]:
    """The portal's orders (numbers `tag`-...) and the floor's (`floor_tag`-...), created after
    `after_id`: how many each, and how many of each have no equal in the other."""
    if len(tag) != len(floor_tag):
        raise ValueError("the two prefixes must be as long")
    columns = ", ".join(_COMPARED)
    rows = (
        f"SELECT substr(order_number, {len(tag) + 1}) AS number, {columns},"  # noqa: S608
        # auto_now(_add) stamps each of the two on its own: equal to the microsecond or not.
        " abs(extract(epoch FROM updated_at - created_at)) < 1 AS fresh FROM disputes_order"
        " WHERE id > %(after)s AND order_number LIKE %({0})s"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH p AS MATERIALIZED ({rows.format("portal")}),
                 f AS MATERIALIZED ({rows.format("floor")})
            SELECT (SELECT count(*) FROM p), (SELECT count(*) FROM f),
                   (SELECT count(*) FROM (SELECT * FROM p EXCEPT ALL SELECT * FROM f) d),
                   (SELECT count(*) FROM (SELECT * FROM f EXCEPT ALL SELECT * FROM p) d)
            """,  # noqa: S608 - fixed column names only
            {"after": after_id, "portal": f"{tag}-%", "floor": f"{floor_tag}-%"},
        )
        portal, floor, only_portal, only_floor = (int(v) for v in cursor.fetchone())
    return {
        "portal_rows": portal,
        "floor_rows": floor,
        "rows_only_portal": only_portal,
        "rows_only_floor": only_floor,
        "same_rows": portal == floor and only_portal == only_floor == 0,
    }


# --- Batch API ----------------------------------------------------------------------------------


def _split(batches: Sequence[Batch], clients: int) -> list[list[Batch]]:
    """The batches dealt to the clients in turn."""
    return [list(batches[index::clients]) for index in range(clients)]


@dataclass(frozen=True)
class Pass:
    """One load run's batches, and the CPU time the server's workers used for them."""

    load: LoadResult
    server_cpu: float

    def then(self, later: Pass) -> Pass:
        return Pass(self.load.then(later.load), self.server_cpu + later.server_cpu)

    def rate(self, marker: str) -> float:
        """Orders answered `marker` per second."""
        return self.load.markers[marker] / self.load.elapsed if self.load.elapsed else 0.0

    def details(self, prefix: str) -> dict[str, Any]:
        run = self.load
        orders = sum(run.markers.values())
        return {
            f"{prefix}batches": run.requests,
            f"{prefix}errors": run.errors,
            f"{prefix}statuses": {str(status): n for status, n in sorted(run.statuses.items())},
            f"{prefix}results": dict(run.markers),
            f"{prefix}seconds": round(run.elapsed, 2),
            f"{prefix}batch_median_ms": median_ms(run.latencies) if run.latencies else None,
            f"{prefix}batch_p99_ms": p99_ms(run.latencies) if run.latencies else None,
            f"{prefix}worker_cpu_ms_per_1000_orders": (
                round(self.server_cpu / orders * 1_000_000, 1) if orders else None
            ),
        }


def _post(server: Server, headers: dict[str, str], body: bytes, slug: str) -> tuple[int, bytes]:
    import socket

    request = build_post(HOST, server.port, PATH, {**headers, "X-Merchant": slug}, body)
    with socket.create_connection((HOST, server.port), timeout=60) as sock:
        sock.sendall(request)
        status, _, answer = read_response(sock)
    return status, answer


def _check_answers(
    server: Server, headers: dict[str, str], merchant: FeedMerchant, *, tag: str
) -> None:
    """A first small batch: it must be a 200 with every order created."""
    batch = Batch(merchant, 0, 3)
    body = batch_body(batch, tag=tag, now=now_utc())
    status, answer = _post(server, headers, body, batch.merchant.slug)
    created = [r for r in json.loads(answer)["results"] if r["status"] == "created"]
    if status != 200 or len(created) != batch.count:
        raise RuntimeError(f"{PATH} answered {status}: {answer[:500]!r}")


def order_batch_figures(
    *,
    merchant_slugs: Sequence[str],
    orders: int = 200_000,
    batch_size: int = BATCH_SIZE,
    clients: int = 4,
    warmup_batches: int = 4,
    repeat: bool = True,
) -> list[Figure]:
    """Orders per second through the batch API, new and then sent again, against the floor.

    Runs in a configured Django process whose database holds the merchants (committed: the
    servers are other processes). Makes an operator API key, revoked at the end."""
    merchants = feed_merchants(merchant_slugs)
    new_key = api_key_create(name="bench order intake", operator=True, now=timezone.now())
    headers = {"Authorization": f"Bearer {new_key.key}", "X-Forwarded-Proto": "https"}
    run = run_id()
    tag, floor_tag, warm_tag, warm_floor_tag = (f"{kind}{run}" for kind in ("AP", "AF", "WP", "WF"))
    now = now_utc()
    batches = plan_batches(merchants, orders, batch_size=batch_size)
    halves = batches[: len(batches) // 2], batches[len(batches) // 2 :]
    warm = plan_batches(merchants, warmup_batches * batch_size, batch_size=batch_size, start=10)
    env = server_env()
    after_id = max_order_id()

    def send(server: Server, sent: Sequence[Batch], numbers: str) -> Pass:
        cpu_before = workers_cpu(server)
        result = run_batches(
            host=HOST,
            port=server.port,
            path=PATH,
            headers=headers,
            clients=_split(sent, clients),
            tag=numbers,
            now=now,
            markers=_MARKERS,
        )
        return Pass(result, server_cpu=workers_cpu(server) - cpu_before)

    with ExitStack() as stack:
        portal = stack.enter_context(
            gunicorn("disputes_portal.wsgi:application", env | {"API_RATE_LIMIT": NO_LIMIT})
        )
        floor = stack.enter_context(gunicorn("bench.floor_orders:application", env))
        _check_answers(portal, headers, merchants[0], tag=warm_tag)
        _check_answers(floor, headers, merchants[0], tag=warm_floor_tag)
        # Every worker connected, code paths warm (orders of their own, not compared).
        send(portal, warm, warm_tag)
        send(floor, warm, warm_floor_tag)
        portal_first = send(portal, halves[0], tag)
        floor_first = send(floor, halves[0], floor_tag)
        floor_second = send(floor, halves[1], floor_tag)
        portal_second = send(portal, halves[1], tag)
        portal_run, floor_run = portal_first.then(portal_second), floor_first.then(floor_second)
        again = send(portal, batches, tag) if repeat else None
    api_key_revoke(api_key=new_key.api_key, now=timezone.now())
    rows = compare_rows(tag=tag, floor_tag=floor_tag, after_id=after_id)
    checks = {
        **rows,
        "all_created": portal_run.load.markers["created"] == orders
        and floor_run.load.markers["created"] == orders,
    }
    valid = (
        checks["same_rows"]
        and checks["all_created"]
        and portal_run.load.errors == 0
        and floor_run.load.errors == 0
    )
    rate, floor_rate = portal_run.rate("created"), floor_run.rate("created")
    ratio = rate / floor_rate if floor_rate else 0.0
    common = {
        "orders": orders,
        "batch_size": batch_size,
        "clients": clients,
        "merchants": len(merchants),
        "key": "operator key, X-Merchant per batch",
        "server": "gunicorn, 2 sync workers",
        "floor": "bench.floor_orders (psycopg COPY) under the same gunicorn",
    }
    figures = [
        Figure(
            name="order batch API, new orders",
            value=round(rate),
            unit="orders/s",
            floor=round(floor_rate),
            ratio=round(ratio, 3),
            target=API_TARGET,
            met=valid and check(ratio, API_TARGET),
            details={**common, **portal_run.details(""), **floor_run.details("floor_"), **checks},
        )
    ]
    if again is not None:
        unchanged = again.load.markers["unchanged"]
        figures.append(
            Figure(
                name="order batch API, same batches again",
                value=round(again.rate("unchanged")),
                unit="orders/s",
                floor=round(floor_rate),
                ratio=round(again.rate("unchanged") / floor_rate, 3) if floor_rate else None,
                details={
                    **common,
                    **again.details(""),
                    "all_unchanged": unchanged == orders and again.load.errors == 0,
                    "floor_is": "the floor's rate for new orders (it has no update path)",
                },
            )
        )
    return figures


# --- import_orders ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChildRun:
    returncode: int
    seconds: float
    peak_rss_mb: float
    stdout: str
    stderr: str


def run_child(
    program: Sequence[str], *, env: dict[str, str], timeout: float = CHILD_TIMEOUT
) -> ChildRun:
    """A Python program (`manage.py ...` or `-m module ...`) in a child process, timed, with its
    own peak resident memory (bench/child_peak.py says why not the kernel's ru_maxrss). Killed,
    and RuntimeError, past `timeout` seconds."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile(prefix="bench-peak-") as peak,
    ):
        started = time.perf_counter()
        child = subprocess.Popen(  # noqa: S603 - our own interpreter and commands
            [sys.executable, "-m", "bench.child_peak", *program],
            cwd=BASE_DIR,
            env=env | {"BENCH_PEAK_FILE": peak.name},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
        try:
            child.wait(timeout=timeout)
        except BaseException:
            child.kill()
            child.wait()
            raise
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        written = Path(peak.name).read_text().strip()
        return ChildRun(
            returncode=child.returncode,
            seconds=seconds,
            peak_rss_mb=float(written) if written else 0.0,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )


def run_import(path: Path, *, errors: Path) -> ChildRun:
    """`manage.py import_orders FILE` as an operator runs it, on this process's database."""
    command = [str(_MANAGE), "import_orders", str(path), "--errors", str(errors)]
    return run_child([*command, "--no-progress"], env=server_env())


def run_floor_import(path: Path) -> ChildRun:
    return run_child(["-m", "bench.floor_orders", str(path)], env=server_env())


def _created(run: ChildRun) -> int | None:
    """The created count of import_orders' summary line ("N lines: C created, ...")."""
    for line in run.stdout.splitlines():
        if " lines: " in line and " created" in line:
            return int(line.split(" lines: ", 1)[1].split(" created", 1)[0])
    return None


def _child_details(run: ChildRun, lines: int) -> dict[str, Any]:
    return {
        "exit_status": run.returncode,
        "seconds": round(run.seconds, 2),
        "peak_rss_mb": run.peak_rss_mb,
        "output": run.stdout.strip().splitlines()[-2:],
        "stderr": run.stderr.strip()[-500:] or None,
        "orders_per_s": round(lines / run.seconds) if run.seconds else None,
    }


@contextmanager
def _scratch() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="bench-intake-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def import_figure(*, merchant_slugs: Sequence[str], lines: int = 200_000) -> Figure:
    """Orders per second importing a `lines`-line CSV file, against the COPY floor (the same
    file but for the order numbers' prefix). The floor runs first."""
    merchants = feed_merchants(merchant_slugs)
    run = run_id()
    tag, floor_tag = f"IP{run}", f"IF{run}"
    now = now_utc()
    after_id = max_order_id()
    with _scratch() as directory:
        portal_file, floor_file = directory / "orders.csv", directory / "floor.csv"
        size = write_csv(portal_file, merchants, lines, tag=tag, now=now)
        write_csv(floor_file, merchants, lines, tag=floor_tag, now=now)
        floor = run_floor_import(floor_file)
        floor_file.unlink()
        portal = run_import(portal_file, errors=directory / "errors.csv")
    checks = {
        **compare_rows(tag=tag, floor_tag=floor_tag, after_id=after_id),
        "created": _created(portal),
    }
    valid = (
        portal.returncode == 0
        and floor.returncode == 0
        and checks["created"] == lines
        and checks["same_rows"]
    )
    rate = lines / portal.seconds if portal.seconds else 0.0
    floor_rate = lines / floor.seconds if floor.seconds else 0.0
    ratio = rate / floor_rate if floor_rate else 0.0
    return Figure(
        name=f"import_orders, {lines:,}-line CSV",
        value=round(rate),
        unit="orders/s",
        floor=round(floor_rate),
        ratio=round(ratio, 3),
        target=IMPORT_TARGET,
        met=valid and check(ratio, IMPORT_TARGET),
        details={
            "lines": lines,
            "file_bytes": size,
            "merchants": len(merchants),
            "timed": "wall time of each child process, start-up included",
            "floor": "python -m bench.floor_orders: psycopg COPY, 1 000 lines per transaction",
            "portal": _child_details(portal, lines),
            "floor_run": _child_details(floor, lines),
            **checks,
        },
    )


def import_memory_figure(
    *, merchant_slugs: Sequence[str], lines: Sequence[int] = (100_000, 1_000_000)
) -> Figure:
    """Peak resident memory of import_orders on a JSON Lines file of lines[1] lines against one
    of lines[0]: flat when within MEMORY_FACTOR (plus MEMORY_SLACK_MB)."""
    small_lines, large_lines = lines
    merchants = feed_merchants(merchant_slugs)
    now = now_utc()
    runs: dict[int, ChildRun] = {}
    sizes: dict[int, int] = {}
    with _scratch() as directory:
        for count in (small_lines, large_lines):
            path = directory / f"orders-{count}.jsonl"
            tag = f"M{count}-{run_id()}"
            sizes[count] = write_jsonl(path, merchants, count, tag=tag, now=now)
            runs[count] = run_import(path, errors=directory / f"errors-{count}.csv")
            path.unlink()
    small, large = runs[small_lines], runs[large_lines]
    imported = all(run.returncode == 0 and _created(run) == count for count, run in runs.items())
    ratio = large.peak_rss_mb / small.peak_rss_mb if small.peak_rss_mb else 0.0
    flat = large.peak_rss_mb <= MEMORY_FACTOR * small.peak_rss_mb + MEMORY_SLACK_MB
    return Figure(
        name=f"import_orders peak memory, {large_lines:,} vs {small_lines:,} lines",
        value=large.peak_rss_mb,
        unit="MB",
        floor=small.peak_rss_mb,
        ratio=round(ratio, 3),
        target=MEMORY_TARGET,
        met=imported and flat,
        details={
            "format": "JSON Lines, generated to a temporary file a line at a time, then deleted",
            "measured": "peak resident set (VmHWM) of the import_orders child, as it ends",
            "floor_is": f"the peak of the {small_lines:,}-line import",
            "file_bytes": {str(count): size for count, size in sizes.items()},
            "all_imported": imported,
            "flat": flat,
            "runs": {
                str(count): {**_child_details(run, count), "created": _created(run)}
                for count, run in runs.items()
            },
        },
    )
