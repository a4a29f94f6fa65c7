"""Forms: they check input and say what is wrong in the user's language; services decide."""

from __future__ import annotations

import html
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.choices import BaseChoiceIterator
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from .choices import CustomerReply, EvidenceKind, Party, Program, ProtectionAnswer, Reason
from .email_display import format_money
from .models import Order
from .policies import (
    BUYER_PROTECTION,
    PAYMENT_DISPUTE,
    PROTECTION_ANSWERS_OPENING_A_CASE,
    ChecklistItem,
    customer_replies_for,
    evidence_for,
    evidence_item,
)
from .selectors import merchant_choices_for_public_form, order_find_for_customer
from .services import EvidenceInput
from .uploads import CheckedFile, UploadRejected, check_uploads

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
        # format_lazy: translated when shown, in the reader's language, not at import.
        kwargs.setdefault(
            "help_text",
            format_lazy(
                "{}",
                _("PDF, JPEG or PNG (iPhone photos too), at most 10 MB each and 5 files in all."),
            ),
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


class ShopSelect(forms.Select):
    """The list of every shop, as Django's Select renders it, built in Python: through the
    widget templates each option is a template include, and with a thousand shops those were
    most of the "find your order" page's time."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        if any(isinstance(option[1], list | tuple) for option in self.choices):
            return super().render(name, value, attrs, renderer)  # option groups: the templates
        chosen = self.format_value(value)
        options = []
        has_selected = False
        for option_value, label in self.choices:
            selected = not has_selected and str(option_value) in chosen
            has_selected |= selected
            flag = " selected" if selected else ""
            options.append(
                f'  <option value="{_escape(option_value)}"{flag}>{_escape(label)}</option>'
            )
        attributes = "".join(
            f" {_escape(key)}" if setting is True else f' {_escape(key)}="{_escape(setting)}"'
            for key, setting in self.build_attrs(self.attrs, attrs).items()
            if setting is not False
        )
        # Every name, value and label is escaped above.
        return mark_safe(  # noqa: S308
            f'<select name="{_escape(name)}"{attributes}>\n' + "\n".join(options) + "\n</select>"
        )


def _escape(value: object) -> str:
    # django.utils.html.escape without its lazy-argument wrapper: a thousand calls a page.
    return html.escape(str(value))


class PairChoices(BaseChoiceIterator):
    """Choices that are (value, label) pairs already: Django leaves them as they are, where it
    would normalise a plain list again on each assignment (field and widget), a few
    milliseconds a request for a thousand shops."""

    def __init__(self, pairs: Sequence[tuple[str, Any]]) -> None:
        self.pairs = pairs

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return iter(self.pairs)


class FindOrderForm(forms.Form):
    shop = forms.ChoiceField(label=_("Shop"), widget=ShopSelect)
    order_number = forms.CharField(label=_("Order number"), max_length=64)
    email = forms.EmailField(
        label=_("Email address used for the order"),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        shop_field = self.fields["shop"]
        assert isinstance(shop_field, forms.ChoiceField)  # noqa: S101 - declared above
        shop_field.choices = PairChoices(
            [("", _("Choose the shop")), *merchant_choices_for_public_form()]
        )
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


class OpeningEvidenceMixin:
    """The customer's checklist on an opening form, for every reason the form offers: each
    field says which reasons it serves (the page shows those of the chosen reason), and the
    service gets the chosen reason's items. What was given for another reason is kept:
    documents join the plain documents, text joins the description."""

    fields: dict[str, forms.Field]
    cleaned_data: dict[str, Any]

    def add_opening_evidence(self, program: str, reasons: Sequence[str]) -> None:
        serves: dict[str, list[str]] = {}
        entries: dict[str, ChecklistItem] = {}
        for reason in reasons:
            for entry in evidence_for(program, reason, Party.CUSTOMER):
                serves.setdefault(entry.key, []).append(reason)
                entries.setdefault(entry.key, ChecklistItem(entry.item, essential=False))
        self.opening_program = program
        add_evidence_fields(self, list(entries.values()))  # type: ignore[arg-type]
        for key, reasons_served in serves.items():
            self.fields[EVIDENCE_FIELD_PREFIX + key].evidence_reasons = " ".join(  # type: ignore[attr-defined]
                reasons_served
            )

    def opening_evidence(self, reason: str) -> tuple[list[EvidenceInput], list[CheckedFile], str]:
        """(the chosen reason's items, documents given for other reasons, their text lines)"""
        wanted = {entry.key for entry in evidence_for(self.opening_program, reason, Party.CUSTOMER)}
        items: list[EvidenceInput] = []
        documents: list[CheckedFile] = []
        lines: list[str] = []
        for given in evidence_from(self):  # type: ignore[arg-type]
            if given.key in wanted:
                items.append(given)
            elif given.documents:
                documents.extend(given.documents)
            else:
                lines.append(f"{evidence_item(given.key).label}: {given.value}")
        return items, documents, "\n".join(lines)


class PaymentDisputeForm(OpeningEvidenceMixin, forms.Form):
    reason = forms.ChoiceField(
        label=_("What went wrong?"),
        widget=forms.RadioSelect,
        choices=[(r.value, r.label) for r in PAYMENT_DISPUTE.reason_choices],
    )
    message = message_field(required=True, label=_("Describe the problem in your own words"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_opening_evidence(Program.PAYMENT_DISPUTE, PAYMENT_DISPUTE.reason_choices)
        self.fields["documents"] = DocumentsField(label=_("Other documents (optional)"))


class ProtectionFeedbackForm(OpeningEvidenceMixin, forms.Form):
    answer = forms.ChoiceField(
        label=_("How did your order go?"),
        widget=forms.RadioSelect,
        choices=ProtectionAnswer.choices,
    )
    no_refund_kind = forms.ChoiceField(
        label=_("Did you return or cancel the order?"),
        help_text=_("Only when you got no refund after a return or cancellation."),
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
    # "All fine" is confirmed on a page of its own, which sets this (and, with a case open,
    # the confirmation withdraws the case too).
    confirm_withdrawal = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_opening_evidence(Program.BUYER_PROTECTION, BUYER_PROTECTION.reason_choices)
        self.fields["documents"] = DocumentsField(label=_("Other documents (optional)"))
        self.order_fields(
            [name for name in self.fields if name != "confirm_withdrawal"] + ["confirm_withdrawal"]
        )
        # Required for some answers only: not "(optional)", the help text says when.
        self.fields["no_refund_kind"].conditional = True  # type: ignore[attr-defined]
        self.fields["message"].conditional = True  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        answer = cleaned.get("answer")
        if answer == ProtectionAnswer.NO_REFUND and not cleaned.get("no_refund_kind"):
            self.add_error("no_refund_kind", _("Tell us whether you returned or cancelled it."))
        if answer in PROTECTION_ANSWERS_OPENING_A_CASE and not cleaned.get("message"):
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
    prefix = "reply"  # its own ids on a page with several forms
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
    prefix = "message"  # its own ids on a page with several forms
    message = message_field(required=True, label=_("Your message"))
    documents = DocumentsField()


class ReturnShippedForm(forms.Form):
    prefix = "return"  # its own ids on a page with several forms
    message = message_field(
        required=True, label=_("How did you send the goods back? (carrier and tracking number)")
    )


class WithdrawForm(forms.Form):
    prefix = "withdraw"  # its own ids on a page with several forms
    confirm = forms.BooleanField(
        label=_("Yes, I withdraw my case."),
        required=True,
    )
    message = message_field(required=False, label=_("Why? (optional)"))


# --- Evidence checklists -------------------------------------------------------------------------

EVIDENCE_FIELD_PREFIX = "evidence_"


def add_evidence_fields(
    form: forms.Form,
    checklist: Sequence[ChecklistItem],
    *,
    prefill: dict[str, str] | None = None,
) -> None:
    """One field per checklist item the side gives itself: a line of text, or documents that
    prove it (checked by content like every upload). Portal-found items have no field."""
    prefill = prefill or {}
    form.evidence_checklist = [  # type: ignore[attr-defined]
        entry for entry in checklist if entry.item.kind != EvidenceKind.AUTOMATIC
    ]
    for entry in form.evidence_checklist:  # type: ignore[attr-defined]
        name = EVIDENCE_FIELD_PREFIX + entry.key
        label = (
            format_lazy("{} ({})", entry.item.label, _("essential"))
            if entry.essential
            else entry.item.label
        )
        if entry.item.kind == EvidenceKind.TEXT:
            form.fields[name] = forms.CharField(
                label=label,
                required=False,
                max_length=200,
                help_text=entry.item.help,
                initial=prefill.get(entry.key),
            )
        else:
            form.fields[name] = DocumentsField(
                label=label,
                help_text=format_lazy(
                    "{} {}", entry.item.help, _("PDF, JPEG or PNG, at most 10 MB each.")
                ),
            )


def evidence_from(form: forms.Form) -> list[EvidenceInput]:
    """The checklist items the form was given, for the service."""
    given: list[EvidenceInput] = []
    for entry in getattr(form, "evidence_checklist", []):
        value = form.cleaned_data.get(EVIDENCE_FIELD_PREFIX + entry.key)
        if not value:
            continue
        if entry.item.kind == EvidenceKind.TEXT:
            given.append(EvidenceInput(entry.key, str(value)))
        else:
            given.append(EvidenceInput(entry.key, documents=list(value)))
    return given


class EvidenceForm(forms.Form):
    """Evidence for support: the side's checklist items, other documents and a note."""

    prefix = "evidence"  # its own ids on a page with several forms

    def __init__(
        self,
        *args: Any,
        checklist: Sequence[ChecklistItem],
        prefill: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        add_evidence_fields(self, checklist, prefill=prefill)
        self.fields["documents"] = DocumentsField(label=_("Other documents (optional)"))
        self.fields["message"] = message_field(required=False, label=_("Note for support"))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        cleaned["evidence"] = evidence_from(self) if not self.errors else []
        if not self.errors and not (
            cleaned["evidence"] or cleaned.get("documents") or cleaned.get("message")
        ):
            raise forms.ValidationError(_("Give at least one evidence item, a document or a note."))
        return cleaned


def money_field(**kwargs: Any) -> forms.DecimalField:
    """An amount typed as the reader writes it ("30,00" in Finnish, "30.00" in English): a
    text box with the decimal keyboard on phones, never a number box that drops the comma."""
    field = forms.DecimalField(
        localize=True,
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        error_messages={"min_value": _("Enter an amount above zero.")},
        **kwargs,
    )
    field.widget = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
    field.widget.is_localized = True
    return field


def limit_amount(field: forms.Field, limit: Decimal, currency: str) -> None:
    """The most the amount may be, said in the reader's format: "at most 69,53 €"."""
    field.validators.append(_AtMost(limit, currency))


class _AtMost:
    def __init__(self, limit: Decimal, currency: str) -> None:
        self.limit, self.currency = limit, currency

    def __call__(self, value: Decimal | None) -> None:
        if value is not None and value > self.limit:
            raise forms.ValidationError(
                _("The amount can be at most %(limit)s.")
                % {"limit": format_money(self.limit, self.currency)},
                code="max_value",
            )
