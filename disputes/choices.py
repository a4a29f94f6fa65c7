"""The dispute domain's vocabulary: every choice list, defined once."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Program(models.TextChoices):
    PAYMENT_DISPUTE = "payment_dispute", _("Payment dispute")
    BUYER_PROTECTION = "buyer_protection", _("Buyer protection")


class Reason(models.TextChoices):
    # Payment dispute
    NOT_RECEIVED = "not_received", _("Goods not received")
    RETURNED_NOT_REFUNDED = "returned_not_refunded", _("Returned but not refunded")
    WRONG_AMOUNT = "wrong_amount", _("Charged a wrong or too high amount")
    FAULTY = "faulty", _("Faulty or not as described")
    UNAUTHORIZED = "unauthorized", _("Unauthorized purchase")
    OTHER = "other", _("Other")
    # Buyer protection
    NO_REFUND_AFTER_RETURN = "no_refund_after_return", _("No refund after return")
    NO_REFUND_AFTER_CANCELLATION = "no_refund_after_cancellation", _("No refund after cancellation")
    OTHER_REQUEST = "other_request", _("Another request")


class State(models.TextChoices):
    OPENED = "opened", _("Opened")
    AWAITING_MERCHANT = "awaiting_merchant", _("Waiting for the merchant")
    AWAITING_CUSTOMER = "awaiting_customer", _("Waiting for the customer")
    ESCALATED = "escalated", _("With support")
    INFO_REQUESTED = "info_requested", _("Information requested by support")
    AWAITING_RETURN = "awaiting_return", _("Waiting for the goods to be returned")
    DECIDED = "decided", _("Decided by support")
    RESOLVED = "resolved", _("Resolved")
    WITHDRAWN = "withdrawn", _("Withdrawn")


OPEN_STATES = (
    State.OPENED,
    State.AWAITING_MERCHANT,
    State.AWAITING_CUSTOMER,
    State.ESCALATED,
    State.INFO_REQUESTED,
    State.AWAITING_RETURN,
)
CLOSED_STATES = (State.DECIDED, State.RESOLVED, State.WITHDRAWN)


class Outcome(models.TextChoices):
    NONE = "", _("Not closed")
    MERCHANT = "merchant", _("Decided for the merchant")
    CUSTOMER = "customer", _("Decided for the customer")
    SPLIT = "split", _("Split decision")
    AGREEMENT = "agreement", _("Settled between customer and merchant")
    WITHDRAWN = "withdrawn", _("Withdrawn by the customer")


DECISION_OUTCOMES = (Outcome.MERCHANT, Outcome.CUSTOMER, Outcome.SPLIT)


class Party(models.TextChoices):
    NONE = "", _("Nobody")
    CUSTOMER = "customer", _("Customer")
    MERCHANT = "merchant", _("Merchant")
    SUPPORT = "support", _("Support")


class ActorKind(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    MERCHANT = "merchant", _("Merchant")
    STAFF = "staff", _("Support")
    SYSTEM = "system", _("System")


class Visibility(models.TextChoices):
    BOTH = "both", _("Customer and merchant")
    MERCHANT = "merchant", _("Merchant and support")
    CUSTOMER = "customer", _("Customer and support")
    STAFF = "staff", _("Support only")


class RefundOffer(models.TextChoices):
    FULL = "full", _("Full refund")
    PARTIAL = "partial", _("Partial refund")
    AFTER_RETURN = "after_return", _("Refund after the goods are returned")
    NONE = "none", _("No refund")


class CustomerReply(models.TextChoices):
    RECEIVED_REFUND = "received_refund", _("I received the refund")
    REFUND_NOT_RECEIVED = "refund_not_received", _("I did not receive the refund")
    REJECT_PARTIAL = "reject_partial", _("I do not accept a partial refund")
    ACCEPT_NO_REFUND = "accept_no_refund", _("OK, end the case")
    DISAGREE = "disagree", _("I disagree")


class PaymentState(models.TextChoices):
    ACTIVE = "active", _("Active (to be paid)")
    PAUSED = "paused", _("Paused during a dispute")
    PAID = "paid", _("Paid")
    # The customer owes nothing more: an unpaid invoice decided or settled for the customer.
    CANCELLED = "cancelled", _("Invoice cancelled")
    CHARGED_BACK = "charged_back", _("Charged back")
    REFUNDED = "refunded", _("Refunded")


# The invoice is still to be paid (wholly or in part): what a decision cancels, not charges back.
UNPAID_STATES = (PaymentState.ACTIVE, PaymentState.PAUSED, PaymentState.CANCELLED)


class InstructionKind(models.TextChoices):
    """What the portal tells the provider to do with an order's money or invoice."""

    PAUSE_INVOICE = "pause_invoice", _("Pause the invoice")
    # The customer must pay `amount` (again): after a pause, or when a cancellation is undone.
    REACTIVATE_INVOICE = "reactivate_invoice", _("Reactivate the invoice")
    CANCEL_INVOICE = "cancel_invoice", _("Cancel (part of) the invoice")
    CHARGE_BACK = "charge_back", _("Charge back")
    REFUND = "refund", _("Refund")
    REVERSE_CHARGEBACK = "reverse_chargeback", _("Reverse the chargeback")
    FEE_CHARGED = "fee_charged", _("Dispute fee charged")
    FEE_WAIVED = "fee_waived", _("Dispute fee waived")
    FEE_CREDITED = "fee_credited", _("Dispute fee credited")


class WindowDayCount(models.TextChoices):
    CALENDAR = "calendar", _("Calendar days")
    WORKING = "working", _("Working days")


class ProtectionTier(models.TextChoices):
    NONE = "none", _("No protection")
    BASIC = "basic", _("Basic")
    PLUS = "plus", _("Plus")
    ONE_TIME = "one_time", _("One-time protection")


class ProtectionStatus(models.TextChoices):
    NONE = "none", _("No protection")
    ACTIVE = "active", _("Active")
    # By the customer ("all fine"), or with its case (decided, settled, money returned).
    ENDED = "ended", _("Ended")
    EXPIRED = "expired", _("Expired")


class ProtectionAnswer(models.TextChoices):
    """The answers of the day-23 check-in (and of the protection form)."""

    ALL_FINE = "all_fine", _("Everything is fine: end my buyer protection")
    NOT_RECEIVED = "not_received", _("I have not received my order")
    NO_REFUND = "no_refund", _("I returned or cancelled the order and got no refund")
    EXTEND = "extend", _("Extend my buyer protection once by 30 days")
    OTHER_REQUEST = "other_request", _("I have another request")


class MemberRole(models.TextChoices):
    OWNER = "owner", _("Owner")
    AGENT = "agent", _("Agent")


class EventType(models.TextChoices):
    OPENED = "opened", _("Case opened")
    MERCHANT_WINDOW_STARTED = "merchant_window_started", _("Waiting for the merchant")
    OFFER_MADE = "offer_made", _("Merchant answered")
    DISPUTE_ACCEPTED = "dispute_accepted", _("Merchant accepted the dispute")
    CUSTOMER_REPLIED = "customer_replied", _("Customer replied to the offer")
    ESCALATED = "escalated", _("Escalated to support")
    INFO_REQUESTED = "info_requested", _("Support asked for information")
    INFO_PROVIDED = "info_provided", _("Information provided")
    INFO_REQUEST_EXPIRED = "info_request_expired", _("Information not provided in time")
    DECIDED = "decided", _("Support decided")
    RESOLVED = "resolved", _("Case resolved")
    WITHDRAWN = "withdrawn", _("Customer withdrew the case")
    MESSAGE = "message", _("Message")
    REMINDER_SENT = "reminder_sent", _("Reminder sent")
    ASSIGNED = "assigned", _("Assigned in support")
    RETURN_DECIDED = "return_decided", _("Support decided: refund after the goods are returned")
    RETURN_SHIPPED = "return_shipped", _("Customer sent the goods back")
    RETURN_RECEIVED = "return_received", _("Merchant received the goods back")
    RETURN_EXPIRED = "return_expired", _("Return period ended")
    APPEALED = "appealed", _("Merchant appealed the decision")
    REOPENED = "reopened", _("Support reopened the case")
    EVIDENCE_ADDED = "evidence_added", _("Evidence added")
    LEGAL_HOLD_PLACED = "legal_hold_placed", _("Legal hold placed")
    LEGAL_HOLD_LIFTED = "legal_hold_lifted", _("Legal hold lifted")
    DATA_EXPORTED = "data_exported", _("Customer's data exported")
    PERSONAL_DATA_REMOVED = "personal_data_removed", _("Personal data removed")


class EvidenceKind(models.TextChoices):
    """How an evidence item is given: a document, a line of text, or found by the portal."""

    DOCUMENT = "document", _("Document")
    TEXT = "text", _("Text")
    AUTOMATIC = "automatic", _("Found by the portal")


class EvidenceWeight(models.TextChoices):
    """How support weighed one evidence item in a decision."""

    DECISIVE = "decisive", _("Decisive")
    INSUFFICIENT = "insufficient", _("Considered but insufficient")
    NOT_RELEVANT = "not_relevant", _("Not relevant")
