"""This process's resident memory, from /proc (Linux): now, and the peak since the last reset."""

from __future__ import annotations

import contextlib
from pathlib import Path

_STATUS = Path("/proc/self/status")


def _field_mb(name: str) -> float:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(name + ":"):
            return round(int(line.split()[1]) / 1024, 1)  # the kernel reports kB
    return 0.0


def rss_mb() -> float:
    return _field_mb("VmRSS")


def peak_rss_mb() -> float:
    return _field_mb("VmHWM")


def reset_peak() -> None:
    """Make the peak start again from the current size (writing 5 to clear_refs does that)."""
    # Where that is not permitted, the peak covers the whole process.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
