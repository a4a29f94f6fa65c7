"""Every write to a dispute goes through here: `services.dispute_open(...)` and friends.

The package is split by who acts; each module uses the shared machinery in `machinery`:
- `cases`: the customer and the merchant (open, answer, reply, message, withdraw, return, appeal);
- `support`: support staff (information requests, decisions, assignment, return decisions,
  reopening a closed case);
- `sweeps`: the deadline jobs, the same transitions a batch at a time;
- `protection`: buyer protection on the order (check-in, ending notice, expiry, extension).
"""

from .cases import (
    dispute_accept,
    dispute_add_evidence,
    dispute_add_message,
    dispute_appeal,
    dispute_confirm_return,
    dispute_customer_reply,
    dispute_mark_return_shipped,
    dispute_open,
    dispute_renew_customer_link,
    dispute_respond,
    dispute_withdraw,
)
from .machinery import EvidenceInput
from .protection import (
    order_end_protection,
    order_expire_protection,
    order_extend_protection,
    order_send_protection_checkins,
    order_send_protection_ending_notices,
)
from .support import (
    dispute_assign,
    dispute_decide,
    dispute_decide_return,
    dispute_provide_information,
    dispute_reopen,
    dispute_request_information,
)
from .sweeps import (
    dispute_close_overdue_customer_windows,
    dispute_escalate_overdue,
    dispute_expire_information_requests,
    dispute_expire_returns,
    dispute_send_due_reminders,
    dispute_test_advance,
)

__all__ = [
    "EvidenceInput",
    "dispute_accept",
    "dispute_add_evidence",
    "dispute_add_message",
    "dispute_appeal",
    "dispute_assign",
    "dispute_close_overdue_customer_windows",
    "dispute_confirm_return",
    "dispute_customer_reply",
    "dispute_decide",
    "dispute_decide_return",
    "dispute_escalate_overdue",
    "dispute_expire_information_requests",
    "dispute_expire_returns",
    "dispute_mark_return_shipped",
    "dispute_open",
    "dispute_provide_information",
    "dispute_renew_customer_link",
    "dispute_reopen",
    "dispute_request_information",
    "dispute_respond",
    "dispute_send_due_reminders",
    "dispute_test_advance",
    "dispute_withdraw",
    "order_end_protection",
    "order_expire_protection",
    "order_extend_protection",
    "order_send_protection_checkins",
    "order_send_protection_ending_notices",
]
