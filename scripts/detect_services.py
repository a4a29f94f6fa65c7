"""Print shell exports for the test run: PostgreSQL and Redis when they answer, else SQLite.

Used by `make test`. An explicit DATABASE_URL or REDIS_URL in the environment always wins.
"""

import os
import socket
import sys

PG_URL = "postgres://postgres@127.0.0.1:5432/disputes_portal"
REDIS_URL = "redis://127.0.0.1:6379/0"


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def postgres_ready(url: str) -> bool:
    try:
        import psycopg

        # Connect to the maintenance database: the test database is created by pytest-django.
        with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", connect_timeout=3):
            return True
    except Exception as error:
        print(f"# PostgreSQL not usable: {error}", file=sys.stderr)
        return False


def main() -> None:
    exports = {}
    if "DATABASE_URL" not in os.environ and answers("127.0.0.1", 5432) and postgres_ready(PG_URL):
        exports["DATABASE_URL"] = PG_URL
    if "REDIS_URL" not in os.environ and answers("127.0.0.1", 6379):
        exports["REDIS_URL"] = REDIS_URL
    for key, value in exports.items():
        print(f"export {key}={value}")


if __name__ == "__main__":
    main()
