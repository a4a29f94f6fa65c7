"""gunicorn settings shared by the portal and its floor in the API list figure, so that both
servers run the same worker model: what the Dockerfile and docker-compose run (2 sync workers,
one request at a time each, no keep-alive), with no access log.
"""
# The Dockerfile's command line names --workers 2 and the default (sync) worker class.

from __future__ import annotations

import os
from typing import Any

workers = 2
worker_class = "sync"
timeout = 30
graceful_timeout = 5
accesslog = None
loglevel = "warning"


def post_worker_init(worker: Any) -> None:
    # Tell the benchmark this worker has loaded the app (a pipe it passed), so that it waits for
    # exactly that instead of polling.
    ready_fd = os.environ.get("BENCH_READY_FD")
    if ready_fd:
        os.write(int(ready_fd), b"ready\n")
