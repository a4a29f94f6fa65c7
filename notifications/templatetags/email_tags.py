"""Filters for the HTML part of emails."""

from __future__ import annotations

import re

from django import template
from django.conf import settings
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

_URL = re.compile(r"https?://[^\s<>\"']+")


@register.filter
def site_links(text: str) -> SafeString:
    """The text, escaped, with only the portal's own addresses (SITE_URL) as links: a URL a
    customer or merchant wrote into a message stays plain text, never a link to click."""
    own = settings.SITE_URL.rstrip("/") + "/"

    def link(match: re.Match[str]) -> str:
        url = match.group(0)
        if not (url + "/").startswith(own):
            return url
        return f'<a href="{url}">{url}</a>'

    # Escaped first: every character that came from a person is inert before any tag is added.
    return mark_safe(_URL.sub(link, escape(text)))  # noqa: S308 - escaped above
