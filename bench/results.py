"""One measured figure of the benchmark, and the table and JSON file they end up in."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS_PATH = Path(__file__).resolve().parent / "results.json"


@dataclass
class Figure:
    """`ratio` is always stated so that the target reads as a bound on it, e.g. the sweep's
    "floor rate / portal rate <= 3" or the API's "portal rps / floor rps >= 0.5"."""

    name: str
    value: float
    unit: str
    floor: float | None = None
    ratio: float | None = None
    target: str | None = None  # e.g. "<= 3", ">= 0.5"
    met: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check(ratio: float, target: str) -> bool:
    """Whether `ratio` meets a target written as "<= x" or ">= x"."""
    operator, bound = target.split()
    return ratio <= float(bound) if operator == "<=" else ratio >= float(bound)


def median_ms(samples: Sequence[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def p99_ms(samples: Sequence[float]) -> float:
    """The 99th percentile (nearest rank) of samples in seconds, in milliseconds."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(0.99 * len(ordered) + 0.5) - 1))
    return round(ordered[rank] * 1000, 2)


def write_results(
    figures: Sequence[Figure], *, meta: dict[str, Any], path: Path = RESULTS_PATH
) -> None:
    path.write_text(
        json.dumps({"meta": meta, "figures": [f.as_dict() for f in figures]}, indent=2) + "\n"
    )


def table(figures: Sequence[Figure]) -> str:
    """A plain-text table for people."""
    header = ("figure", "value", "unit", "floor", "ratio", "target", "met")
    rows = [
        (
            f.name,
            _num(f.value),
            f.unit,
            "" if f.floor is None else _num(f.floor),
            "" if f.ratio is None else f"{f.ratio:.2f}",
            f.target or "",
            "" if f.met is None else ("yes" if f.met else "NO"),
        )
        for f in figures
    ]
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def _num(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
