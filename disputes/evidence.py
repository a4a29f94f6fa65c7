"""Reads about evidence: each side's checklist with what was given, the orders the portal finds
for a case, support's itemised decision record, and what decided cases teach about evidence.

The rules (which items, which are essential, what a record needs) are in `policies`; this module
reads the database for them. Writes go through `services`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, QuerySet

from .choices import EvidenceKind, EvidenceWeight, Outcome, Party, Reason
from .models import Attachment, DecisionAssessment, Dispute, DisputeEvent, Merchant, Order
from .policies import (
    EVIDENCE,
    EVIDENCE_PARTIES,
    ChecklistItem,
    Completeness,
    HistoryEntry,
    completeness,
    decision_code,
    evidence_for,
)

# At most this many earlier orders are listed for support (the count is exact up to it).
EARLIER_ORDERS_SHOWN = 20


def earlier_undisputed_orders(dispute: Dispute) -> QuerySet[Order]:
    """The customer's earlier orders at the same shop that never had a case: for an
    unauthorized purchase they show the customer buys here (found from the order feed)."""
    order = dispute.order
    return (
        Order.objects.filter(
            merchant_id=dispute.merchant_id,
            customer_email__iexact=order.customer_email,
            placed_at__lt=order.placed_at,
        )
        .exclude(pk=order.pk)
        .exclude(Exists(Dispute.objects.filter(order_id=OuterRef("pk"))))
        .order_by("-placed_at")
    )


def automatic_evidence(dispute: Dispute) -> set[str]:
    """The portal-found items present for this case (one query, only where the list has one)."""
    found: set[str] = set()
    for entry in evidence_for(dispute.program, dispute.reason, Party.MERCHANT):
        automatic = entry.item.kind == EvidenceKind.AUTOMATIC
        if (
            automatic
            and entry.key == "earlier_orders"
            and earlier_undisputed_orders(dispute).exists()
        ):
            found.add(entry.key)
    return found


def case_history(dispute: Dispute) -> list[HistoryEntry]:
    return [
        HistoryEntry(event_type, actor_kind, data or {})
        for event_type, actor_kind, data in DisputeEvent.objects.filter(
            dispute_id=dispute.pk
        ).values_list("event_type", "actor_kind", "data")
    ]


def side_completeness(
    dispute: Dispute, party: str, *, automatic: Iterable[str] = ()
) -> Completeness:
    return completeness(
        dispute.program, dispute.reason, party, dispute.evidence_provided or [], automatic=automatic
    )


@dataclass(frozen=True)
class ChecklistLine:
    """One item of a side's checklist on a case page: given or not, with what was given."""

    entry: ChecklistItem
    given: bool
    values: list[str]
    documents: list[Attachment]

    @property
    def key(self) -> str:
        return self.entry.key


@dataclass(frozen=True)
class Checklist:
    party: str
    lines: list[ChecklistLine]
    completeness: Completeness


def checklist(
    dispute: Dispute, party: str, *, automatic: Iterable[str] = (), with_details: bool = True
) -> Checklist:
    """A side's checklist for the case: every item, whether given, and (with details) the text
    lines and documents given for it. Two queries with details, none without."""
    automatic = set(automatic)
    state = side_completeness(dispute, party, automatic=automatic)
    values: dict[str, list[str]] = defaultdict(list)
    documents: dict[str, list[Attachment]] = defaultdict(list)
    if with_details:
        for data in DisputeEvent.objects.filter(
            dispute_id=dispute.pk, actor_kind=party
        ).values_list("data", flat=True):
            for given in (data or {}).get("items", []):
                if given.get("value"):
                    values[given["item"]].append(given["value"])
        for attachment in Attachment.objects.filter(
            dispute_id=dispute.pk, uploaded_by=party
        ).exclude(evidence_item=""):
            documents[attachment.evidence_item].append(attachment)
    given = set(state.given)
    lines = [
        ChecklistLine(entry, entry.key in given, values[entry.key], documents[entry.key])
        for entry in evidence_for(dispute.program, dispute.reason, party)
    ]
    return Checklist(party, lines, state)


def prefill_from_shipments(order: Order) -> dict[str, str]:
    """Carrier and tracking number from the order feed's last shipment, to start the form."""
    shipments = [s for s in (order.shipments or []) if isinstance(s, dict)]
    if not shipments:
        return {}
    last = shipments[-1]
    return {key: str(last[key])[:200] for key in ("carrier", "tracking_number") if last.get(key)}


@dataclass(frozen=True)
class RecordLine:
    party: str
    entry: ChecklistItem | None
    key: str
    provided: bool
    weight: str
    note: str

    @property
    def label(self) -> str:
        return str(self.entry.item.label) if self.entry else self.key

    @property
    def weight_label(self) -> str:
        return str(EvidenceWeight(self.weight).label)


@dataclass(frozen=True)
class DecisionRecord:
    code: str
    code_label: str
    override_reason: str
    lines: list[RecordLine]

    def for_party(self, party: str) -> list[RecordLine]:
        return [line for line in self.lines if line.party == party]

    @property
    def merchant_lines(self) -> list[RecordLine]:
        return self.for_party(Party.MERCHANT)

    @property
    def customer_lines(self) -> list[RecordLine]:
        return self.for_party(Party.CUSTOMER)


def decision_record(dispute: Dispute) -> DecisionRecord | None:
    """The current decision's record (a decided case, or one waiting for the return), or None."""
    if not dispute.decision_code:
        return None
    rows = DecisionAssessment.objects.filter(dispute_id=dispute.pk, current=True)
    items: dict[tuple[str, str], ChecklistItem] = {
        (str(party), entry.key): entry
        for party in EVIDENCE_PARTIES
        for entry in evidence_for(dispute.program, dispute.reason, party)
    }
    code = decision_code(dispute.decision_code)
    return DecisionRecord(
        code=dispute.decision_code,
        code_label=str(code.label) if code else dispute.decision_code,
        override_reason=dispute.override_reason,
        lines=[
            RecordLine(
                row.party,
                items.get((row.party, row.item)),
                row.item,
                row.provided,
                row.weight,
                row.note,
            )
            for row in rows
        ],
    )


# --- What decided cases teach -------------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceOutcomes:
    """Of the decided cases of one reason: how often each side won, with and without an
    essential item of one side."""

    reason: str
    party: str
    entry: ChecklistItem
    with_item: dict[str, int]  # outcome -> cases
    without_item: dict[str, int]

    @staticmethod
    def _share(counts: dict[str, int], outcome: str) -> int | None:
        total = sum(counts.values())
        return None if total == 0 else round(100 * counts.get(outcome, 0) / total)

    @property
    def reason_label(self) -> str:
        return str(Reason(self.reason).label)

    @property
    def with_total(self) -> int:
        return sum(self.with_item.values())

    @property
    def without_total(self) -> int:
        return sum(self.without_item.values())

    @property
    def merchant_share_with(self) -> int | None:
        return self._share(self.with_item, Outcome.MERCHANT)

    @property
    def merchant_share_without(self) -> int | None:
        return self._share(self.without_item, Outcome.MERCHANT)


def evidence_outcomes(merchant: Merchant | None = None) -> list[EvidenceOutcomes]:
    """Per reason and essential item: the decided cases' outcomes with and without it. One
    grouped query over the current decision records (an index scan), for one merchant or all."""
    rows = DecisionAssessment.objects.filter(current=True, dispute__state="decided")
    if merchant is not None:
        rows = rows.filter(merchant=merchant)
    counts: dict[tuple[str, str, str], dict[bool, dict[str, int]]] = defaultdict(
        lambda: {True: {}, False: {}}
    )
    for reason, party, item, provided, outcome, cases in (
        rows.values_list("reason", "party", "item", "provided", "dispute__outcome")
        .annotate(cases=Count("dispute_id", distinct=True))
        .order_by()
    ):
        counts[(reason, party, item)][provided][outcome] = cases
    # The same reason in two programs shares its rows: each (reason, side, item) once.
    found: dict[tuple[str, str, str], EvidenceOutcomes] = {}
    for (_program, reason, party), entries in EVIDENCE.items():
        for entry in entries:
            by_presence = counts.get((reason, party, entry.key))
            if entry.essential and by_presence is not None:
                found.setdefault(
                    (reason, party, entry.key),
                    EvidenceOutcomes(reason, party, entry, by_presence[True], by_presence[False]),
                )
    return list(found.values())
