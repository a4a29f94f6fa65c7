"""Run a Python program in this process and, as it ends, write its peak resident memory to the
file named by BENCH_PEAK_FILE: `python -m bench.child_peak manage.py import_orders FILE ...` or
`python -m bench.child_peak -m bench.floor_orders FILE`.

Why not the parent's `wait4` or `RUSAGE_CHILDREN`: on Linux a child's ru_maxrss also counts the
memory of the process it was spawned from (the kernel keeps the high-water mark of the address
space an exec replaces), so a child of a large benchmark process reports the benchmark's size.
VmHWM (bench/memory.py) is the high-water mark of this program's own address space only.
"""

from __future__ import annotations

import atexit
import os
import runpy
import sys
from pathlib import Path

from .memory import peak_rss_mb


def _write_peak(path: str) -> None:
    Path(path).write_text(f"{peak_rss_mb()}\n")


def main() -> None:
    atexit.register(_write_peak, os.environ["BENCH_PEAK_FILE"])
    if sys.argv[1] == "-m":
        sys.argv = sys.argv[2:]
        runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
    else:
        sys.argv = sys.argv[1:]
        runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
