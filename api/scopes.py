"""What an API key may do: scopes, and which owner kinds may be given which.

A request outside its key's scopes, or for a merchant its owner does not act for, gets 403
naming what it lacks. Every operation declares its scope (api/v1/auth.py `requires`).
"""

from __future__ import annotations

from enum import StrEnum

from django.utils.translation import gettext_lazy as _

from .models import KeyOwner


class Scope(StrEnum):
    MERCHANTS_READ = "merchants:read"
    MERCHANTS_WRITE = "merchants:write"
    ORDERS_READ = "orders:read"
    ORDERS_WRITE = "orders:write"
    DISPUTES_READ = "disputes:read"
    DISPUTES_WRITE = "disputes:write"
    INSTRUCTIONS_READ = "instructions:read"
    FEES_READ = "fees:read"
    # The merchant's webhook endpoints (GET / POST / PATCH / DELETE /webhook-endpoints).
    WEBHOOKS_READ = "webhooks:read"
    WEBHOOKS_WRITE = "webhooks:write"
    # The events feed (GET /events): what the webhooks carry, kept for 30 days.
    EVENTS_READ = "events:read"
    # Test mode: play the customer and the clock for a test merchant's orders.
    TEST_WRITE = "test:write"


ALL_SCOPES = frozenset(Scope)
# What each owner kind may be given. Payment instructions are the provider's (the operator's);
# onboarding merchants is for the operator and platform partners.
ALLOWED_SCOPES: dict[str, frozenset[Scope]] = {
    KeyOwner.OPERATOR: ALL_SCOPES,
    KeyOwner.PARTNER: ALL_SCOPES - {Scope.INSTRUCTIONS_READ},
    KeyOwner.MERCHANT: ALL_SCOPES
    - {
        Scope.INSTRUCTIONS_READ,
        Scope.MERCHANTS_READ,
        Scope.MERCHANTS_WRITE,
    },
}
# A new key gets everything its kind may have unless fewer scopes are asked for.
DEFAULT_SCOPES = ALLOWED_SCOPES
# What every key could do before scopes existed; the migration gave existing keys exactly these.
LEGACY_SCOPES = frozenset({Scope.DISPUTES_READ, Scope.DISPUTES_WRITE, Scope.FEES_READ})

# What each scope allows, for the portal's key form.
SCOPE_LABELS = {
    Scope.MERCHANTS_READ: _("Read merchants and their contract terms"),
    Scope.MERCHANTS_WRITE: _("Onboard and change merchants"),
    Scope.ORDERS_READ: _("Read orders"),
    Scope.ORDERS_WRITE: _("Send orders (create and update)"),
    Scope.DISPUTES_READ: _("Read cases and their timelines"),
    Scope.DISPUTES_WRITE: _("Answer cases, send messages and evidence"),
    Scope.INSTRUCTIONS_READ: _("Read payment instructions"),
    Scope.FEES_READ: _("Read fee statements"),
    Scope.WEBHOOKS_READ: _("Read webhook endpoints"),
    Scope.WEBHOOKS_WRITE: _("Manage webhook endpoints (add, change, delete, test, new secret)"),
    Scope.EVENTS_READ: _("Read the events feed"),
    Scope.TEST_WRITE: _("Drive a test merchant's cases (test mode)"),
}
