"""Domain errors: each carries a stable code for APIs and a message a person can act on."""

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    code = "domain_error"
    default_message = _("The request could not be carried out.")

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        self.message = str(message or self.default_message)
        self.field = field
        super().__init__(self.message)


class DisputeNotFound(DomainError):
    code = "not_found"
    default_message = _("No such case.")


class TransitionNotAllowed(DomainError):
    code = "transition_not_allowed"
    default_message = _("This action is not possible in the case's current state.")


class DeadlinePassed(DomainError):
    code = "deadline_passed"
    default_message = _("The deadline for this action has passed.")


class DisputeAlreadyOpen(DomainError):
    code = "dispute_already_open"
    default_message = _("This order already has an open case.")

    def __init__(self, public_id: str, message: str | None = None) -> None:
        self.public_id = public_id
        super().__init__(message)


class NotEligible(DomainError):
    code = "not_eligible"
    default_message = _("This order cannot get a case of this kind.")


class CaseAlreadyClosed(NotEligible):
    """The order's earlier case of this program was decided or settled: it is the last word."""

    code = "case_already_closed"
    default_message = _("This order already had a case of this kind, and it is closed.")

    def __init__(self, public_id: str, message: str | None = None) -> None:
        self.public_id = public_id
        super().__init__(message)


class InvalidAmount(DomainError):
    code = "invalid_amount"
    default_message = _("The amount is not valid.")


class InvalidChoice(DomainError):
    code = "invalid_choice"
    default_message = _("That choice is not available here.")


class InvalidTerms(DomainError):
    code = "invalid_terms"
    default_message = _("These contract terms are outside what the programs allow.")


class MissingMessage(DomainError):
    code = "message_required"
    default_message = _("A message is required.")


class DecisionIncomplete(DomainError):
    code = "decision_incomplete"
    default_message = _("The decision record is not complete.")


class HearingRequired(DomainError):
    code = "merchant_not_heard"
    default_message = _(
        "The merchant has not had its say on this case. Ask it for information first, or "
        "decide with an override and write why."
    )
