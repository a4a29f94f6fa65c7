"""A small client for the dispute portal's API, as a payment provider would write one.

Copy it and adapt it: it onboards merchants, feeds orders, reads the payment instructions
feed, and receives the signed instruction pushes. It talks only to the portal you point it at.

    python examples/provider_client.py --base-url http://127.0.0.1:8000 --key dpk_live_... demo
    python examples/provider_client.py --base-url http://127.0.0.1:8000 --key dpk_live_... \\
        instructions --after 0
    python examples/provider_client.py receive --secret whsec_... --port 8765

Needs `httpx` and `standardwebhooks` (both `pip install`-able).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

MAX_BATCH = 1000  # orders per POST /orders/batch
MAX_WEBHOOK_BODY = 1024 * 1024  # a push is a few hundred bytes; refuse anything huge

Json = dict[str, Any]


class PortalError(Exception):
    """The portal refused a request: the HTTP status and its error object."""

    def __init__(self, status: int, code: str, message: str, field: str | None) -> None:
        super().__init__(f"{status} {code}: {message}" + (f" ({field})" if field else ""))
        self.status = status
        self.code = code
        self.message = message
        self.field = field


@dataclass
class BatchReport:
    """What a push of orders did, one result per order, in the order sent."""

    results: list[Json] = field(default_factory=list)

    def numbers(self, status: str) -> list[str]:
        return [r["order_number"] for r in self.results if r["status"] == status]

    @property
    def errors(self) -> list[Json]:
        """The refused orders: {"order_number", "status": "error", "error": {code, ...}}."""
        return [r for r in self.results if r["status"] == "error"]

    def counts(self) -> dict[str, int]:
        counted: dict[str, int] = {}
        for result in self.results:
            counted[result["status"]] = counted.get(result["status"], 0) + 1
        return counted


class PortalClient:
    """The portal's API with one key. `merchant` (a slug) is sent as `X-Merchant`: the
    operator's and a platform partner's keys name the merchant they act for."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.http = httpx.Client(
            base_url=base_url.rstrip("/") + "/api/v1",
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )
        # The last payment instruction handed out by consume_instructions (0: none yet).
        # Store it durably in a real integration and start from it after a restart.
        self.last_sequence = 0

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> PortalClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing -------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        merchant: str | None = None,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        retries: int = 3,
    ) -> Any:
        """One call; waits and retries on 429 (Retry-After); raises PortalError otherwise."""
        headers: dict[str, str] = {}
        if merchant:
            headers["X-Merchant"] = merchant
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        for attempt in range(retries + 1):
            response = self.http.request(
                method, path, headers=headers, json=json_body, params=params
            )
            if response.status_code == 429 and attempt < retries:
                time.sleep(float(response.headers.get("Retry-After", "1")))
                continue
            break
        if response.is_success:
            return response.json()
        try:
            error = response.json()["error"]
        except (ValueError, KeyError, TypeError):
            error = {"code": "http_error", "message": response.text[:200], "field": None}
        raise PortalError(response.status_code, error["code"], error["message"], error["field"])

    # --- merchants ------------------------------------------------------------------------------

    def onboard_merchant(
        self,
        *,
        slug: str,
        name: str,
        country: str,
        currency: str,
        terms: Mapping[str, Any] | None = None,
        test_mode: bool = False,
        owner_email: str | None = None,
        **details: Any,
    ) -> Json:
        """POST /merchants: a new shop with its contract terms (from today). Sent with an
        Idempotency-Key made from the slug, so a retry after a lost answer is safe."""
        body: Json = {
            "slug": slug,
            "name": name,
            "country": country,
            "currency": currency,
            "test_mode": test_mode,
            **details,
        }
        if terms is not None:
            body["terms"] = dict(terms)
        if owner_email:
            body["owner_email"] = owner_email
        result: Json = self.request(
            "POST", "/merchants", json_body=body, idempotency_key=f"onboard-{slug}"
        )
        return result

    def merchant(self, slug: str) -> Json:
        result: Json = self.request("GET", f"/merchants/{slug}")
        return result

    # --- orders ---------------------------------------------------------------------------------

    def push_orders(self, merchant: str, orders: Iterable[Mapping[str, Any]]) -> BatchReport:
        """POST /orders/batch, MAX_BATCH at a time. A refused order does not stop the others:
        its result says why (report.errors); fix it and send it again."""
        report = BatchReport()
        chunk: list[Json] = []
        for order in orders:
            chunk.append(dict(order))
            if len(chunk) == MAX_BATCH:
                report.results += self._push_chunk(merchant, chunk)
                chunk = []
        if chunk:
            report.results += self._push_chunk(merchant, chunk)
        return report

    def _push_chunk(self, merchant: str, chunk: list[Json]) -> list[Json]:
        # No Idempotency-Key needed: the same orders sent again are "unchanged".
        page = self.request("POST", "/orders/batch", merchant=merchant, json_body={"orders": chunk})
        results: list[Json] = page["results"]
        return results

    def update_order(self, merchant: str, order_number: str, **changes: Any) -> Json:
        """PATCH /orders/{number}: shipments, cancelled_at, paid_at, refunded_outside_amount..."""
        result: Json = self.request(
            "PATCH", f"/orders/{order_number}", merchant=merchant, json_body=changes
        )
        return result

    def order(self, merchant: str, order_number: str) -> Json:
        result: Json = self.request("GET", f"/orders/{order_number}", merchant=merchant)
        return result

    def orders(self, merchant: str, *, limit: int = 100, **filters: Any) -> Iterator[Json]:
        """GET /orders, every page (newest first); filters: placed_from, placed_before,
        updated_since, open_case."""
        params: Json = {"limit": limit, **filters}
        while True:
            page = self.request("GET", "/orders", merchant=merchant, params=params)
            yield from page["data"]
            if not page["next_cursor"]:
                return
            params["cursor"] = page["next_cursor"]

    # --- cases ----------------------------------------------------------------------------------

    def disputes(self, merchant: str, **filters: Any) -> Iterator[Json]:
        """GET /disputes, every page; filters: state, program, reason, due_before, ..."""
        params: Json = {"limit": 100, **filters}
        while True:
            page = self.request("GET", "/disputes", merchant=merchant, params=params)
            yield from page["data"]
            if not page["next_cursor"]:
                return
            params["cursor"] = page["next_cursor"]

    def respond(
        self,
        merchant: str | None,
        dispute_id: str,
        *,
        refund: str,
        message: str,
        amount: str | None = None,
        idempotency_key: str | None = None,
    ) -> Json:
        """POST /disputes/{id}/respond: refund "full", "partial" (with amount),
        "after_return" or "none"."""
        body: Json = {"refund": refund, "message": message}
        if amount is not None:
            body["amount"] = amount
        result: Json = self.request(
            "POST",
            f"/disputes/{dispute_id}/respond",
            merchant=merchant,
            json_body=body,
            idempotency_key=idempotency_key,
        )
        return result

    # --- payment instructions -------------------------------------------------------------------

    def consume_instructions(
        self, after: int | None = None, *, merchant: str | None = None, limit: int = 100
    ) -> Iterator[Json]:
        """Every payment instruction after `after` (default: the last one handed out), in
        sequence, page after page until the feed is empty.

        `last_sequence` moves to an instruction's sequence when you come back for the next
        one, that is once you have processed it; an instruction you stopped at (break, crash)
        is handed out again next time. Apply each idempotently by its `id`.
        """
        cursor = self.last_sequence if after is None else after
        while True:
            page = self.request(
                "GET",
                "/payment-instructions",
                merchant=merchant,
                params={"after": cursor, "limit": limit},
            )
            for instruction in page["data"]:
                yield instruction
                cursor = self.last_sequence = instruction["sequence"]
            if len(page["data"]) < limit:
                return


# --- receiving the signed pushes --------------------------------------------------------------


class InvalidWebhook(Exception):
    """The delivery is not signed by the portal with our secret (or is too old or too new)."""


def verify_webhook(secret: str | Sequence[str], headers: Mapping[str, str], body: bytes) -> Json:
    """The delivery's JSON once its Standard Webhooks signature checks out with one of our
    secrets (several while you switch to a rotated one); raises InvalidWebhook otherwise."""
    secrets_ = [secret] if isinstance(secret, str) else list(secret)
    plain = {key.lower(): value for key, value in headers.items()}
    for one in secrets_:
        try:
            payload: Json = Webhook(one).verify(body, plain)
        except (WebhookVerificationError, ValueError):  # ValueError: a malformed header
            continue
        return payload
    raise InvalidWebhook("no valid signature")


@dataclass
class Delivery:
    webhook_id: str
    payload: Json


class WebhookReceiver:
    """A tiny HTTP receiver for the instruction pushes (or a merchant's case events).

    Verified deliveries are answered 200 and handed to `handle` once per instruction id (a
    retried or repeated delivery is acknowledged again without calling it twice); a bad
    signature gets 401, a body that is not JSON 400. When `handle` raises, the answer is 500 and
    the portal retries later. Runs in a background thread: `start()`, `url`, `stop()`.
    """

    def __init__(
        self,
        secret: str | Sequence[str],
        handle: Callable[[Json], None] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/instructions",
    ) -> None:
        self.secret = secret
        self.handle = handle or (lambda payload: None)
        self.path = path
        self.deliveries: list[Delivery] = []  # every verified delivery, duplicates too
        self.rejected = 0
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, port), self._handler())
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{self.path}"

    def start(self) -> WebhookReceiver:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def receive(self, headers: Mapping[str, str], body: bytes) -> int:
        """The status to answer for one delivery."""
        try:
            payload = verify_webhook(self.secret, headers, body)
        except InvalidWebhook:
            with self._lock:
                self.rejected += 1
            return 401
        if not isinstance(payload, dict):
            return 400
        data = payload.get("data")
        # Instructions are deduplicated on their stable id; other events on the webhook-id.
        key = data.get("id") if isinstance(data, dict) and "id" in data else None
        key = str(key or headers.get("webhook-id", ""))
        with self._lock:
            self.deliveries.append(Delivery(headers.get("webhook-id", ""), payload))
            if key in self._seen:
                return 200
            try:
                self.handle(payload)
            except Exception:
                return 500
            self._seen.add(key)
        return 200

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if self.path != receiver.path:
                    status = 404
                elif length > MAX_WEBHOOK_BODY:
                    status = 413
                else:
                    body = self.rfile.read(length)
                    headers = {key.lower(): value for key, value in self.headers.items()}
                    status = receiver.receive(headers, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


# --- a demo run against a running portal --------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat()


def demo(client: PortalClient, slug: str) -> None:
    """Onboard a test merchant, feed two orders, play a customer and the clock, and print the
    payment instructions that followed. Needs an operator key (all scopes)."""
    try:
        merchant = client.onboard_merchant(
            slug=slug,
            name="Demo test shop",
            country="NL",
            currency="EUR",
            test_mode=True,
            terms={"dispute_window_days": 14, "dispute_window_day_count": "working"},
        )
        print(f"onboarded {merchant['slug']}: terms {json.dumps(merchant['terms'])}")
    except PortalError as error:
        if error.code != "merchant_exists":
            raise
        print(f"{slug} exists already; using it")
    run = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    invoice, paid = f"DEMO-{run}-1", f"DEMO-{run}-2"
    report = client.push_orders(
        slug,
        [
            {
                "order_number": invoice,
                "placed_at": _now(),
                "amount": "89.95",
                "currency": "EUR",
                "customer_email": "ann@mail.example",
                "line_summary": "1 trail shoe, size 42",
            },
            {
                "order_number": paid,
                "placed_at": _now(),
                "amount": "49.00",
                "currency": "EUR",
                "customer_email": "bob@mail.example",
                "is_invoice": False,
            },
            {"order_number": f"DEMO-{run}-bad", "amount": "-1"},  # refused, on its own
        ],
    )
    print(f"orders: {report.counts()}")
    for refused in report.errors:
        print(f"  refused {refused['order_number']!r}: {refused['error']}")
    print(f"customer link for {invoice}: {client.order(slug, invoice)['customer_url']}")
    case = client.request(
        "POST",
        f"/test/orders/{invoice}/disputes",
        merchant=slug,
        json_body={"program": "payment_dispute", "reason": "not_received", "message": "No box."},
    )
    print(f"case {case['id']} opened: {case['state']}, due {case['due_at']}")
    case = client.request("POST", f"/test/disputes/{case['id']}/advance", merchant=slug)
    print(f"case {case['id']} after its deadline: {case['state']}")
    print(f"payment instructions of {slug} (every demo run):")
    for instruction in client.consume_instructions(0, merchant=slug):
        _print_instruction(instruction)


def _print_instruction(instruction: Json) -> None:
    amount = instruction["amount"]
    print(
        f"  #{instruction['sequence']} {instruction['type']} {amount['value']} "
        f"{amount['currency']} {instruction['merchant']} #{instruction['order_number']} "
        f"case {instruction['case_id']} {'live' if instruction['livemode'] else 'test'}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument(
        "--key", default=os.environ.get("PORTAL_API_KEY", ""), help="or PORTAL_API_KEY"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run_demo = commands.add_parser("demo", help="onboard a test merchant and drive a case")
    run_demo.add_argument("--merchant", default="demo-test-shop", help="the test merchant's slug")
    feed = commands.add_parser("instructions", help="print the payment instructions feed")
    feed.add_argument("--after", type=int, default=0)
    feed.add_argument("--merchant", default=None)
    receive = commands.add_parser("receive", help="receive signed pushes until Ctrl-C")
    receive.add_argument("--secret", action="append", required=True, help="whsec_... (repeat)")
    receive.add_argument("--host", default="127.0.0.1")
    receive.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)

    if args.command == "receive":
        receiver = WebhookReceiver(
            args.secret,
            lambda payload: _print_instruction(payload["data"]),
            host=args.host,
            port=args.port,
        ).start()
        print(f"listening on {receiver.url}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            receiver.stop()
        return 0
    if not args.key:
        parser.error("--key (or PORTAL_API_KEY) is needed")
    with PortalClient(args.base_url, args.key) as client:
        try:
            if args.command == "demo":
                demo(client, args.merchant)
            else:
                for instruction in client.consume_instructions(args.after, merchant=args.merchant):
                    _print_instruction(instruction)
                print(f"last sequence: {client.last_sequence}")
        except PortalError as error:
            print(f"refused: {error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
