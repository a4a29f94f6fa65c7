"""The retention job at several clock points: exactly what the policy says goes, nothing
under a legal hold, nothing of an order with a case still running; twice is once; fees and
statements stay as they were."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from api.models import Event
from billing.models import FeeLine, Statement, StatementLine
from billing.services import statements_issue_due
from disputes import services
from disputes.choices import ActorKind, EventType, Program, Reason
from disputes.links import LinkInvalid, customer_token
from disputes.models import Attachment, Dispute, DisputeEvent, Order
from disputes.privacy.chain import MARKER
from disputes.privacy.holds import legal_hold_lift, legal_hold_place
from disputes.privacy.policies import months_after
from disputes.privacy.removal import pseudonym
from disputes.privacy.retention import apply_retention
from disputes.selectors import dispute_for_customer_link
from notifications.models import OutboxMessage
from tests.factories import OrderFactory, customer_actor, open_dispute, staff_actor

from .conftest import OPENED, Story, escalated_and_decided

pytestmark = pytest.mark.postgres


def _snapshot(dispute: Dispute) -> dict[str, Any]:
    """Every row of the case, its order, documents, timeline and emails, as stored."""
    return {
        "dispute": Dispute.objects.filter(pk=dispute.pk).values().get(),
        "order": Order.objects.filter(pk=dispute.order_id).values().get(),
        "attachments": list(Attachment.objects.filter(dispute=dispute).order_by("pk").values()),
        "events": list(DisputeEvent.objects.filter(dispute=dispute).order_by("pk").values()),
        "outbox": list(OutboxMessage.objects.filter(dispute=dispute).order_by("pk").values()),
    }


def _money_records() -> list[list[dict[str, Any]]]:
    return [
        list(FeeLine.objects.order_by("pk").values()),
        list(Statement.objects.order_by("pk").values()),
        list(StatementLine.objects.order_by("pk").values()),
    ]


def _stored(dispute: Dispute) -> list[bool]:
    return [
        bool(a.file) and default_storage.exists(a.file.name)
        for a in Attachment.objects.filter(dispute=dispute).order_by("pk")
    ]


def _run(at: Any, **kwargs: Any) -> dict[str, int]:
    with time_machine.travel(at, tick=False), transaction.atomic():
        report = apply_retention(**kwargs).as_dict()
    return report


def _commit_hooks(
    django_capture_on_commit_callbacks: Any, at: Any, **kwargs: Any
) -> dict[str, int]:
    with django_capture_on_commit_callbacks(execute=True):
        return _run(at, **kwargs)


def test_nothing_goes_before_thirteen_months_after_the_close(
    story: Story, django_capture_on_commit_callbacks: Any
) -> None:
    before = _snapshot(story.dispute)
    just_before = months_after(story.closed_at, 13) - timedelta(minutes=1)
    report = _commit_hooks(django_capture_on_commit_callbacks, just_before)
    assert report == {"documents": 0, "cases": 0, "timeline_entries": 0, "orders": 0}
    assert _snapshot(story.dispute) == before
    assert _stored(story.dispute) == [True, True]


def test_after_thirteen_months_the_documents_and_the_words_go_and_the_record_stays(
    story: Story, django_capture_on_commit_callbacks: Any
) -> None:
    dispute = story.dispute
    with time_machine.travel(story.closed_at + timedelta(days=40), tick=False):
        statements_issue_due()  # the month's fee statement, issued
    money = _money_records()
    assert money[0], "the case was charged a fee"
    assert money[1], "and billed"
    token = customer_token(dispute)
    names = [a.file.name for a in Attachment.objects.filter(dispute=dispute)]
    assert Event.objects.filter(dispute=dispute).exists()  # the events feed's copies
    due = months_after(story.closed_at, 13) + timedelta(minutes=1)

    report = _commit_hooks(django_capture_on_commit_callbacks, due, batch_size=1)

    assert report["documents"] == 2
    assert report["cases"] == 1
    assert report["orders"] == 0
    assert not any(default_storage.exists(name) for name in names)
    for attachment in Attachment.objects.filter(dispute=dispute):
        assert attachment.erased_at is not None
        assert attachment.original_name == MARKER
        assert len(attachment.sha256) == 64
        assert attachment.size > 0
    dispute.refresh_from_db()
    assert dispute.customer_message == MARKER
    assert dispute.pseudonymised_at is not None
    assert dispute.outcome == "customer"
    assert dispute.closed_at == story.closed_at
    order = Order.objects.get(pk=dispute.order_id)
    assert order.customer_email == pseudonym("jan@mail.example")
    words = " ".join(
        f"{e.message} {e.actor_id} {e.data}" for e in DisputeEvent.objects.filter(dispute=dispute)
    )
    for personal in ("Jan", "Dorpsstraat", "06-12345678", "3SABC123", "jan@mail.example"):
        assert personal not in words
    parties = DisputeEvent.objects.filter(
        dispute=dispute, actor_kind__in=[ActorKind.CUSTOMER, ActorKind.MERCHANT]
    )
    assert parties.count() == report["timeline_entries"] > 0
    assert all(e.redacted_at is not None for e in parties)
    decided = DisputeEvent.objects.get(dispute=dispute, event_type=EventType.DECIDED)
    assert decided.message == "The merchant showed no proof of delivery."  # support's record
    removed = DisputeEvent.objects.filter(
        dispute=dispute, event_type=EventType.PERSONAL_DATA_REMOVED
    )
    assert {e.data["what"] for e in removed} == {"documents", "personal_text"}
    assert sum(e.data["count"] for e in removed if e.data["what"] == "documents") == 2
    emails = OutboxMessage.objects.filter(dispute=dispute)
    assert all(m.context == {} for m in emails)
    assert not emails.filter(recipient__iexact="jan@mail.example").exists()
    with pytest.raises(LinkInvalid):
        dispute_for_customer_link(token)
    assert not Event.objects.filter(dispute=dispute).exists()  # gone from the feed too
    assert _money_records() == money  # fees and statements untouched
    call_command("verify_timeline", dispute.public_id)  # the chain still holds


def test_running_twice_or_a_year_late_changes_nothing_more(
    story: Story, django_capture_on_commit_callbacks: Any
) -> None:
    due = months_after(story.closed_at, 13) + timedelta(hours=1)
    first = _commit_hooks(django_capture_on_commit_callbacks, due)
    assert first["cases"] == 1
    after_one_run = _snapshot(story.dispute)
    again = _commit_hooks(django_capture_on_commit_callbacks, due)
    late = _commit_hooks(django_capture_on_commit_callbacks, due + timedelta(days=365))
    assert again == late == {"documents": 0, "cases": 0, "timeline_entries": 0, "orders": 0}
    assert _snapshot(story.dispute) == after_one_run


def test_a_late_first_run_gives_what_a_run_on_time_gives(
    db: Any, django_capture_on_commit_callbacks: Any
) -> None:
    on_time = escalated_and_decided(email="one@mail.example")
    late = escalated_and_decided(email="two@mail.example")
    _commit_hooks(django_capture_on_commit_callbacks, months_after(on_time.closed_at, 13))
    # The second case's first run is half a year late (the beat was down): the same result.
    _commit_hooks(
        django_capture_on_commit_callbacks, months_after(late.closed_at, 19), batch_size=3
    )

    def shape(dispute: Dispute) -> list[tuple[str, str, bool]]:
        return [
            (e.event_type, e.message, e.redacted_at is not None)
            for e in DisputeEvent.objects.filter(dispute=dispute).order_by("pk")
        ]

    assert shape(on_time.dispute) == shape(late.dispute)


def test_a_legal_hold_stops_everything_until_it_is_lifted(
    story: Story, django_capture_on_commit_callbacks: Any
) -> None:
    support = staff_actor()
    legal_hold_place(dispute=story.dispute, actor=support, reason="Court case 2026/118")
    before = _snapshot(story.dispute)
    due = months_after(story.closed_at, 30)
    held = _commit_hooks(django_capture_on_commit_callbacks, due)
    assert held == {"documents": 0, "cases": 0, "timeline_entries": 0, "orders": 0}
    assert _snapshot(story.dispute) == before
    assert _stored(story.dispute) == [True, True]

    legal_hold_lift(dispute=story.dispute, actor=support, reason="Judgment is final")
    lifted = _commit_hooks(django_capture_on_commit_callbacks, due)
    assert lifted["documents"] == 2
    assert lifted["cases"] == 1


def test_a_hold_or_an_open_case_on_the_same_order_keeps_the_earlier_case(
    db: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """The order's whole history: a later case about the same order may need the earlier
    case's documents, so the clock runs from the order's last close."""
    with time_machine.travel(OPENED, tick=False):
        first = open_dispute(
            program=Program.BUYER_PROTECTION,
            reason=Reason.NO_REFUND_AFTER_RETURN,
            customer_email="jan@mail.example",
            message="Jan sent it back.",
        )
        services.dispute_withdraw(dispute=first, actor=customer_actor(first))
    first.refresh_from_db()
    with time_machine.travel(OPENED + timedelta(days=20), tick=False):
        second = open_dispute(order=first.order, message="Jan: still no refund.")
    nothing = {"documents": 0, "cases": 0, "timeline_entries": 0, "orders": 0}
    assert first.closed_at is not None
    at_14 = months_after(first.closed_at, 14)
    assert _commit_hooks(django_capture_on_commit_callbacks, at_14) == nothing

    with time_machine.travel(at_14, tick=False):
        services.dispute_withdraw(dispute=second, actor=customer_actor(second))
        legal_hold_place(dispute=second, actor=staff_actor(), reason="Police report 77")
    at_40 = months_after(first.closed_at, 40)
    assert _commit_hooks(django_capture_on_commit_callbacks, at_40) == nothing
    first.refresh_from_db()
    assert first.customer_message == "Jan sent it back."


def test_the_words_may_be_kept_longer_than_the_documents(
    story: Story, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.RETENTION_POLICY = {"personal_text": {"months": 24}}
    at_13 = _commit_hooks(django_capture_on_commit_callbacks, months_after(story.closed_at, 13))
    assert at_13["documents"] == 2
    assert at_13["cases"] == 0
    story.dispute.refresh_from_db()
    assert story.dispute.customer_message.startswith("I am Jan")
    at_24 = _commit_hooks(django_capture_on_commit_callbacks, months_after(story.closed_at, 24))
    assert at_24 == {
        "documents": 0,
        "cases": 1,
        "timeline_entries": at_24["timeline_entries"],
        "orders": 0,
    }
    story.dispute.refresh_from_db()
    assert story.dispute.customer_message == MARKER


def test_an_order_without_a_case_loses_its_email_thirteen_months_after_it_was_placed(
    db: Any, django_capture_on_commit_callbacks: Any
) -> None:
    placed = story_time = months_after(escalated_and_decided(email="x@mail.example").closed_at, -1)
    quiet = OrderFactory(placed_at=placed, customer_email="quiet@mail.example")
    fresh = OrderFactory(placed_at=months_after(placed, 6), customer_email="fresh@mail.example")
    report = _commit_hooks(django_capture_on_commit_callbacks, months_after(story_time, 13))
    assert report["orders"] == 1
    quiet.refresh_from_db()
    fresh.refresh_from_db()
    assert quiet.customer_email == pseudonym("quiet@mail.example")
    assert fresh.customer_email == "fresh@mail.example"


def test_the_database_allows_the_redaction_and_nothing_else(
    story: Story, django_capture_on_commit_callbacks: Any
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the trigger is PostgreSQL's")
    _commit_hooks(django_capture_on_commit_callbacks, months_after(story.closed_at, 13))
    redacted = DisputeEvent.objects.filter(dispute=story.dispute, redacted_at__isnull=False).first()
    kept = DisputeEvent.objects.filter(dispute=story.dispute, redacted_at__isnull=True).first()
    assert redacted is not None
    assert kept is not None
    for sql, params in [
        ("UPDATE disputes_disputeevent SET message = 'changed' WHERE id = %s", [redacted.pk]),
        ("UPDATE disputes_disputeevent SET message = %s WHERE id = %s", [MARKER, kept.pk]),
        (
            "UPDATE disputes_disputeevent SET message = %s, redacted_at = now(), "
            "event_type = 'resolved' WHERE id = %s",
            [MARKER, kept.pk],
        ),
        ("DELETE FROM disputes_disputeevent WHERE id = %s", [kept.pk]),
    ]:
        with (
            pytest.raises(IntegrityError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, params)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("support_groups")
def test_the_job_racing_a_reopening_gives_one_or_the_other_never_half(
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Support reopens a case at the moment the job removes its data: either the job went
    first (removed, then reopened) or the reopening did (nothing removed); the timeline's
    chain holds either way."""
    from tests.disputes.test_deadline_jobs import run_together

    outcomes = set()
    for round_number in range(4):
        story = escalated_and_decided(email=f"race{round_number}@mail.example")
        due = months_after(story.closed_at, 13) + timedelta(hours=1)
        support = staff_actor()
        results = run_together(
            lambda due=due: apply_retention(now=due),
            lambda story=story, due=due, support=support: services.dispute_reopen(
                dispute=story.dispute, actor=support, reason="New facts", now=due
            ),
        )
        assert not any(isinstance(result, Exception) for result in results), results
        dispute = Dispute.objects.get(pk=story.dispute.pk)
        assert dispute.is_open  # the reopening always takes effect
        erased = [a.erased_at is not None for a in Attachment.objects.filter(dispute=dispute)]
        if dispute.pseudonymised_at is None:
            assert erased == [False, False]
            outcomes.add("reopened first")
        else:
            assert erased == [True, True]
            assert dispute.customer_message == MARKER
            outcomes.add("removed first")
        call_command("verify_timeline", dispute.public_id, stdout=io.StringIO())
    assert outcomes  # which order won is up to the scheduler; both are whole


def test_the_policy_takes_the_settings_and_a_wrong_one_stops_the_start(settings: Any) -> None:
    from django.core.management import call_command as run
    from django.core.management.base import SystemCheckError

    from disputes.privacy.policies import Kind, personal_text_months, policy

    settings.RETENTION_POLICY = {"documents": {"months": 24}}
    assert policy(Kind.DOCUMENTS).months == 24
    assert personal_text_months() == 24  # the words never go before the documents
    for wrong in ({"documents": {"months": 0}}, {"documents": {"days": 3}}, {"photos": {}}):
        settings.RETENTION_POLICY = wrong
        with pytest.raises(SystemCheckError, match="RETENTION_POLICY"):
            run("check", stdout=io.StringIO(), stderr=io.StringIO())


def test_every_case_of_an_order_gets_the_same_pseudonym_batch_after_batch(
    db: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """Two cases of one order, pseudonymised in two batches: the second finds the order's
    email already a pseudonym, and its entries and emails still get the customer's."""
    with time_machine.travel(OPENED, tick=False):
        first = open_dispute(
            program=Program.BUYER_PROTECTION,
            reason=Reason.NO_REFUND_AFTER_RETURN,
            customer_email="Jan@Mail.example",
            message="Jan sent it back.",
        )
        services.dispute_withdraw(dispute=first, actor=customer_actor(first))
        second = open_dispute(order=first.order, message="Jan: still no refund.")
        services.dispute_withdraw(dispute=second, actor=customer_actor(second))
    report = _commit_hooks(
        django_capture_on_commit_callbacks, months_after(OPENED, 14), batch_size=1
    )
    assert report["cases"] == 2
    expected = pseudonym("jan@mail.example")
    customer_ids = set(
        DisputeEvent.objects.filter(
            dispute__in=[first, second], actor_kind=ActorKind.CUSTOMER
        ).values_list("actor_id", flat=True)
    )
    assert customer_ids == {expected}
    recipients = set(
        OutboxMessage.objects.filter(
            dispute__in=[first, second], kind__startswith="customer_"
        ).values_list("recipient", flat=True)
    )
    assert recipients == {expected}
    assert Order.objects.get(pk=first.order_id).customer_email == expected
