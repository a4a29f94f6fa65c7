"""Forms of the support desk's case view: each one drives one service."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..choices import Outcome, Party


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


class DecisionForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Decision"),
        widget=forms.RadioSelect,
        choices=[
            (Outcome.MERCHANT.value, _("For the merchant: the invoice is active again")),
            (Outcome.CUSTOMER.value, _("For the customer: charge back the amount below")),
            (Outcome.SPLIT.value, _("Split: charge back part of the amount")),
        ],
    )
    amount = forms.DecimalField(
        label=_("Amount to the customer"),
        required=False,
        min_value=Decimal("0.01"),
        max_digits=14,
        decimal_places=2,
        help_text=_("For the customer: empty means the whole disputed amount."),
    )
    reason = forms.CharField(
        label=_("Reason (both parties read it)"), widget=forms.Textarea(attrs={"rows": 5})
    )
    fraud_proven = forms.BooleanField(
        label=_("Unauthorized purchase proven as fraud (no dispute fee for the merchant)"),
        required=False,
    )


class ReturnDecisionForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Refund after the return"),
        required=False,
        min_value=Decimal("0.01"),
        max_digits=14,
        decimal_places=2,
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
