"""Billing's extension points (see disputes/signals.py): sent inside the issuing transaction."""

from django.dispatch import Signal

# Statements just issued. Arguments: `statements`, `now`. The API queues fee.statement_issued.
statements_issued = Signal()
