"""Forms: they check input and say what is wrong in the user's language; services decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from .choices import CustomerReply, Reason
from .models import Order
from .policies import PAYMENT_DISPUTE, customer_replies_for
from .selectors import merchant_choices_for_public_form, order_find_for_customer
from .uploads import MAX_FILES, CheckedFile, UploadRejected, check_uploads

MESSAGE_MAX_LENGTH = 5000

# One message whatever was wrong, so the form cannot be used to find orders or addresses.
ORDER_NOT_FOUND = _(
    "We could not find an order with these details. Check the shop, the order number and the "
    "email address you used when you ordered."
)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class DocumentsField(forms.FileField):
    """Up to five documents, checked by content; cleans to a list of CheckedFile."""

    widget = MultipleFileInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", _("Documents (optional)"))
        kwargs.setdefault(
            "help_text",
            _("PDF, JPEG or PNG, at most 10 MB each and %(count)s files in all.")
            % {"count": MAX_FILES},
        )
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("accept", ".pdf,.jpg,.jpeg,.png,application/pdf,image/*")

    def to_python(self, data: Any) -> list[UploadedFile]:  # type: ignore[override]
        if not data:
            return []
        files = data if isinstance(data, list | tuple) else [data]
        return [f for f in files if f]

    def validate(self, value: list[UploadedFile]) -> None:
        if self.required and not value:
            raise forms.ValidationError(self.error_messages["required"], code="required")

    def clean(self, data: Any, initial: Any = None) -> list[CheckedFile]:
        files = self.to_python(data)
        self.validate(files)
        try:
            return check_uploads(files)
        except UploadRejected as rejected:
            raise forms.ValidationError(rejected.message, code=rejected.code) from None


def message_field(*, required: bool, label: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=MESSAGE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6}),
        strip=True,
    )


class FindOrderForm(forms.Form):
    shop = forms.ChoiceField(label=_("Shop"))
    order_number = forms.CharField(label=_("Order number"), max_length=64)
    email = forms.EmailField(
        label=_("Email address used for the order"),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        shop_field = self.fields["shop"]
        assert isinstance(shop_field, forms.ChoiceField)  # noqa: S101 - declared above
        shop_field.choices = [("", _("Choose the shop")), *merchant_choices_for_public_form()]
        self.order: Order | None = None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        self.order = order_find_for_customer(
            shop=cleaned["shop"], order_number=cleaned["order_number"], email=cleaned["email"]
        )
        if self.order is None:
            raise forms.ValidationError(ORDER_NOT_FOUND, code="not_found")
        return cleaned


class PaymentDisputeForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("What went wrong?"),
        widget=forms.RadioSelect,
        choices=[(r.value, r.label) for r in PAYMENT_DISPUTE.reason_choices],
    )
    message = message_field(required=True, label=_("Describe the problem in your own words"))
    documents = DocumentsField()


class ProtectionAnswer:
    ALL_FINE = "all_fine"
    NOT_RECEIVED = "not_received"
    NO_REFUND = "no_refund"
    EXTEND = "extend"
    OTHER_REQUEST = "other_request"

    CHOICES = [
        (ALL_FINE, _("Everything is fine: end my buyer protection")),
        (NOT_RECEIVED, _("I have not received my order")),
        (NO_REFUND, _("I returned or cancelled the order and got no refund")),
        (EXTEND, _("Extend my buyer protection once by 30 days")),
        (OTHER_REQUEST, _("I have another request")),
    ]
    OPENS_A_CASE = {NOT_RECEIVED, NO_REFUND, OTHER_REQUEST}


class ProtectionFeedbackForm(forms.Form):
    answer = forms.ChoiceField(
        label=_("How did your order go?"),
        widget=forms.RadioSelect,
        choices=ProtectionAnswer.CHOICES,
    )
    no_refund_kind = forms.ChoiceField(
        label=_("Did you return or cancel the order?"),
        widget=forms.RadioSelect,
        required=False,
        choices=[
            (Reason.NO_REFUND_AFTER_RETURN.value, _("I returned it")),
            (Reason.NO_REFUND_AFTER_CANCELLATION.value, _("I cancelled it")),
        ],
    )
    message = message_field(
        required=False, label=_("Describe the problem or your request in your own words")
    )
    documents = DocumentsField()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        answer = cleaned.get("answer")
        if answer == ProtectionAnswer.NO_REFUND and not cleaned.get("no_refund_kind"):
            self.add_error("no_refund_kind", _("Tell us whether you returned or cancelled it."))
        if answer in ProtectionAnswer.OPENS_A_CASE and not cleaned.get("message"):
            self.add_error("message", _("Please describe the problem in a few words."))
        return cleaned

    @property
    def reason(self) -> str:
        answer = self.cleaned_data["answer"]
        if answer == ProtectionAnswer.NO_REFUND:
            return str(self.cleaned_data["no_refund_kind"])
        if answer == ProtectionAnswer.OTHER_REQUEST:
            return Reason.OTHER_REQUEST
        return Reason.NOT_RECEIVED


class CustomerReplyForm(forms.Form):
    reply = forms.ChoiceField(label=_("Your answer to the offer"), widget=forms.RadioSelect)
    message = message_field(required=False, label=_("Anything to add? (optional)"))
    documents = DocumentsField()

    def __init__(self, *args: Any, offer: str, partial: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        reply_field = self.fields["reply"]
        assert isinstance(reply_field, forms.ChoiceField)  # noqa: S101 - declared above
        reply_field.choices = [
            (value, CustomerReply(value).label)
            for value in customer_replies_for(offer, partial=partial)
        ]


class MessageForm(forms.Form):
    message = message_field(required=True, label=_("Your message"))
    documents = DocumentsField()


class WithdrawForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("Yes, I withdraw my case."),
        required=True,
    )
    message = message_field(required=False, label=_("Why? (optional)"))
