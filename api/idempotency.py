"""Idempotency-Key on POST: the same key and body get the first response again for 24 hours.

The key is claimed (a row with no response yet) in its own transaction before the work, so a
concurrent duplicate sees it and gets a 409 instead of doing the work twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from ninja import Status

from disputes.errors import DomainError

from .models import ApiKey, IdempotencyRecord

KEPT_FOR = timedelta(hours=24)
HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class IdempotencyConflict(DomainError):
    code = "idempotency_key_reused"
    default_message = _(
        "This Idempotency-Key was used with a different request. Use a new key for a new request."
    )


class IdempotencyInProgress(DomainError):
    code = "idempotency_key_in_progress"
    default_message = _("A request with this Idempotency-Key is still being processed.")


class InvalidIdempotencyKey(DomainError):
    code = "invalid_idempotency_key"
    default_message = _("The Idempotency-Key must be 1 to 255 printable ASCII characters.")


def request_fingerprint(request: HttpRequest) -> str:
    """What makes two requests "the same": method, path with its query, the merchant a
    partner acts for (`X-Merchant`), and body, independent of encoding details (JSON key order
    and spacing, multipart boundaries). A partner reusing a key for two of its merchants gets a
    conflict, never the first merchant's answer."""
    merchant = request.headers.get("X-Merchant", "")
    digest = hashlib.sha256(
        f"{request.method} {request.get_full_path()}\nX-Merchant: {merchant}\n".encode()
    )
    if request.content_type == "multipart/form-data":
        fields = sorted((key, request.POST.getlist(key)) for key in request.POST)
        digest.update(json.dumps(fields).encode())
        for key in sorted(request.FILES):
            for upload in request.FILES.getlist(key):
                upload.seek(0)
                digest.update(f"{key}:{upload.name}:".encode())
                digest.update(hashlib.sha256(upload.read()).digest())
                upload.seek(0)
    else:
        try:
            body: Any = json.loads(request.body or b"null")
            digest.update(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
        except ValueError:
            digest.update(request.body)
    return digest.hexdigest()


def _claim(api_key: ApiKey, key: str, fingerprint: str, now: datetime) -> IdempotencyRecord | None:
    """Our new record, or None with `existing` raised as a response by the caller."""
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(
                api_key=api_key, key=key, request_hash=fingerprint, created_at=now
            )
    except IntegrityError:
        return None


def _replay(request: HttpRequest, existing: IdempotencyRecord, fingerprint: str) -> Any:
    if existing.request_hash != fingerprint:
        raise IdempotencyConflict(field=HEADER)
    if existing.status_code is None:
        raise IdempotencyInProgress(field=HEADER)
    # Rendered again by the API, so a replay is byte-for-byte what the first response was.
    request.idempotent_replay = True  # type: ignore[attr-defined]
    if existing.status_code >= 400:
        response = JsonResponse(existing.response_body, status=existing.status_code, safe=False)
        response["Idempotent-Replayed"] = "true"
        return response
    return Status(existing.status_code, existing.response_body)


def _run(request: HttpRequest, handler: Callable[[], Any], error_body: Callable) -> Any:
    key = request.headers.get(HEADER)
    if key is None:
        return Status(*handler())
    if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isprintable() or not key.isascii():
        raise InvalidIdempotencyKey(field=HEADER)
    api_key: ApiKey = request.auth  # type: ignore[attr-defined]
    now = timezone.now()
    fingerprint = request_fingerprint(request)
    record = _claim(api_key, key, fingerprint, now)
    if record is None:
        existing = IdempotencyRecord.objects.get(api_key=api_key, key=key)
        if existing.created_at >= now - KEPT_FOR:
            return _replay(request, existing, fingerprint)
        # Expired but not yet cleaned up: the key is free again.
        IdempotencyRecord.objects.filter(pk=existing.pk, created_at=existing.created_at).delete()
        record = _claim(api_key, key, fingerprint, now)
        if record is None:
            return _replay(
                request, IdempotencyRecord.objects.get(api_key=api_key, key=key), fingerprint
            )
    try:
        with transaction.atomic():
            status, body = handler()
            record.status_code, record.response_body = status, body
            record.save(update_fields=["status_code", "response_body"])
    except DomainError as error:
        # A refusal is an answer too: the same request gets the same refusal.
        record.status_code, record.response_body = error_body(error)
        record.save(update_fields=["status_code", "response_body"])
        raise
    except BaseException:
        record.delete()  # nothing was done: the client may try again with the same key
        raise
    return Status(status, body)


def idempotent(error_body: Callable[[DomainError], tuple[int, dict[str, Any]]]) -> Callable:
    """Wrap a POST operation returning (status, JSON-safe body)."""

    def decorator(operation: Callable[..., tuple[int, Any]]) -> Callable[..., Any]:
        @wraps(operation)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            return _run(request, lambda: operation(request, *args, **kwargs), error_body)

        return wrapper

    return decorator


def idempotency_records_delete_expired(*, now: datetime) -> int:
    deleted, _counts = IdempotencyRecord.objects.filter(created_at__lt=now - KEPT_FOR).delete()
    return deleted
