"""The floor of the order intake figures: the same orders stored with PostgreSQL COPY.

Two entry points, both Django-free, with one psycopg connection each:

- `application`, a WSGI app for `POST /api/v1/orders/batch` (served by gunicorn as the portal
  is, bench/gunicorn_conf.py): it finds the API key by its SHA-256 as the portal does (the same
  query and once-a-minute write, bench/floor_wsgi.py), the merchant of `X-Merchant`, parses the
  body and COPYs its orders (bench.orderfeed.floor_row) in one transaction, then answers
  `{"results": [{"order_number": ..., "status": "created"}, ...]}`.
- `python -m bench.floor_orders FILE`: an import file (CSV or JSON Lines, as
  `manage.py import_orders` reads them), read a line at a time, COPYed a thousand lines per
  transaction as the import commits a batch at a time; prints one JSON line (lines, seconds).

No checks, no look-up of existing orders: every order is taken to be new. What is left is
reading the input, turning it into rows and PostgreSQL storing them (with disputes_order's
indexes and constraints).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg

from .floor_wsgi import KEY_SQL, StartResponse, respond, touch_key
from .memory import peak_rss_mb
from .orderfeed import BATCH_SIZE, chunked, copy_sql, floor_row

MERCHANT_SQL = 'SELECT "id" FROM "disputes_merchant" WHERE "slug" = %s'
PATH = "/api/v1/orders/batch"


def connect(database_url: str) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(database_url, options="-c TimeZone=UTC")


Connection = psycopg.Connection[tuple[Any, ...]]


def copy_rows(connection: Connection, rows: Iterable[tuple[Any, ...]]) -> None:
    """COPY the rows into disputes_order in the connection's current transaction."""
    with connection.cursor() as cursor, cursor.copy(copy_sql()) as copy:
        for row in rows:
            copy.write_row(row)


class FloorApp:
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.connection: psycopg.Connection[tuple[Any, ...]] | None = None
        self.merchants: dict[str, int] = {}

    def connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        if self.connection is None or self.connection.closed:
            self.connection = connect(self.database_url)
            self.connection.autocommit = True
        return self.connection

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST":
            return respond(start_response, "404 Not Found", {"error": {"code": "not_found"}})
        scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer":
            return respond(start_response, "401 Unauthorized", {"error": {"code": "unauthorized"}})
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length))
        connection = self.connect()
        with connection.cursor() as cursor:
            cursor.execute(KEY_SQL, (hashlib.sha256(token.encode()).hexdigest(),))
            key = cursor.fetchone()
            if key is None:
                return respond(
                    start_response, "401 Unauthorized", {"error": {"code": "unauthorized"}}
                )
            # Looked up on every call (the portal keeps it for a few seconds): one query per
            # 1 000 orders either way.
            now = datetime.now(UTC)
            touch_key(cursor, key, now)
            slug = environ.get("HTTP_X_MERCHANT", "")
            cursor.execute(MERCHANT_SQL, (slug,))
            merchant = cursor.fetchone()
        if merchant is None:
            return respond(start_response, "404 Not Found", {"error": {"code": "not_found"}})
        orders = body["orders"]
        with connection.transaction():
            copy_rows(connection, (floor_row(o, merchant_id=merchant[0], now=now) for o in orders))
        results = [{"order_number": o["order_number"], "status": "created"} for o in orders]
        return respond(start_response, "200 OK", {"results": results})


_app: FloorApp | None = None


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """The entry point for gunicorn; reads DATABASE_URL on the first request."""
    global _app  # one app, and so one connection, per worker process
    if _app is None:
        _app = FloorApp(os.environ["DATABASE_URL"])
    return _app(environ, start_response)


# --- The import floor --------------------------------------------------------------------------


def read_file(path: str) -> Iterator[dict[str, Any]]:
    """The orders of an import file, with their `merchant`, a line at a time."""
    with open(path, encoding="utf-8", newline="") as lines:
        if path.endswith(".csv"):
            yield from csv.DictReader(lines)
        else:
            for line in lines:
                yield json.loads(line)


def import_file(database_url: str, path: str) -> dict[str, Any]:
    """COPY every order of the file, BATCH_SIZE lines per transaction."""
    started = time.perf_counter()
    lines = 0
    with connect(database_url) as connection:
        merchants: dict[str, int] = {}

        def merchant_id(slug: str) -> int:
            if slug not in merchants:
                row = connection.execute(MERCHANT_SQL, (slug,)).fetchone()
                if row is None:
                    raise SystemExit(f"no merchant {slug!r}")
                merchants[slug] = row[0]
            return merchants[slug]

        for chunk in chunked(read_file(path), BATCH_SIZE):
            now = datetime.now(UTC)
            # The rows first: a query (a new merchant) cannot run on the connection mid-COPY.
            rows = [
                floor_row(item, merchant_id=merchant_id(item["merchant"]), now=now)
                for item in chunk
            ]
            with connection.transaction():
                copy_rows(connection, rows)
            lines += len(chunk)
    return {
        "lines": lines,
        "seconds": round(time.perf_counter() - started, 3),
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file")
    arguments = parser.parse_args()
    print(json.dumps(import_file(os.environ["DATABASE_URL"], arguments.file)), flush=True)


if __name__ == "__main__":
    main()
