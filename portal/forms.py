"""The merchant portal's forms: they check input and say what is wrong in the user's language;
services decide."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import (
    AuthenticationForm,
    PasswordResetForm,
    SetPasswordForm,
    UsernameField,
)
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext_lazy as _

from api.models import WEBHOOK_EVENTS, KeyOwner
from api.scopes import ALLOWED_SCOPES, SCOPE_LABELS, Scope
from api.webhooks.endpoints import WebhookUrlRejected, check_webhook_url
from disputes.choices import MemberRole, Program, Reason, RefundOffer, State
from disputes.forms import (
    DocumentsField,
    add_evidence_fields,
    evidence_from,
    limit_amount,
    message_field,
    money_field,
)
from disputes.memberships import AddressNotAccepted, account_email, member_password_reset_request
from disputes.models import MerchantMembership
from disputes.policies import ChecklistItem

NOTIFY_FIELDS = [
    "notify_new_case",
    "notify_reminders",
    "notify_escalation",
    "notify_decision",
    "notify_customer_reply",
    "notify_monthly_statement",
]

# --- Cases ---------------------------------------------------------------------------------------


class ReturnReceivedForm(forms.Form):
    prefix = "return"  # its own ids on a page with several forms
    confirm = forms.BooleanField(
        label=_("We received the goods back: make the refund support decided."), required=True
    )
    message = message_field(required=False, label=_("Message to the customer (optional)"))


class AppealForm(forms.Form):
    prefix = "appeal"  # its own ids on a page with several forms
    message = message_field(
        required=True, label=_("What is new? Explain why the decision should change")
    )
    documents = DocumentsField()


class MerchantRefundChoice:
    YES = "yes"
    AFTER_RETURN = RefundOffer.AFTER_RETURN.value
    NO = "no"
    CHOICES = [
        (YES, _("Yes")),
        (AFTER_RETURN, _("Yes, after the goods are returned")),
        (NO, _("No")),
    ]


class MerchantResponseForm(forms.Form):
    prefix = "answer"  # its own ids on a page with several forms
    refund = forms.ChoiceField(
        label=_("Do you offer a refund?"),
        widget=forms.RadioSelect,
        choices=MerchantRefundChoice.CHOICES,
    )
    amount = money_field(
        label=_("Refund amount"),
        required=False,
        help_text=_("The order value; lower it for a partial refund."),
    )
    message = message_field(required=True, label=_("Message to the customer"))
    documents = DocumentsField(label=_("Other documents (optional)"))

    def __init__(
        self,
        *args: Any,
        disputed_amount: Decimal,
        currency: str = "",
        checklist: Sequence[ChecklistItem] = (),
        prefill: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("initial", {"amount": disputed_amount})
        super().__init__(*args, **kwargs)
        add_evidence_fields(self, checklist, prefill=prefill)
        self.disputed_amount = disputed_amount
        limit_amount(self.fields["amount"], disputed_amount, currency)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        refund = cleaned.get("refund")
        offers_money = refund in (MerchantRefundChoice.YES, MerchantRefundChoice.AFTER_RETURN)
        if offers_money and cleaned.get("amount") is None and "amount" not in self.errors:
            self.add_error("amount", _("Enter the amount you refund."))
        if refund:
            cleaned["offer"], cleaned["offer_amount"] = self._service_terms(
                refund, cleaned.get("amount")
            )
        cleaned["evidence"] = evidence_from(self) if not self.errors else []
        return cleaned

    def _service_terms(self, refund: str, amount: Decimal | None) -> tuple[str, Decimal | None]:
        """The offer in the service's terms: full, partial, after_return or none."""
        if refund == MerchantRefundChoice.NO:
            return RefundOffer.NONE, None
        if refund == MerchantRefundChoice.AFTER_RETURN:
            return RefundOffer.AFTER_RETURN, amount
        if amount == self.disputed_amount:
            return RefundOffer.FULL, None
        return RefundOffer.PARTIAL, amount


class AcceptDisputeForm(forms.Form):
    prefix = "accept"  # its own ids on a page with several forms
    confirm = forms.BooleanField(
        label=_("I accept the dispute: the customer gets the full disputed amount back."),
        required=True,
    )
    message = message_field(required=False, label=_("Message to the customer (optional)"))


class MerchantMessageForm(forms.Form):
    prefix = "message"  # its own ids on a page with several forms
    TO_CUSTOMER = "customer"
    TO_SUPPORT = "support"

    audience = forms.ChoiceField(
        label=_("Who is it for?"),
        widget=forms.RadioSelect,
        choices=[
            (TO_CUSTOMER, _("The customer (support sees it too)")),
            (TO_SUPPORT, _("Support only: information or evidence for the decision")),
        ],
        initial=TO_CUSTOMER,
    )
    message = message_field(required=True, label=_("Message"))
    documents = DocumentsField()


# Dates a case can have been opened on; anything else (9999-12-31) is refused with a message
# rather than overflowing a day later into a server error.
QUEUE_DATE_RANGE = [
    MinValueValidator(date(2000, 1, 1), message=_("Enter a date from the year 2000 on.")),
    MaxValueValidator(date(2099, 12, 31), message=_("Enter a date before the year 2100.")),
]


class QueueFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search by case id, order number or customer email"), required=False, max_length=320
    )
    program = forms.ChoiceField(label=_("Program"), required=False)
    reason = forms.ChoiceField(label=_("Reason"), required=False)
    state = forms.ChoiceField(label=_("State"), required=False)
    opened_from = forms.DateField(
        label=_("Opened from"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=QUEUE_DATE_RANGE,
    )
    opened_to = forms.DateField(
        label=_("Opened until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=QUEUE_DATE_RANGE,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, choices in (("program", Program), ("reason", Reason), ("state", State)):
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)  # noqa: S101 - declared above
            field.choices = [("", _("All"))] + [
                (value, label) for value, label in choices.choices if value != State.OPENED
            ]


# --- Accounts ------------------------------------------------------------------------------------

# One message for an unknown address and a wrong password: the form must not reveal accounts.
INVALID_LOGIN = gettext_lazy(
    "We could not sign you in with this email address and password. Check both and try again."
)


class EmailAuthenticationForm(AuthenticationForm):
    username = UsernameField(
        label=gettext_lazy("Email address"),
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    error_messages = {"invalid_login": INVALID_LOGIN, "inactive": INVALID_LOGIN}

    def clean_username(self) -> str:
        typed: str = self.cleaned_data["username"]
        # Usernames are email addresses: accept any capitalisation of a stored one.
        stored = list(
            get_user_model()
            ._default_manager.filter(username__iexact=typed)
            .values_list("username", flat=True)[:2]
        )
        return stored[0] if len(stored) == 1 else typed


class PortalPasswordResetForm(PasswordResetForm):
    """Django's reset form, its email queued in the outbox; invited members may use it too."""

    email = forms.EmailField(
        label=gettext_lazy("Email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )

    def get_users(self, email: str) -> Any:
        # An unusable password here means "invited, no password chosen yet", so such a member
        # who lost the invitation can still get a link.
        users = get_user_model()._default_manager.filter(email__iexact=email, is_active=True)
        return (user for user in users if user.email.casefold() == email.casefold())

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Queue the reset email (in the requester's language) instead of sending it here."""
        member_password_reset_request(
            users=list(self.get_users(self.cleaned_data["email"])), language=get_language()
        )


class PreferencesForm(forms.ModelForm):
    class Meta:
        model = MerchantMembership
        fields = NOTIFY_FIELDS


# --- Team ----------------------------------------------------------------------------------------


class AddMemberForm(forms.Form):
    email = forms.EmailField(
        label=gettext_lazy("Email address"),
        max_length=150,  # the username holds it
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    role = forms.ChoiceField(
        label=gettext_lazy("Role"),
        choices=MemberRole.choices,
        initial=MemberRole.AGENT,
        widget=forms.RadioSelect,
        help_text=gettext_lazy("Owners can also manage the team; agents work on cases."),
    )

    def clean_email(self) -> str:
        try:
            return account_email(str(self.cleaned_data["email"]))
        except AddressNotAccepted as error:
            raise forms.ValidationError(error.message) from None


# --- API keys and webhooks -----------------------------------------------------------------------


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=100,
        help_text=gettext_lazy("Where the key is used, e.g. “shop backend”."),
    )
    scopes = forms.MultipleChoiceField(
        label=gettext_lazy("What it may do"),
        choices=[
            (scope.value, SCOPE_LABELS[scope])
            for scope in Scope
            if scope in ALLOWED_SCOPES[KeyOwner.MERCHANT]
        ],
        initial=sorted(ALLOWED_SCOPES[KeyOwner.MERCHANT]),
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Give a key only what its software needs."),
    )


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(label=gettext_lazy("URL"), max_length=300, assume_scheme="https")
    description = forms.CharField(label=gettext_lazy("Description"), max_length=200, required=False)
    events = forms.MultipleChoiceField(
        label=gettext_lazy("Events"),
        choices=[(event, event) for event in WEBHOOK_EVENTS],
        widget=forms.CheckboxSelectMultiple,
    )
    enabled = forms.BooleanField(label=gettext_lazy("Enabled"), required=False, initial=True)

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        try:
            check_webhook_url(url)
        except WebhookUrlRejected as error:
            raise forms.ValidationError(str(error)) from None
        return url


class InvitationPasswordForm(SetPasswordForm):
    """The password of an account made by accepting an invitation (Django's password rules,
    checked against the invited address)."""

    def __init__(self, email: str, *args: Any, **kwargs: Any) -> None:
        user_model = get_user_model()
        super().__init__(user_model(username=email, email=email), *args, **kwargs)
