"""Standard Webhooks signatures: every message carries `webhook-id` (the same on every retry and
resend), `webhook-timestamp` (the attempt's Unix time) and `webhook-signature`: "v1," +
base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")) per signing secret, space-separated while a
rotated secret is in its grace period. A "whsec_" secret's key is the base64-decoded rest.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import timedelta

SECRET_PREFIX = "whsec_"  # noqa: S105 - a format prefix, not a secret
# After a rotation the old secret keeps signing, beside the new one, for this long.
SECRET_GRACE_PERIOD = timedelta(hours=24)


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _secret_key(secret: str) -> bytes:
    if secret.startswith(SECRET_PREFIX):
        return base64.b64decode(secret[len(SECRET_PREFIX) :])
    return secret.encode()


def sign(*, secret: str, message_id: str, timestamp: int, body: str) -> str:
    signed = f"{message_id}.{timestamp}.{body}".encode()
    digest = hmac.new(_secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(
    *, secrets_: Sequence[str], message_id: str, timestamp: int, body: str
) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            sign(secret=secret, message_id=message_id, timestamp=timestamp, body=body)
            for secret in secrets_
        ),
    }
