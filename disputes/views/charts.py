"""Server-rendered SVG charts: geometry computed here, drawn by a template, no JavaScript."""

from __future__ import annotations

from datetime import date
from typing import Any

from babel.dates import format_date
from django.db import models
from django.utils import formats

from ..email_display import reader_locale

# Colour-blind-safe palette (Okabe-Ito), one colour per reason in a fixed order.
PALETTE = [
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#7F7F7F",
    "#F0E442",
    "#000000",
]
WIDTH, HEIGHT, AXIS = 640, 220, 28


def reasons_chart(
    months: list[tuple[date, dict[str, int]]], reasons: type[models.TextChoices]
) -> dict[str, Any]:
    """Stacked bars: one per month, a segment per reason, scaled to the busiest month."""
    colours = {value: PALETTE[i % len(PALETTE)] for i, value in enumerate(reasons.values)}
    labels = dict(reasons.choices)
    busiest = max((sum(counts.values()) for _, counts in months), default=0) or 1
    slot = WIDTH / max(len(months), 1)
    plot_height = HEIGHT - AXIS
    bars = []
    used: set[str] = set()
    for index, (month, counts) in enumerate(months):
        top = float(plot_height)
        segments = []
        for reason in reasons.values:
            count = counts.get(reason, 0)
            if not count:
                continue
            used.add(reason)
            height = plot_height * count / busiest
            top -= height
            segments.append(
                {
                    "y": round(top, 1),
                    "height": round(height, 1),
                    "colour": colours[reason],
                    "label": labels[reason],
                    "count": count,
                }
            )
        bars.append(
            {
                "x": round(index * slot + slot * 0.15, 1),
                "width": round(slot * 0.7, 1),
                "centre": round(index * slot + slot / 2, 1),
                "month": formats.date_format(month, "YEAR_MONTH_FORMAT"),
                "short": month_abbreviation(month),
                "total": sum(counts.values()),
                "segments": segments,
            }
        )
    legend = [(colours[r], labels[r]) for r in reasons.values if r in used]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "axis_y": plot_height + 18,
        "bars": bars,
        "legend": legend,
        "busiest": busiest,
    }


def month_abbreviation(month: date) -> str:
    """The month's standard short name in the reader's language (CLDR: "Jan", "tammi",
    "mrt", "mars", "Mär"), for chart axes; Django's own three-letter cut reads oddly in some."""
    return str(format_date(month, "LLL", locale=reader_locale()))
