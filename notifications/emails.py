"""Emails: templates/emails/<kind>/{subject.txt, body.txt} rendered in the reader's language.

The context is stored as JSON in the outbox. Apps register context processors that turn its
codes, timestamps and amounts into what a reader sees (`register_context_processor`, from their
`AppConfig.ready()`); the outbox itself knows nothing of them. The HTML part is the text body
set in the shared layout (emails/layout.html), so the two parts never say different things.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import formataddr, parseaddr
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone, translation

from .models import OutboxMessage
from .policies import gives_up, retry_delay

ContextProcessor = Callable[[dict[str, Any], str], dict[str, Any]]
_CONTEXT_PROCESSORS: list[ContextProcessor] = []


def register_context_processor(processor: ContextProcessor) -> None:
    """`processor(context, time_zone)` returns the context with values added for display."""
    if processor not in _CONTEXT_PROCESSORS:
        _CONTEXT_PROCESSORS.append(processor)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def display_context(context: dict[str, Any], time_zone: str) -> dict[str, Any]:
    """The context after every registered processor (call inside translation.override)."""
    shown = dict(context)
    for processor in _CONTEXT_PROCESSORS:
        shown = processor(shown, time_zone)
    return shown


def render_email(
    kind: str, context: dict[str, Any], *, language: str, time_zone: str
) -> RenderedEmail:
    with translation.override(language), timezone.override(ZoneInfo(time_zone)):
        ctx = display_context(context, time_zone) | {"time_zone": time_zone}
        subject = render_to_string(f"emails/{kind}/subject.txt", ctx)
        text = render_to_string(f"emails/{kind}/body.txt", ctx).strip() + "\n"
        html = render_to_string(
            "emails/layout.html",
            ctx
            | {
                "subject": " ".join(subject.split()),
                "body_text": text,
                "recipient_is_merchant": kind.startswith("merchant_"),
            },
        )
    return RenderedEmail(subject=" ".join(subject.split()), text=text, html=html)


def sender_in(language: str) -> str:
    """DEFAULT_FROM_EMAIL with its name in the reader's language ("Riitaportaali
    <disputes@...>"): the default name is a translated string; a name of the operator's own
    that the catalogue does not know stays as it is."""
    name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    if not name:
        return settings.DEFAULT_FROM_EMAIL
    with translation.override(language):
        return formataddr((translation.gettext(name), address))


def send_email(message: OutboxMessage) -> None:
    """The email channel's sender: one SMTP (or file backend) delivery; raises on failure."""
    rendered = render_email(
        message.kind, message.context, language=message.language, time_zone=message.time_zone
    )
    email = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=sender_in(message.language),
        to=[message.recipient],
        headers={"X-Outbox-Id": str(message.pk)},
    )
    email.attach_alternative(rendered.html, "text/html")
    email.send(fail_silently=False)


def email_next_attempt_at(
    message: OutboxMessage, error: Exception, now: datetime
) -> datetime | None:
    return None if gives_up(message.attempts) else now + retry_delay(message.attempts)
