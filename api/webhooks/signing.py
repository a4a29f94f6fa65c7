"""Standard Webhooks signatures, made by the spec's reference package (`standardwebhooks`):
every message carries `webhook-id` (the same on every retry and resend), `webhook-timestamp` (the
attempt's Unix time) and `webhook-signature`: "v1," + base64(HMAC-SHA256(key,
"{id}.{timestamp}.{body}")) per signing secret, space-separated while a rotated secret is in
its grace period. A "whsec_" secret's key is the base64-decoded rest.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - a format prefix, not a secret
# After a rotation the old secret keeps signing, beside the new one, for this long.
SECRET_GRACE_PERIOD = timedelta(hours=24)


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(*, secret: str, message_id: str, timestamp: int, body: str) -> str:
    """One "v1,<signature>" by the Standard Webhooks reference implementation."""
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return Webhook(secret).sign(msg_id=message_id, timestamp=moment, data=body)


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
