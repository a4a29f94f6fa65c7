"""End to end over real HTTP with a client generated from the served schema: pytest-django's
live server on PostgreSQL, `/api/v1/openapi.json` fetched from it, `openapi-python-client`
(a dev extra) run over it into a temporary directory, and the generated package driving the
live server: the cases, a filter, an answer with an uploaded document, a case's documents, a
webhook endpoint with its test event received signed on a loopback port, the events feed.

The generator must not warn about the schema: a warning means part of the API is missing from
every client generated from it.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from django.core.cache import cache
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from api.keys import api_key_create
from notifications.services import outbox_deliver_due
from tests.api.case_documents import case_with_documents
from tests.documents import PDF
from tests.factories import MerchantFactory, open_dispute
from tests.services import WebhookReceiver, webhook_receiver

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
PACKAGE = "portal_api_client"


@pytest.fixture
def portal(live_server: Any, settings: Any) -> str:
    cache.clear()  # rate limits: the live server shares this process's cache
    settings.SITE_URL = live_server.url
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True  # the receiver listens on 127.0.0.1
    return str(live_server.url)


@pytest.fixture
def receiver() -> Iterator[tuple[WebhookReceiver, str]]:
    with webhook_receiver(path="/case-events") as found:
        yield found


def generate_client(portal: str, into: Path) -> ModuleType:
    """The package openapi-python-client generates from the live server's schema."""
    assert GENERATOR.exists(), "openapi-python-client is a dev extra: pip install -e '.[dev]'"
    schema = httpx.get(f"{portal}/api/v1/openapi.json", timeout=30)
    assert schema.status_code == 200
    source = into / "openapi.json"
    source.write_bytes(schema.content)
    # The generator formats its output with ruff (a dev extra too) found on PATH.
    env = {**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    run = subprocess.run(  # noqa: S603 - our own generator on our own schema
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(source),
            "--output-path",
            str(into / PACKAGE),
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "warning" not in output.lower(), f"the generator warned about the schema:\n{output}"
    assert "error" not in output.lower(), output
    sys.path.insert(0, str(into))
    try:
        return importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(into))


@pytest.fixture
def generated(portal: str, tmp_path: Path) -> Iterator[ModuleType]:
    package = generate_client(portal, tmp_path)
    yield package
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]


def module(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


def test_a_generated_client_drives_the_api(portal, generated, receiver):  # type: ignore[no-untyped-def]
    state, hook_url = receiver
    merchant = MerchantFactory()
    case = case_with_documents(merchant)  # the customer's document, among others
    other = open_dispute(merchant=merchant)
    key = api_key_create(name="generated", merchant=merchant, now=timezone.now()).key
    client = generated.AuthenticatedClient(base_url=portal, token=key, timeout=30.0)
    api = lambda name: module(generated, f"api.{name}")  # noqa: E731
    models = module(generated, "models")
    types = module(generated, "types")

    # The cases, and a filter.
    listed = api("disputes.list_disputes").sync(client=client)
    assert {d.id for d in listed.data} == {case.dispute.public_id, other.public_id}
    waiting = api("disputes.list_disputes").sync(
        client=client, state=models.State.AWAITING_MERCHANT, limit=1
    )
    assert len(waiting.data) == 1
    assert waiting.next_cursor
    one = api("disputes.get_dispute").sync(other.public_id, client=client)
    assert one.id == other.public_id

    # An uploaded document, used in an answer.
    uploaded = api("files.upload_file").sync(
        client=client,
        body=models.UploadFileFileParams(
            file=types.File(
                payload=BytesIO(PDF), file_name="receipt.pdf", mime_type="application/pdf"
            )
        ),
    )
    assert isinstance(uploaded, models.FileOut), uploaded
    answered = api("disputes.respond_to_dispute").sync(
        other.public_id,
        client=client,
        body=models.RespondIn(
            refund=models.RespondInRefund.FULL, message="Refunded in full.", files=[uploaded.id]
        ),
    )
    assert isinstance(answered, models.DisputeDetailOut), answered
    assert answered.refund_offer == "full"

    # A case's documents, and one downloaded.
    documents = api("files.list_dispute_files").sync(other.public_id, client=client)
    (receipt,) = documents.data
    assert receipt.name == "receipt.pdf"
    downloaded = api("files.download_file").sync(receipt.id, client=client)
    assert downloaded.payload.read() == PDF
    of_case = api("files.list_dispute_files").sync(case.dispute.public_id, client=client)
    assert f"doc_{case.customers.pk}" in {d.id for d in of_case.data}
    theirs = api("files.download_file").sync(f"doc_{case.customers.pk}", client=client)
    assert theirs.payload.read() == PDF

    # A webhook endpoint, and its test event received, signed.
    created = api("webhook_endpoints.create_webhook_endpoint").sync(
        client=client,
        body=models.WebhookEndpointIn(
            url=hook_url, events=[models.WebhookEndpointInEventsItem.DISPUTE_OPENED]
        ),
    )
    assert isinstance(created, models.WebhookEndpointSecretOut), created
    assert created.secret.startswith("whsec_")
    ping = api("webhook_endpoints.send_test_webhook").sync(created.id, client=client)
    assert ping.event_id.startswith("evt_")
    outbox_deliver_due()  # as the worker does after the commit
    ((headers, body),) = state.received
    payload = Webhook(created.secret).verify(body, headers)
    assert payload["type"] == "ping"
    assert headers["webhook-id"] == ping.event_id == payload["id"]

    # The events feed: the cases' events and the ping, the same objects the webhooks carry.
    feed = api("events.list_events").sync(client=client, limit=100)
    types_seen = [event.type_ for event in feed.data]
    assert types_seen.count("dispute.opened") == 2
    assert types_seen[-1] == "ping"
    assert feed.next_after == ping.event_id
    found = api("events.get_event").sync(ping.event_id, client=client)
    assert found.to_dict() == json.loads(body)
    after = api("events.list_events").sync(client=client, after=feed.next_after)
    assert after.data == []
    opened = api("events.list_events").sync(
        client=client, type_=models.ListEventsTypeType0.DISPUTE_OPENED, dispute=other.public_id
    )
    assert [e.data["dispute"]["id"] for e in opened.data] == [other.public_id]
