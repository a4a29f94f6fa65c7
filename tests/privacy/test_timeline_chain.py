"""The timeline's hash chain: every entry recorded is chained, `verify_timeline` passes on an
untouched timeline and on one redacted under the retention policy, and finds a row changed,
removed or reordered behind the portal's back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO
from itertools import pairwise
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from disputes import events as timeline
from disputes.actors import SYSTEM
from disputes.models import DisputeEvent
from disputes.privacy.chain import MARKER, check, digest_of_personal_text, event_hash, link
from disputes.privacy.policies import months_after
from tests.factories import open_dispute

from .conftest import Story
from .test_retention import _commit_hooks

pytestmark = pytest.mark.postgres


def _tamper(sql: str, params: list[Any]) -> None:
    """What someone with direct database access could do: the trigger switched off."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks pending
            cursor.execute("ALTER TABLE disputes_disputeevent DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE disputes_disputeevent ENABLE TRIGGER USER")


def _verify(*cases: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("verify_timeline", *cases, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _refused(*cases: str) -> str:
    err = StringIO()
    with pytest.raises(CommandError, match="do not hold"):
        call_command("verify_timeline", *cases, stdout=StringIO(), stderr=err)
    return err.getvalue()


def test_every_recorded_entry_is_chained_and_the_chains_hold(story: Story) -> None:
    events = list(DisputeEvent.objects.filter(dispute=story.dispute).order_by("id"))
    assert len(events) > 5
    assert events[0].previous_hash == ""
    for before, after in pairwise(events):
        assert after.previous_hash == before.hash != ""
    out, _ = _verify()
    assert "of 1 cases: every chain holds" in out
    assert "every chain holds" in _verify(story.dispute.public_id)[0]


_EDITED = "UPDATE disputes_disputeevent SET message = 'I never got it (edited)' WHERE id = %s"
_MOVED = "UPDATE disputes_disputeevent SET created_at = created_at + interval '1 day' WHERE id = %s"
_HIDDEN = "UPDATE disputes_disputeevent SET visibility = 'staff' WHERE id = %s"
_REMOVED = "DELETE FROM disputes_disputeevent WHERE id = %s"
_REDECIDED = """UPDATE disputes_disputeevent SET data = '{"outcome": "merchant"}' WHERE id = %s"""


@pytest.mark.parametrize(
    ("sql", "pick"),
    [(_EDITED, 0), (_MOVED, 1), (_HIDDEN, 2), (_REMOVED, 2), (_REDECIDED, -1)],
    ids=["text edited", "moved in time", "hidden", "removed", "decision changed"],
)
def test_a_tampered_row_is_found(story: Story, sql: str, pick: int) -> None:
    if "interval" in sql and connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's date arithmetic")
    events = list(DisputeEvent.objects.filter(dispute=story.dispute).order_by("id"))
    _tamper(sql, [events[pick].pk])
    err = _refused(story.dispute.public_id)
    assert story.dispute.public_id in err


def test_text_changed_after_its_redaction_is_found(
    story: Story, django_capture_on_commit_callbacks: Any
) -> None:

    _commit_hooks(django_capture_on_commit_callbacks, months_after(story.closed_at, 13))
    assert "every chain holds" in _verify(story.dispute.public_id)[0]
    redacted = DisputeEvent.objects.filter(dispute=story.dispute, redacted_at__isnull=False).first()
    assert redacted is not None
    _tamper("UPDATE disputes_disputeevent SET message = 'new words' WHERE id = %s", [redacted.pk])
    assert "after it was removed" in _refused()


def test_an_unknown_case_is_a_clear_error(db: Any) -> None:
    with pytest.raises(CommandError, match="No such case: DP-AAAA-AAAA-AAAA"):
        call_command("verify_timeline", "DP-AAAA-AAAA-AAAA")


# --- The chain itself, over many shapes of timeline (no database) -------------------------------

_texts = st.text(max_size=30)
_entries = st.lists(
    st.fixed_dictionaries(
        {
            "actor_kind": st.sampled_from(["customer", "merchant", "staff", "system"]),
            "actor_id": st.sampled_from(["jan@mail.example", "7", "system"]),
            "message": _texts,
            "items": st.lists(_texts, max_size=2),
        }
    ),
    min_size=1,
    max_size=8,
)


def _events(entries: list[dict[str, Any]]) -> list[SimpleNamespace]:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    events = []
    for number, entry in enumerate(entries):
        data = (
            {"items": [{"item": "x", "value": v} for v in entry["items"]]} if entry["items"] else {}
        )
        case = SimpleNamespace(pk=1)
        events.append(
            SimpleNamespace(
                id=number + 1,
                dispute=case,
                dispute_id=1,
                event_type="message",
                actor_kind=entry["actor_kind"],
                actor_id=entry["actor_id"],
                message=entry["message"],
                visibility="both",
                data=data,
                created_at=start + timedelta(minutes=number),
                redacted_at=None,
            )
        )
    return events


def _chained(entries: list[dict[str, Any]]) -> list[SimpleNamespace]:
    """The events as `link` chains them (a fresh case: its head is empty)."""
    events = _events(entries)
    head = ""
    for event in events:
        event.personal_digest = digest_of_personal_text(event)
        event.previous_hash = head
        event.hash = head = event_hash(
            event, previous_hash=head, personal_digest=event.personal_digest
        )
    return events


@settings(max_examples=60, deadline=None)
@given(_entries, st.data())
def test_the_chain_holds_after_redaction_and_breaks_on_any_other_change(
    entries: list[dict[str, Any]], data: st.DataObject
) -> None:
    events = _chained(entries)
    assert check(events) == []
    # Redacting any entries the way the retention job does keeps the chain whole.
    for event in events:
        if data.draw(st.booleans()):
            event.message = MARKER if event.message else ""
            if event.actor_kind == "customer":
                event.actor_id = "pseudonym@pseudonymised.invalid"
            for item in event.data.get("items", []):
                item["value"] = MARKER
            event.redacted_at = datetime(2026, 6, 1, tzinfo=UTC)
    assert check(events) == []
    # Any other change to any entry is found.
    victim = data.draw(st.sampled_from(events))
    field = data.draw(st.sampled_from(["event_type", "visibility", "created_at", "message"]))
    if field == "created_at":
        victim.created_at += timedelta(seconds=1)
    elif field == "message":
        victim.message += "!"
    else:
        setattr(victim, field, getattr(victim, field) + "x")
    assert [b.event_id for b in check(events)][:1] == [victim.id]


def test_link_uses_one_query_for_a_whole_batch(
    story: Story, django_assert_num_queries: Any
) -> None:
    other = open_dispute(message="Another case")
    batch = [
        timeline.escalated(case, actor=SYSTEM, now=datetime.now(UTC), cause="test")
        for case in (story.dispute, other, story.dispute)
    ]
    with django_assert_num_queries(1):
        link(batch)
    assert batch[2].previous_hash == batch[0].hash
