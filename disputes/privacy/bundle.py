"""A case handed to an ADR body: `case.pdf` for people (the case, both sides, the itemised
decision, the timeline), `case.json` (the same, for programs), the documents, and
`manifest.json` with the SHA-256 of every file and the head of the timeline's hash chain.

Whoever receives the bundle can check the files against the manifest, and the chain against
`case.json` (each entry's `previous_hash` is the entry before's `hash`); the portal's
`manage.py verify_timeline <case id>` checks the stored case the same way.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from .. import events
from ..actors import Actor
from ..choices import ActorKind, EventType, Outcome, Program, Reason, State
from ..models import Dispute, DisputeEvent
from .archive import dumps, write_zip
from .chain import check
from .records import case_json, cases_for_records, stored_documents


@dataclass(frozen=True)
class CaseBundle:
    archive: IO[bytes]
    filename: str
    chain_intact: bool


def case_bundle(*, dispute: Dispute, actor: Actor, now: datetime | None = None) -> CaseBundle:
    now = now or timezone.now()
    with transaction.atomic():
        Dispute.objects.select_for_update().filter(pk=dispute.pk).first()  # the chain's head
        (case,) = cases_for_records(Dispute.objects.filter(pk=dispute.pk))
        breaks = check(case.events.all())
        record = case_json(case)
        timeline = list(case.events.all())
        record["timeline_chain"] = {
            "intact": not breaks,
            "head": timeline[-1].hash if timeline else "",
            "breaks": [{"event": b.event_id, "problem": b.problem} for b in breaks],
        }
        files = {"case.json": dumps(record), "case.pdf": case_pdf(case, breaks=len(breaks))}
        archive, _hashes = write_zip(files, stored_documents([case]))
        events.record([events.data_exported(case, actor=actor, now=now, what="adr_bundle")])
    return CaseBundle(
        archive=archive, filename=f"case-{case.public_id}-{now:%Y%m%d}.zip", chain_intact=not breaks
    )


def _label(choices: Any, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def _side(event: DisputeEvent) -> str:
    sides: dict[str, str] = {
        ActorKind.CUSTOMER: _("Customer"),
        ActorKind.MERCHANT: _("Merchant"),
        ActorKind.STAFF: _("Support"),
        ActorKind.SYSTEM: _("Portal"),
    }
    return sides.get(event.actor_kind, event.actor_kind)


def case_pdf(case: Dispute, *, breaks: int) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
    from reportlab.platypus.flowables import Flowable

    def text(value: object) -> str:
        return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    def when(moment: datetime | None) -> str:
        return formats.date_format(moment, "DATETIME_FORMAT") + " UTC" if moment else "-"

    styles = getSampleStyleSheet()
    body, small = styles["Normal"], styles["BodyText"]
    buffer = io.BytesIO()
    title = _("Case %(case)s") % {"case": case.public_id}
    document = SimpleDocTemplate(
        buffer, pagesize=A4, title=title, leftMargin=18 * mm, rightMargin=18 * mm
    )
    grid = TableStyle(
        [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("FONTSIZE", (0, 0), (-1, -1), 8),
            ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
            ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
        ]
    )
    order = case.order
    facts = [
        [_("Merchant"), case.merchant.name],
        [_("Order"), f"{order.order_number}, {when(order.placed_at)}"],
        [_("Order amount"), f"{order.amount} {order.currency}"],
        [_("Program"), _label(Program, case.program)],
        [_("Reason"), _label(Reason, case.reason)],
        [_("Disputed amount"), f"{case.disputed_amount} {case.currency}"],
        [_("State"), _label(State, case.state)],
        [_("Outcome"), _label(Outcome, case.outcome) if case.outcome else "-"],
        [_("Opened"), when(case.opened_at)],
        [_("Escalated"), when(case.escalated_at)],
        [_("Closed"), when(case.closed_at)],
    ]
    story: list[Flowable] = [
        Paragraph(text(title), styles["Title"]),
        Table(
            [[Paragraph(text(k), small), Paragraph(text(v), small)] for k, v in facts],
            colWidths=[45 * mm, 125 * mm],
            style=TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]),
        ),
        Spacer(1, 4 * mm),
        Paragraph(text(_("The customer's statement")), styles["Heading2"]),
        Paragraph(text(case.customer_message), body),
    ]
    answers = [e for e in case.events.all() if e.actor_kind == ActorKind.MERCHANT and e.message]
    story.append(Paragraph(text(_("The merchant's answers")), styles["Heading2"]))
    for event in answers or []:
        story.append(
            Paragraph(
                f"<b>{text(when(event.created_at))}, {text(_label(EventType, event.event_type))}"
                f":</b> {text(event.message)}",
                body,
            )
        )
    if not answers:
        story.append(Paragraph(text(_("The merchant gave no written answer.")), body))
    if case.decision_code or case.decision_reason:
        story.append(Paragraph(text(_("The decision")), styles["Heading2"]))
        story.append(Paragraph(text(case.decision_reason), body))
        rows: list[list[object]] = [
            [_("Side"), _("Evidence item"), _("Given"), _("Weight"), _("Why")]
        ]
        for assessment in case.assessments.all():
            rows.append(
                [
                    assessment.party,
                    assessment.item,
                    _("yes") if assessment.provided else _("no"),
                    assessment.weight,
                    Paragraph(text(assessment.note), small),
                ]
            )
        if len(rows) > 1:
            widths = [20 * mm, 40 * mm, 14 * mm, 26 * mm, 70 * mm]
            story.append(Table(rows, colWidths=widths, repeatRows=1, style=grid))
    story.append(Paragraph(text(_("Timeline")), styles["Heading2"]))
    if breaks:
        story.append(
            Paragraph(
                text(
                    _("Warning: the timeline's hash chain does not hold (%(n)s entries).")
                    % {"n": breaks}
                ),
                body,
            )
        )
    timeline: list[list[object]] = [[_("When"), _("By"), _("What"), _("Hash")]]
    for event in case.events.all():
        what = _label(EventType, event.event_type)
        if event.message:
            what = f"{what}: {event.message}"
        timeline.append(
            [
                Paragraph(text(when(event.created_at)), small),
                _side(event),
                Paragraph(text(what), small),
                Paragraph(text(event.hash[:16]), small),
            ]
        )
    story.append(
        Table(timeline, colWidths=[36 * mm, 18 * mm, 90 * mm, 26 * mm], repeatRows=1, style=grid)
    )
    document.build(story)
    return buffer.getvalue()
