"""A customer's data, given back (GDPR Art. 15 and 20): everything about one email address,
all cases of all shops, as one ZIP: `index.json` (orders, cases with both sides' statements,
messages, decisions and timelines, the emails sent), the documents, and `manifest.json`.

The export is logged: a staff-only entry on each case and a `PersonalDataRequest` row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from notifications.models import Channel, OutboxMessage

from .. import events
from ..actors import Actor, staff_id
from ..models import Dispute, Order, PersonalDataRequest
from .archive import dumps, write_zip
from .records import case_json, cases_for_records, order_json, stored_documents
from .removal import pseudonym

FORMAT_VERSION = 1


@dataclass(frozen=True)
class CustomerExport:
    archive: IO[bytes]
    filename: str
    cases: int
    orders: int
    documents: int


def customer_match(email: str, prefix: str = "") -> Q:
    """The customer's records: under the email, and under its pseudonym once pseudonymised
    (still their personal data)."""
    field = f"{prefix}customer_email__iexact"
    return Q(**{field: email.strip()}) | Q(**{field: pseudonym(email)})


def customer_orders(email: str) -> QuerySet[Order]:
    return Order.objects.filter(customer_match(email)).select_related("merchant")


def customer_cases(email: str) -> QuerySet[Dispute]:
    return Dispute.objects.filter(customer_match(email, "order__"))


def _emails(email: str, cases: dict[int, str]) -> list[dict[str, Any]]:
    rows = (
        OutboxMessage.objects.filter(channel=Channel.EMAIL)
        .filter(Q(recipient__iexact=email.strip()) | Q(recipient=pseudonym(email)))
        .order_by("created_at", "id")
        .values("kind", "language", "status", "created_at", "sent_at", "dispute_id")
    )
    return [
        {
            "kind": row["kind"],
            "case": cases.get(row["dispute_id"]),
            "language": row["language"],
            "status": row["status"],
            "queued_at": row["created_at"].isoformat(),
            "sent_at": row["sent_at"].isoformat() if row["sent_at"] else None,
        }
        for row in rows
    ]


def customer_export(*, email: str, actor: Actor, now: datetime | None = None) -> CustomerExport:
    now = now or timezone.now()
    with transaction.atomic():
        # Locked: the entries logging the export join each case's hash chain.
        ids = list(
            customer_cases(email).select_for_update().order_by("pk").values_list("pk", flat=True)
        )
        cases = cases_for_records(Dispute.objects.filter(pk__in=ids).order_by("opened_at", "pk"))
        orders = list(customer_orders(email).order_by("placed_at", "pk"))
        documents = stored_documents(cases)
        index = {
            "format": FORMAT_VERSION,
            "customer_email": email.strip(),
            "exported_at": now.isoformat(),
            "orders": [order_json(order) for order in orders],
            "cases": [case_json(dispute) for dispute in cases],
            "emails": _emails(email, {d.pk: d.public_id for d in cases}),
            "notes": [
                "Each case lists every timeline entry with who could see it (visible_to): "
                "entries for the shop or for support only may hold other people's data; "
                "review them before handing the export over (GDPR Art. 15(4)).",
                "Documents removed under the retention policy are listed with removed_at and "
                "their SHA-256, without a file.",
            ],
        }
        archive, _hashes = write_zip({"index.json": dumps(index)}, documents)
        events.record(
            [events.data_exported(d, actor=actor, now=now, what="customer_export") for d in cases]
        )
        PersonalDataRequest.objects.create(
            kind=PersonalDataRequest.Kind.EXPORT,
            pseudonym=pseudonym(email),
            handled_by_id=staff_id(actor),
            handled_at=now,
            summary={"cases": len(cases), "orders": len(orders), "documents": len(documents)},
        )
    return CustomerExport(
        archive=archive,
        filename=f"personal-data-{pseudonym(email)[:12]}-{now:%Y%m%d}.zip",
        cases=len(cases),
        orders=len(orders),
        documents=len(documents),
    )
