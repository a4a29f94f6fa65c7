"""The domain's extension points: what the apps above it do inside its transactions.

The domain imports no app above it (billing, the API). Those apps connect their receivers here in
their `AppConfig.ready()`. Every signal is sent inside the transaction that makes the change, so
what a receiver writes (a fee line, an outbox row) commits or rolls back with the change, and a
receiver's error fails it.
"""

from django.dispatch import Signal

# Cases escalated to support in this transaction, each to be charged its dispute fee.
# Arguments: `disputes` (escalated, saved), `now`. A receiver returns {dispute id: (fee, fee
# line id or None)}; the fee line is None for a test merchant, whose fees are never billed.
cases_escalated = Signal()

# Timeline events just recorded (saved, with ids and their disputes loaded). Arguments: `events`,
# `now`. The API queues the webhooks they call for.
events_recorded = Signal()

# Payment instructions just written (numbered). Arguments: `instructions`, `now`. The API
# queues their signed push to the provider's endpoints.
instructions_recorded = Signal()

# Which of `currencies` the fee plan `plan` prices. Arguments: `plan`, `currencies`. A receiver
# returns the priced ones; the order feed refuses orders in the others (billing answers).
currencies_priced = Signal()

# `seed_demo` created demo merchants (their cases are in place). Arguments: `merchants`, `now`.
# Billing issues last month's statements and the API adds a webhook endpoint, so the demo shows
# those pages filled in, without the domain importing either app.
demo_seeded = Signal()

# Cases whose personal data was just removed (retention or an erasure request). Arguments:
# `dispute_ids`, `now`. The API removes the copies it keeps of them (the events feed).
personal_data_removed = Signal()
