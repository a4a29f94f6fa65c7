"""The domain's extension points: what the apps above it do inside its transactions.

The domain imports no app above it (billing, the API). Those apps connect their receivers here in
their `AppConfig.ready()`. Every signal is sent inside the transaction that makes the change, so
what a receiver writes (a fee line, an outbox row) commits or rolls back with the change, and a
receiver's error fails it.
"""

from django.dispatch import Signal

# Cases escalated to support in this transaction, each to be charged its dispute fee.
# Arguments: `disputes` (escalated, saved), `now`. A receiver returns {dispute id: fee}.
cases_escalated = Signal()

# Timeline events just recorded (saved, with ids and their disputes loaded). Arguments: `events`,
# `now`. The API queues the webhooks they call for.
events_recorded = Signal()
