"""Removing personal data, a set at a time: shared by the retention job and erasure requests.

Every function works on ids the caller has locked in its transaction, writes with a few
set-based statements, and deletes stored files only after the transaction commits (a rollback
keeps them). The case, its dates, amounts, outcome and the who/when of its timeline stay:
they are the record of what happened, and fees and payment instructions refer to them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Case, CharField, F, JSONField, Value, When
from django.db.models.expressions import RawSQL

from notifications.models import Channel, DeliveryStatus, OutboxMessage

from .. import events, signals
from ..actors import SYSTEM, Actor
from ..choices import ActorKind
from ..models import Attachment, Dispute, DisputeEvent, Order
from .chain import MARKER, redacted_data

PSEUDONYM_DOMAIN = "pseudonymised.invalid"  # .invalid: never deliverable (RFC 2606)
CUSTOMER_EMAILS = "customer_"  # the kinds of the emails to the customer start so (notices.py)


def _pseudonymised(column: str, emails: Iterable[str]) -> RawSQL:
    """`CASE column WHEN email THEN its pseudonym ... ELSE column END` for a batch's rows, as
    one raw expression: Django's Case of hundreds of When took more time to build than the
    UPDATE to run (`make bench`). `column` is a column name of ours, never input."""
    found = {email: pseudonym(email) for email in emails if email and not is_pseudonym(email)}
    if not found:
        return RawSQL(column, [], CharField())  # noqa: S611 (a column name of ours)
    branches = " ".join("WHEN %s THEN %s" for _ in found)
    params = [item for pair in found.items() for item in pair]
    sql = f"CASE {column} {branches} ELSE {column} END"
    return RawSQL(sql, params, CharField())  # noqa: S611 (values are parameters)


def pseudonym(email: str) -> str:
    """The same customer gets the same pseudonym (their cases stay linked to each other), and
    without the key no one can tell whose it is."""
    key = (getattr(settings, "PSEUDONYM_KEY", "") or settings.SECRET_KEY).encode()
    digest = hmac.new(key, email.strip().lower().encode(), hashlib.sha256).hexdigest()
    return f"{digest[:32]}@{PSEUDONYM_DOMAIN}"


def is_pseudonym(email: str) -> bool:
    return email.endswith("@" + PSEUDONYM_DOMAIN)


def erase_documents(attachment_ids: Sequence[int], *, now: datetime, actor: Actor = SYSTEM) -> int:
    """Delete the files (after commit); the rows keep size and hash, the name becomes the
    marker. One timeline entry per case says how many were removed."""
    rows = list(
        Attachment.objects.filter(pk__in=attachment_ids, erased_at__isnull=True).values_list(
            "pk", "dispute_id", "file"
        )
    )
    if not rows:
        return 0
    Attachment.objects.filter(pk__in=[pk for pk, _, _ in rows]).update(
        erased_at=now, file="", original_name=MARKER
    )
    names = [name for _, _, name in rows if name]
    transaction.on_commit(lambda: _delete_files(names))
    per_case: dict[int, int] = {}
    for _, dispute_id, _ in rows:
        per_case[dispute_id] = per_case.get(dispute_id, 0) + 1
    _note(per_case, now=now, actor=actor, what="documents")
    return len(rows)


def _delete_files(names: Sequence[str]) -> None:
    for name in names:
        default_storage.delete(name)  # a file already gone is no error


@dataclass(frozen=True)
class Removed:
    cases: int = 0
    timeline_entries: int = 0  # entries whose personal text became the marker
    documents: int = 0  # files deleted


def pseudonymise_cases(
    dispute_ids: Sequence[int], *, now: datetime, actor: Actor = SYSTEM
) -> Removed:
    """The documents are deleted, the parties' words become the marker, the customer's email
    its pseudonym, the customer link stops working."""
    cases = list(
        Dispute.objects.filter(pk__in=dispute_ids, pseudonymised_at__isnull=True).values_list(
            "pk", "order_id"
        )
    )
    if not cases:
        return Removed()
    ids = [pk for pk, _ in cases]
    documents = erase_documents(
        list(Attachment.objects.filter(dispute_id__in=ids).values_list("pk", flat=True)),
        now=now,
        actor=actor,
    )
    Dispute.objects.filter(pk__in=ids).update(
        customer_message=MARKER,
        pseudonymised_at=now,
        customer_link_version=F("customer_link_version") + 1,
        updated_at=now,
    )
    redacted = _redact_timelines(ids, now=now)
    _clear_outbox(ids)
    pseudonymise_orders([order_id for _, order_id in cases], now=now)
    _note(redacted, now=now, actor=actor, what="personal_text")
    signals.personal_data_removed.send(sender=Dispute, dispute_ids=ids, now=now)
    return Removed(cases=len(ids), timeline_entries=sum(redacted.values()), documents=documents)


def _redact_timelines(dispute_ids: list[int], *, now: datetime) -> dict[int, int]:
    """The parties' entries (customer's and merchant's): message and checklist text become
    the marker, the customer's id (their email) its pseudonym. Support's and the system's
    entries (a decision's reasons) stay: they are the operator's own record of the case.
    Returns the entries redacted per case."""
    parties = DisputeEvent.objects.filter(
        dispute_id__in=dispute_ids,
        actor_kind__in=[ActorKind.CUSTOMER, ActorKind.MERCHANT],
        redacted_at__isnull=True,
    )
    rows = list(parties.values_list("pk", "dispute_id", "actor_kind", "actor_id", "data"))
    if not rows:
        return {}
    per_case: dict[int, int] = {}
    for _, dispute_id, _, _, _ in rows:
        per_case[dispute_id] = per_case.get(dispute_id, 0) + 1
    customers = {actor_id for _, _, kind, actor_id, _ in rows if kind == ActorKind.CUSTOMER}
    changes: dict[str, object] = {
        "message": Case(When(message="", then=Value("")), default=Value(MARKER)),
        "actor_id": Case(
            When(actor_kind=ActorKind.CUSTOMER, then=_pseudonymised("actor_id", customers)),
            default=F("actor_id"),
        ),
        "redacted_at": now,
    }
    with_items = [
        (pk, data) for pk, _, _, _, data in rows if isinstance(data, dict) and "items" in data
    ]
    if with_items:  # the checklist text, row by row, in the same statement
        changes["data"] = Case(
            *(When(pk=pk, then=Value(redacted_data(data), JSONField())) for pk, data in with_items),
            default=F("data"),
            output_field=JSONField(),
        )
    DisputeEvent.objects.filter(pk__in=[pk for pk, *_ in rows]).redact(**changes)
    return per_case


def _clear_outbox(dispute_ids: list[int]) -> None:
    """Emails and webhooks about the cases: their bodies' data goes, the customer's address
    (on the emails to the customer) becomes the pseudonym; one still waiting is not sent."""
    about = OutboxMessage.objects.filter(dispute_id__in=dispute_ids)
    about.filter(status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.FAILED, last_error="Not sent: the case's personal data was removed."
    )
    to_customer = about.filter(channel=Channel.EMAIL, kind__startswith=CUSTOMER_EMAILS)
    recipients = set(to_customer.values_list("recipient", flat=True).distinct())
    to_customer.update(recipient=_pseudonymised("recipient", recipients))
    about.update(context={})


def pseudonymise_orders(order_ids: Sequence[int], *, now: datetime) -> int:
    rows = list(
        Order.objects.filter(pk__in=order_ids, pseudonymised_at__isnull=True).values_list(
            "pk", "customer_email"
        )
    )
    if not rows:
        return 0
    return Order.objects.filter(pk__in=[pk for pk, _ in rows]).update(
        customer_email=_pseudonymised("customer_email", {email for _, email in rows}),
        pseudonymised_at=now,
        updated_at=now,
    )


def _note(per_case: dict[int, int], *, now: datetime, actor: Actor, what: str) -> None:
    """One staff-only timeline entry per case: what was removed, how many, by whom."""
    if not per_case:
        return
    heads = Dispute.objects.filter(pk__in=list(per_case)).only("pk")
    events.record(
        [
            events.personal_data_removed(
                dispute, actor=actor, now=now, what=what, count=per_case[dispute.pk]
            )
            for dispute in heads
        ]
    )
