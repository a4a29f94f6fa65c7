"""Drop and create the benchmark's database, named by DATABASE_URL (used by `make bench`)."""

import os
import sys

import psycopg
from psycopg import sql


def main() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit(
            "make bench needs PostgreSQL: none answered on 127.0.0.1:5432 and DATABASE_URL "
            "is not a postgres:// URL."
        )
    server, name = url.rsplit("/", 1)
    with psycopg.connect(server + "/postgres", autocommit=True) as connection:
        database = sql.Identifier(name)
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(database))
    print(f"Benchmark database {name} created afresh.")


if __name__ == "__main__":
    main()
