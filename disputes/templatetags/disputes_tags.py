from datetime import datetime

from django import template
from django.utils import formats

from disputes.policies import deadline_for_display

register = template.Library()


@register.filter
def deadline(moment: datetime | None, time_zone: str) -> str:
    """A deadline in the merchant's time zone, as its last minute: "25 October 2026 23:59"."""
    if moment is None:
        return ""
    return formats.date_format(deadline_for_display(moment, time_zone), "DATETIME_FORMAT")
