"""Figure 4: customers opening cases through the public form, without and with a 1 MB PDF.

Each submission is one customer's whole visit, made with Django's test client through every
middleware, view, form and template: the "find your order" page and its POST, the order page,
the case form and its POST, then the "case opened" page. The orders are eligible orders of the
bench data without a case, placed in the last 30 days; protected ones go through the buyer
protection form, the others through the payment dispute form (every reason in turn, so some go
straight to support and are charged their fee). Every customer comes from its own address, so
the public form's rate limit counts each one once, as it would in production.

Side effects while measuring: documents are stored in a temporary private-media directory,
removed afterwards (their attachment rows stay); emails and webhooks are queued in the outbox as
usual and stay pending (no worker runs); the delivery request each commit makes is published to
an in-memory broker, so the publish is measured but nothing waits on a network broker or leaves
work queued for a worker. The cases opened stay in the bench data (their orders are not picked
again).
"""

from __future__ import annotations

import io
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from unittest import mock

from django.conf import settings
from django.db import connection
from django.db.models import Exists, F, OuterRef
from django.test import Client, override_settings
from django.test.client import encode_multipart
from django.urls import reverse
from django.utils import timezone
from kombu import Connection

import notifications.services
from disputes.choices import (
    PaymentState,
    Program,
    ProtectionAnswer,
    ProtectionStatus,
    ProtectionTier,
)
from disputes.models import Attachment, Dispute, Order
from disputes.policies import PAYMENT_DISPUTE
from notifications.tasks import deliver_outbox

from .results import Figure, median_ms, p99_ms

PDF_TARGET_SIZE = 1024 * 1024
RECENT = timedelta(days=30)
# Protection must still be running when the customer submits, a few minutes from now.
PROTECTION_MARGIN = timedelta(hours=1)
MESSAGE = "The parcel never arrived. The tracking page has said 'in transit' for two weeks."
_BOUNDARY = "BenchBoundary7MA4YWxkTrZu0gW"
_PROTECTION = "protection"
# Visits made first and not counted: templates and URL maps load once per process.
WARM_UP = 2
_STEPS = ("find_page", "find_post", "order_page", "form_page", "form_post", "opened_page")


@dataclass(frozen=True)
class Candidate:
    order_id: int
    shop: str
    order_number: str
    email: str
    protected: bool


@dataclass
class _Run:
    samples: list[float]
    steps: dict[str, list[float]]
    queries: list[int]
    failures: list[str]
    by_program: dict[str, int]
    opened_order_ids: list[int]
    elapsed: float = 0.0


def case_opening_figures(*, submissions: int = 200) -> list[Figure]:
    """Two figures: submissions per second without documents and with one 1 MB PDF."""
    plain, with_pdf = eligible_orders(submissions + WARM_UP, variants=2, now=timezone.now())
    pdf = build_pdf()
    figures: list[Figure] = []
    with _bench_environment() as environment:
        for label, orders, document in (
            ("no files", plain, None),
            ("one 1 MB PDF", with_pdf, pdf),
        ):
            bodies = _bodies(document)
            _submit_all(orders[:WARM_UP], bodies, first_address=len(figures) * 10_000)
            stored_before = _stored_bytes(environment.media_root)
            published_before = environment.published[0]
            run = _submit_all(
                orders[WARM_UP:], bodies, first_address=len(figures) * 10_000 + WARM_UP
            )
            figures.append(
                _figure(
                    label,
                    run,
                    document=document,
                    stored=_stored_bytes(environment.media_root) - stored_before,
                    published=environment.published[0] - published_before,
                )
            )
    return figures


def eligible_orders(per_variant: int, *, variants: int, now: datetime) -> list[list[Candidate]]:
    """`variants` lists of `per_variant` orders without any case, placed in the last 30 days,
    that a customer may dispute now: half of each with active buyer protection where the data
    allows, the two programs taking turns. Raises RuntimeError when there are too few."""
    needed = per_variant * variants
    no_case = (
        Order.objects.filter(placed_at__gte=now - RECENT, placed_at__lte=now)
        .exclude(payment_state__in=[PaymentState.CHARGED_BACK, PaymentState.REFUNDED])
        .filter(~Exists(Dispute.objects.filter(order=OuterRef("pk"))))
        # A fixed shuffle (Knuth's multiplicative hash of the id): customers of every shop,
        # each shop as often as it has orders, the same ones for the same data.
        .alias(shuffled=F("pk") * 2654435761 % 4294967296)
        .order_by("shuffled", "pk")
    )
    fields = ("pk", "merchant__slug", "order_number", "customer_email")
    protected = [
        Candidate(pk, shop, number, email, protected=True)
        for pk, shop, number, email in no_case.exclude(protection_tier=ProtectionTier.NONE)
        .filter(
            protection_status=ProtectionStatus.ACTIVE,
            protection_ends_at__gt=now + PROTECTION_MARGIN,
        )
        .values_list(*fields)[:needed]
    ]
    unprotected = [
        Candidate(pk, shop, number, email, protected=False)
        for pk, shop, number, email in no_case.filter(
            protection_tier=ProtectionTier.NONE
        ).values_list(*fields)[:needed]
    ]
    protected_each = min(
        len(protected) // variants,
        max(per_variant // 2, per_variant - len(unprotected) // variants),
    )
    unprotected_each = per_variant - protected_each
    if unprotected_each * variants > len(unprotected):
        raise RuntimeError(
            f"The data has {len(protected) + len(unprotected)} eligible orders without a case "
            f"placed in the last {RECENT.days} days; {needed} are needed."
        )
    return [
        _taking_turns(
            protected[index * protected_each : (index + 1) * protected_each],
            unprotected[index * unprotected_each : (index + 1) * unprotected_each],
        )
        for index in range(variants)
    ]


def _taking_turns(first: list[Candidate], second: list[Candidate]) -> list[Candidate]:
    """The two lists merged evenly: each item at its relative place in its own list."""
    placed = [
        ((index + 0.5) / len(items), items[index])
        for items in (first, second)
        for index in range(len(items))
    ]
    return [candidate for _, candidate in sorted(placed, key=lambda item: item[0])]


def build_pdf(size: int = PDF_TARGET_SIZE) -> bytes:
    """A valid one-page PDF of about `size` bytes: a receipt line and a photo of noise (noise
    does not compress, so the file keeps its size)."""
    from PIL import Image
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    def render(side: int) -> bytes:
        pixels = random.Random(side).randbytes(side * side * 3)  # noqa: S311 - not a secret
        image = Image.frombytes("RGB", (side, side), pixels)
        out = io.BytesIO()
        page = canvas.Canvas(out, pagesize=A4, invariant=True)
        page.drawString(72, 800, "Receipt for order 1001: 1 x winter coat, 129.00 EUR")
        page.drawImage(ImageReader(image), 72, 300, width=450, height=450)
        page.showPage()
        page.save()
        return out.getvalue()

    side = 500
    data = render(side)
    side = round(side * (size / len(data)) ** 0.5)  # bytes grow with the pixel count
    return render(side)


# --- Running the submissions ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Environment:
    media_root: str
    published: list[int]


@contextmanager
def delivery_requests_in_memory() -> Iterator[list[int]]:
    """Publish the outbox's delivery requests (one per commit that queued messages) to an
    in-memory broker: the publish is measured, no network broker is waited for, and no worker
    is left with work. Yields a one-item list: the number of requests published so far."""
    published = [0]
    with Connection("memory://localhost/") as broker:

        def request_delivery() -> None:
            # notifications.services.request_delivery, on the in-memory broker.
            # celery-types omits `connection`, which Task.apply_async documents and passes on.
            deliver_outbox.apply_async(connection=broker)  # type: ignore[call-arg]
            published[0] += 1

        try:
            # Webhooks are written through outbox_write, which asks through this one too.
            with mock.patch.object(notifications.services, "request_delivery", request_delivery):
                yield published
        finally:
            # The in-memory queues live as long as the process: leave them empty.
            with broker.SimpleQueue(deliver_outbox.app.conf.task_default_queue) as queue:
                queue.clear()


@contextmanager
def _bench_environment() -> Iterator[_Environment]:
    """A temporary private-media directory, delivery requests to an in-memory broker, and the
    test client's host name allowed."""
    media_root = tempfile.mkdtemp(prefix="bench-private-media-")
    storages = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": media_root, "base_url": None},
        },
    }
    try:
        with (
            override_settings(
                STORAGES=storages, ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"]
            ),
            delivery_requests_in_memory() as published,
        ):
            yield _Environment(media_root=media_root, published=published)
    finally:
        shutil.rmtree(media_root, ignore_errors=True)


def _bodies(document: bytes | None) -> dict[str, bytes]:
    """The multipart body a browser sends, per form ("protection", or the payment dispute's
    reason), encoded once so that the measurement is the server's work, not the test client's."""

    def body(fields: dict[str, Any]) -> bytes:
        if document is not None:
            upload = io.BytesIO(document)
            upload.name = "receipt.pdf"
            fields["documents"] = upload
        return encode_multipart(_BOUNDARY, fields)

    bodies = {
        str(reason): body({"reason": str(reason), "message": MESSAGE})
        for reason in PAYMENT_DISPUTE.reason_choices
    }
    bodies[_PROTECTION] = body({"answer": ProtectionAnswer.NOT_RECEIVED, "message": MESSAGE})
    return bodies


def _submit_all(
    orders: Sequence[Candidate], bodies: dict[str, bytes], *, first_address: int
) -> _Run:
    run = _Run(
        samples=[],
        steps={step: [] for step in _STEPS},
        queries=[],
        failures=[],
        by_program={Program.PAYMENT_DISPUTE: 0, Program.BUYER_PROTECTION: 0},
        opened_order_ids=[],
    )
    counter = _QueryCounter()
    started = time.perf_counter()
    with connection.execute_wrapper(counter):
        for index, order in enumerate(orders):
            counter.count = 0
            before = time.perf_counter()
            try:
                failure = _submit(
                    order, bodies, index=index, address=first_address + index, run=run
                )
            except Exception as error:  # a crash is a failed submission, reported in details
                failure = f"{type(error).__name__}: {error}"
            if failure is None:
                run.samples.append(time.perf_counter() - before)
                run.queries.append(counter.count)
                run.opened_order_ids.append(order.order_id)
                program = Program.BUYER_PROTECTION if order.protected else Program.PAYMENT_DISPUTE
                run.by_program[program] += 1
            else:
                run.failures.append(f"order {order.order_id}: {failure}")
    run.elapsed = time.perf_counter() - started
    return run


def _submit(
    order: Candidate, bodies: dict[str, bytes], *, index: int, address: int, run: _Run
) -> str | None:
    """One customer's visit; None when it opened the case, else what went wrong."""
    client = Client(
        REMOTE_ADDR=f"10.{address // 65536 % 256}.{address // 256 % 256}.{address % 256}"
    )
    find = reverse("disputes:find-order")
    form = reverse("disputes:protection" if order.protected else "disputes:open-dispute")
    # Payment disputes take every reason in turn: some go straight to support.
    reasons = PAYMENT_DISPUTE.reason_choices
    body = bodies[_PROTECTION if order.protected else str(reasons[index % len(reasons)])]

    def step(name: str, call: Callable[[], Any], expect: int) -> Any:
        before = time.perf_counter()
        response = call()
        run.steps[name].append(time.perf_counter() - before)
        if response.status_code != expect:
            raise _StepFailed(f"{name} answered {response.status_code}, expected {expect}")
        return response

    try:
        step("find_page", lambda: client.get(find, {"shop": order.shop}, secure=True), 200)
        found = step(
            "find_post",
            lambda: client.post(
                find,
                {"shop": order.shop, "order_number": order.order_number, "email": order.email},
                secure=True,
            ),
            302,
        )
        if found["Location"] != reverse("disputes:start"):
            return f"find_post redirected to {found['Location']}"
        step("order_page", lambda: client.get(found["Location"], secure=True), 200)
        query = {"answer": ProtectionAnswer.NOT_RECEIVED} if order.protected else {}
        step("form_page", lambda: client.get(form, query, secure=True), 200)
        submitted = step(
            "form_post",
            lambda: client.post(
                form,
                body,
                content_type=f"multipart/form-data; boundary={_BOUNDARY}",
                secure=True,
            ),
            302,
        )
        opened = step("opened_page", lambda: client.get(submitted["Location"], secure=True), 200)
    except _StepFailed as failed:
        return str(failed)
    if b"/c/" not in opened.content:  # the page links to the new case
        return "the opened page has no link to the case"
    return None


class _StepFailed(Exception):
    pass


class _QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def _stored_bytes(root: str) -> int:
    return sum(
        os.path.getsize(os.path.join(folder, name))
        for folder, _, names in os.walk(root)
        for name in names
    )


def _figure(
    label: str, run: _Run, *, document: bytes | None, stored: int, published: int
) -> Figure:
    opened = Dispute.objects.filter(order_id__in=run.opened_order_ids)
    cases = opened.count()
    attachments = Attachment.objects.filter(dispute__in=opened).count()
    succeeded = len(run.samples)
    expected_attachments = succeeded if document is not None else 0
    details: dict[str, Any] = {
        "submissions": succeeded,
        "failures": len(run.failures),
        "failure_examples": run.failures[:5],
        "warm_up_submissions": WARM_UP,
        "cases_created": cases,
        "attachments_created": attachments,
        "stored_bytes": stored,
        "by_program": dict(run.by_program),
        "median_ms": median_ms(run.samples) if run.samples else None,
        "p99_ms": p99_ms(run.samples) if run.samples else None,
        "step_median_ms": {
            name: median_ms(samples) for name, samples in run.steps.items() if samples
        },
        "queries_per_submission": {
            "median": sorted(run.queries)[len(run.queries) // 2] if run.queries else None,
            "max": max(run.queries, default=None),
        },
        "total_seconds": round(run.elapsed, 2),
        "requests_per_submission": len(_STEPS),
        "document_bytes": len(document) if document is not None else 0,
        "broker": "in-memory (kombu memory://): delivery requests published, no worker",
        "delivery_requests_published": published,
        "private_media": "temporary directory, removed afterwards",
    }
    ok = not run.failures and cases == succeeded and attachments == expected_attachments
    return Figure(
        name=f"case opening, {label}",
        value=round(succeeded / run.elapsed, 2) if run.elapsed else 0.0,
        unit="submissions/s",
        target="no failed submission",
        met=ok,
        details=details,
    )
