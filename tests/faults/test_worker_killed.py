"""A worker killed (SIGKILL) in the middle of a deadline sweep: each sweep batch is its own
transaction, so the dead worker leaves whole batches behind and the next run finishes the rest.
Each case is escalated once, charged one fee, and its merchant users get one email each."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from billing.models import FeeLine
from disputes import services
from disputes.choices import EventType, State
from disputes.models import Dispute, DisputeEvent
from notifications.models import OutboxMessage
from tests.factories import MembershipFactory, MerchantFactory, OrderFactory
from tests.faults.helpers import (
    BASE_DIR,
    LineReader,
    celery_pointed_at,
    child_env,
    database_url,
    report,
    stop_process,
    wait_until,
)

pytestmark = [pytest.mark.faults, pytest.mark.postgres]

CASES = 600
BATCH = 50
MERCHANTS = 20
KILLS = 2  # worker runs killed one after the other, each after its second committed batch
SWEEP = (
    "import django; django.setup(); from disputes import services; "
    f"services.dispute_escalate_overdue(batch_size={BATCH})"
)


def committed(line: str) -> bool:
    return "disputes.services" in line and "committed a batch" in line


def backends_named(name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [name])
        return int(cursor.fetchone()[0])


def kill_sweep_after_two_batches() -> None:
    """Run the sweep in a child process and SIGKILL it once it has committed two batches;
    return once PostgreSQL has dropped its connection (and rolled back its open batch)."""
    app_name = f"fault-sweep-{uuid.uuid4().hex[:8]}"
    env = child_env(
        DATABASE_URL=database_url(connection.settings_dict),
        PGAPPNAME=app_name,  # libpq: lets the test see the child's backend
        LOG_LEVEL="INFO",
        CELERY_BROKER_URL="memory://",  # delivery requests go nowhere; the rows stay pending
    )
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", SWEEP],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = LineReader(child.stderr)
        lines.wait_for(committed, timeout=60)
        lines.wait_for(committed, timeout=60)
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
        lines.join(timeout=10)
    finally:
        stop_process(child)
        if child.stderr:
            child.stderr.close()
    # The dead client's backend goes when PostgreSQL notices the closed socket; its batch is
    # rolled back then, and its row locks are released.
    wait_until(lambda: backends_named(app_name) == 0, timeout=30, what="the killed backend")


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_sweep_leaves_whole_batches_and_the_next_run_finishes_once(capsys):
    with celery_pointed_at("memory://"):
        started = time.monotonic()
        merchants = [MerchantFactory() for _ in range(MERCHANTS)]
        users = {m.pk: 1 + i % 2 for i, m in enumerate(merchants)}  # 1 or 2 users each
        for merchant in merchants:
            for _ in range(users[merchant.pk]):
                MembershipFactory(merchant=merchant)
        opened_at = timezone.now() - timedelta(days=40)  # the 21-day window closed long ago
        for i in range(CASES):
            merchant = merchants[i % MERCHANTS]
            order = OrderFactory(merchant=merchant, placed_at=opened_at)
            services.dispute_open(
                order=order,
                program="payment_dispute",
                reason="not_received",
                message="Never arrived.",
                now=opened_at,
            )
        setup_seconds = time.monotonic() - started

        escalated_after_kill = []
        for _ in range(KILLS):
            kill_sweep_after_two_batches()
            escalated = Dispute.objects.filter(state=State.ESCALATED).count()
            escalated_after_kill.append(escalated)
            # Only whole batches were kept: every escalated case has its event and its fee.
            assert escalated % BATCH == 0
            assert DisputeEvent.objects.filter(event_type=EventType.ESCALATED).count() == escalated
            assert FeeLine.objects.filter(kind="standard").count() == escalated
        assert escalated_after_kill[0] >= 2 * BATCH
        assert escalated_after_kill[-1] >= escalated_after_kill[0] + 2 * BATCH
        assert escalated_after_kill[-1] < CASES  # the kills left work behind

        finished = services.dispute_escalate_overdue(batch_size=BATCH)
        assert finished == CASES - escalated_after_kill[-1]
        assert services.dispute_escalate_overdue(batch_size=BATCH) == 0  # nothing left

    disputes = dict(Dispute.objects.values_list("pk", "merchant_id"))
    assert len(disputes) == CASES
    assert not Dispute.objects.exclude(state=State.ESCALATED).exists()
    events = Counter(
        DisputeEvent.objects.filter(event_type=EventType.ESCALATED).values_list(
            "dispute_id", flat=True
        )
    )
    assert events == Counter(disputes.keys())  # one escalation event per case
    fees = Counter(FeeLine.objects.filter(kind="standard").values_list("dispute_id", flat=True))
    assert fees == Counter(disputes.keys())  # one standard fee per case
    mails = Counter(
        OutboxMessage.objects.filter(kind="merchant_escalated").values_list(
            "dispute_id", "recipient"
        )
    )
    assert set(mails.values()) == {1}  # no recipient twice for a case
    per_case = Counter(dispute_id for dispute_id, _ in mails)
    assert per_case == Counter({pk: users[m] for pk, m in disputes.items()})

    report(
        capsys,
        f"worker killed mid-sweep: {CASES} cases, batches of {BATCH}, {KILLS} kills "
        f"(escalated after each: {escalated_after_kill}), {finished} finished by the next run, "
        f"{sum(mails.values())} merchant emails; set-up {setup_seconds:.1f} s",
    )
