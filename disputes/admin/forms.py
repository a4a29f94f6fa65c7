"""Forms of the support desk's case view: each one drives one service."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..choices import UNPAID_STATES, EvidenceWeight, Outcome, Party, Reason
from ..forms import money_field
from ..models import Dispute
from ..policies import EVIDENCE_PARTIES, Assessment, decision_codes_for, evidence_for

_SIDE_LABELS = {Party.MERCHANT: _("Merchant"), Party.CUSTOMER: _("Customer")}


class DecisionRecordForm(forms.Form):
    """The itemised record a decision carries: a reason code, every evidence item of both
    sides weighed (a line on each decisive one), and the override when the merchant was not
    heard. Cleans to `code`, `assessments` and `override_reason` for the service."""

    def __init__(self, *args: Any, dispute: Dispute, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"] = forms.ChoiceField(
            label=_("Decision reason code (both parties see it)"),
            choices=[("", "—")]
            + [(code.code, code.label) for code in decision_codes_for(dispute.reason)],
        )
        self.marks: list[tuple[str, str, str, str]] = []  # (party, key, mark field, note field)
        for party in EVIDENCE_PARTIES:
            for entry in evidence_for(dispute.program, dispute.reason, party):
                mark, note = f"mark_{party}_{entry.key}", f"note_{party}_{entry.key}"
                self.fields[mark] = forms.ChoiceField(
                    label=f"{_SIDE_LABELS[party]}: {entry.item.label}",
                    choices=EvidenceWeight.choices,
                    widget=forms.RadioSelect,
                    error_messages={"required": _("Weigh this item.")},
                )
                self.fields[note] = forms.CharField(
                    label=_("Why it was decisive"), required=False, max_length=500
                )
                self.marks.append((party, entry.key, mark, note))
        self.fields["override_reason"] = forms.CharField(
            label=_(
                "Deciding for the customer without hearing the merchant: why (the merchant "
                "reads it and may appeal again)"
            ),
            required=False,
            widget=forms.Textarea(attrs={"rows": 3}),
        )

    def mark_rows(self) -> list[tuple[Any, Any]]:
        return [(self[mark], self[note]) for _party, _key, mark, note in self.marks]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for _party, _key, mark, note in self.marks:
            if cleaned.get(mark) == EvidenceWeight.DECISIVE and not cleaned.get(note):
                self.add_error(note, _("Write a line on why this item was decisive."))
        cleaned["assessments"] = [
            Assessment(party, key, cleaned.get(mark) or "", cleaned.get(note) or "")
            for party, key, mark, note in self.marks
        ]
        return cleaned


class RequestInformationForm(forms.Form):
    party = forms.ChoiceField(
        label=_("Ask"),
        choices=[
            (Party.MERCHANT.value, _("the merchant")),
            (Party.CUSTOMER.value, _("the customer")),
        ],
        widget=forms.RadioSelect,
    )
    message = forms.CharField(
        label=_("What do you need?"), widget=forms.Textarea(attrs={"rows": 4})
    )
    working_days = forms.IntegerField(
        label=_("Deadline in working days"),
        min_value=1,
        max_value=30,
        initial=5,
        help_text=_("A merchant who does not answer in time loses the case."),
    )


class DecisionForm(DecisionRecordForm):
    outcome = forms.ChoiceField(
        label=_("Decision"),
        widget=forms.RadioSelect,
        choices=[
            (Outcome.MERCHANT.value, _("For the merchant: the invoice is active again")),
            (Outcome.CUSTOMER.value, _("For the customer: charge back the amount below")),
            (Outcome.SPLIT.value, _("Split: charge back part of the amount")),
        ],
    )
    amount = money_field(
        label=_("Amount to the customer"),
        required=False,
        help_text=_("For the customer: empty means the whole disputed amount."),
    )
    reason = forms.CharField(
        label=_("Reason (both parties read it)"), widget=forms.Textarea(attrs={"rows": 5})
    )
    fraud_proven = forms.BooleanField(
        label=_("Unauthorized purchase proven as fraud (no dispute fee for the merchant)"),
        required=False,
    )

    def __init__(self, *args: Any, dispute: Dispute, **kwargs: Any) -> None:
        super().__init__(*args, dispute=dispute, **kwargs)
        # Say what each outcome does to this order's money: an unpaid invoice is cancelled
        # (or payable again), a paid order is charged back; nothing about chargebacks on an
        # invoice nobody paid.
        unpaid = dispute.order.payment_state in UNPAID_STATES
        outcome = self.fields["outcome"]
        assert isinstance(outcome, forms.ChoiceField)  # noqa: S101 - declared above
        if unpaid:
            outcome.choices = [
                (Outcome.MERCHANT.value, _("For the merchant: the invoice is payable again")),
                (
                    Outcome.CUSTOMER.value,
                    _("For the customer: the invoice is cancelled by the amount below"),
                ),
                (Outcome.SPLIT.value, _("Split: part of the invoice is cancelled")),
            ]
            self.fields["amount"].label = _("Amount cancelled from the invoice")
        else:
            outcome.choices = [
                (Outcome.MERCHANT.value, _("For the merchant: nothing goes back to the customer")),
                (Outcome.CUSTOMER.value, _("For the customer: charge back the amount below")),
                (Outcome.SPLIT.value, _("Split: charge back part of the amount")),
            ]
        if dispute.reason != Reason.UNAUTHORIZED:
            del self.fields["fraud_proven"]  # only an unauthorized purchase can be fraud


class ReturnDecisionForm(DecisionRecordForm):
    amount = money_field(
        label=_("Refund after the return"),
        required=False,
        help_text=_("Empty means the whole disputed amount."),
    )
    reason = forms.CharField(
        label=_("Reason (both parties read it)"), widget=forms.Textarea(attrs={"rows": 5})
    )


class ReopenForm(forms.Form):
    reason = forms.CharField(
        label=_("Why is the case reopened? (both parties read it)"),
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class LegalHoldForm(forms.Form):
    reason = forms.CharField(
        label=_("Why is the case on hold? (support only reads it)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "While a hold is in force nothing of the case or its order is deleted or "
            "pseudonymised, neither by the retention policy nor on the customer's request."
        ),
    )


class LiftHoldForm(forms.Form):
    reason = forms.CharField(
        label=_("Why is the hold lifted?"), widget=forms.Textarea(attrs={"rows": 2})
    )


class CustomerEmailForm(forms.Form):
    email = forms.EmailField(label=_("Customer's email address"))


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        label=_("Assign to"),
        queryset=get_user_model().objects.none(),
        required=False,
        empty_label=_("nobody"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["assignee"]
        assert isinstance(field, forms.ModelChoiceField)  # noqa: S101 - declared above
        field.queryset = (
            get_user_model()
            .objects.filter(is_active=True, is_staff=True)
            .filter(Q(is_superuser=True) | Q(groups__name__in=["support agent", "support lead"]))
            .distinct()
            .order_by("username")
        )
