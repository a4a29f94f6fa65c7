from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from disputes.policies import minor_units

from .policies import FeeTerms, LineKind, Period, Waiver, dispute_rate, month_of


class FeeKind(models.TextChoices):
    STANDARD = "standard", _("Dispute fee")
    SURCHARGE = "surcharge", _("Elevated dispute-rate fee")
    CREDIT = "credit", _("Credit")
    DEBIT = "debit", _("Debit")


class FeeLine(models.Model):
    """One amount owed by a merchant. The standard fee is fixed when a case is escalated."""

    merchant = models.ForeignKey(
        "disputes.Merchant", on_delete=models.PROTECT, related_name="fee_lines"
    )
    dispute = models.ForeignKey(
        "disputes.Dispute", null=True, blank=True, on_delete=models.PROTECT, related_name="fees"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=FeeKind.choices)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    description = models.CharField(_("description"), max_length=255, blank=True)
    incurred_at = models.DateTimeField(_("incurred at"))

    class Meta:
        ordering = ["incurred_at", "id"]
        constraints = [
            # A dispute is charged its standard fee once, however often an escalation is retried.
            models.UniqueConstraint(
                fields=["dispute", "kind"],
                condition=Q(kind="standard"),
                name="one_standard_fee_per_dispute",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["standard", "surcharge"]) | Q(amount__gte=0),
                name="fee_charge_not_negative",
            ),
        ]
        indexes = [
            # A merchant's fees of a period, summed per currency from the index alone.
            models.Index(
                fields=["merchant", "incurred_at"],
                include=["currency", "amount"],
                name="fee_merchant_period",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency}"


class StatementIssued(Exception):
    """An issued statement and its lines are final: corrections go on the next statement."""

    def __init__(self) -> None:
        super().__init__("An issued statement cannot be changed or deleted.")


DEFAULT_FEE_PLAN = "standard"


class FeeSchedule(models.Model):
    """The fees of one plan and currency from `valid_from` on (a UTC day); a new row replaces
    the terms from its day on, earlier cases keep the fee fixed when they were escalated.
    A merchant's contract terms name the plan it is on ("standard" unless agreed otherwise)."""

    plan = models.CharField(
        _("fee plan"),
        max_length=32,
        default=DEFAULT_FEE_PLAN,
        help_text=_("The plan merchants' contract terms name, e.g. standard."),
    )
    currency = models.CharField(_("currency"), max_length=3, help_text=_("ISO 4217 code, e.g. EUR"))
    valid_from = models.DateField(_("valid from"), help_text=_("First day (UTC) these fees apply."))
    standard_fee = models.DecimalField(
        _("standard fee"),
        max_digits=14,
        decimal_places=2,
        validators=[MinValueValidator(0)],
        help_text=_("Charged for every case escalated to support."),
    )
    elevated_fee = models.DecimalField(
        _("elevated fee"),
        max_digits=14,
        decimal_places=2,
        validators=[MinValueValidator(0)],
        help_text=_(
            "The most charged per escalated case in a month whose dispute rate is above the "
            "threshold; a merchant's contract may set less."
        ),
    )
    rate_threshold = models.DecimalField(
        _("rate threshold"),
        max_digits=6,
        decimal_places=4,
        default=Decimal("0.0150"),
        help_text=_("Share of disputes to orders above which the elevated fee applies (0.015)."),
    )
    minimum_orders = models.PositiveIntegerField(
        _("minimum orders"),
        default=100,
        help_text=_("Merchants with fewer orders in the month pay no elevated fee."),
    )
    waive_when_merchant_wins = models.BooleanField(
        _("waive fees when the merchant wins"), default=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("fee schedule")
        verbose_name_plural = _("fee schedule")
        ordering = ["plan", "currency", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "currency", "valid_from"], name="fee_schedule_unique"
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="fee_schedule_currency_iso"
            ),
            models.CheckConstraint(
                condition=Q(standard_fee__gte=0) & Q(elevated_fee__gte=0),
                name="fee_schedule_fees_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(rate_threshold__gt=0) & Q(rate_threshold__lt=1),
                name="fee_schedule_threshold_is_a_share",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan} {self.currency} from {self.valid_from:%Y-%m-%d}"

    def clean(self) -> None:
        self.currency = (self.currency or "").upper()
        if self.currency and minor_units(self.currency) > 2:
            raise ValidationError(
                {"currency": _("Fees are kept in cents: this currency has finer minor units.")}
            )

    def as_terms(self) -> FeeTerms:
        return FeeTerms(
            plan=self.plan,
            currency=self.currency,
            valid_from=self.valid_from,
            standard_fee=self.standard_fee,
            elevated_fee=self.elevated_fee,
            rate_threshold=self.rate_threshold,
            minimum_orders=self.minimum_orders,
            waive_when_merchant_wins=self.waive_when_merchant_wins,
        )


class MerchantFeeTerms(models.Model):
    """A merchant's contract: the elevated fee it pays, in place of the schedule's "up to"."""

    merchant = models.ForeignKey(
        "disputes.Merchant",
        verbose_name=_("merchant"),
        on_delete=models.CASCADE,
        related_name="fee_terms",
    )
    currency = models.CharField(_("currency"), max_length=3)
    elevated_fee = models.DecimalField(
        _("elevated fee"), max_digits=14, decimal_places=2, validators=[MinValueValidator(0)]
    )
    note = models.CharField(_("contract reference"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("merchant fee terms")
        verbose_name_plural = _("merchant fee terms")
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "currency"], name="merchant_fee_terms_unique"
            ),
            models.CheckConstraint(
                condition=Q(elevated_fee__gte=0), name="merchant_fee_terms_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="merchant_fee_terms_currency_iso"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.merchant} {self.elevated_fee} {self.currency}"


class StatementStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ISSUED = "issued", _("Issued")


class StatementQuerySet(models.QuerySet["Statement"]):
    def update(self, **kwargs: object) -> int:
        if self.filter(status=StatementStatus.ISSUED).exists():
            raise StatementIssued()
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        if self.filter(status=StatementStatus.ISSUED).exists():
            raise StatementIssued()
        return super().delete()


class Statement(models.Model):
    """A merchant's fees of one calendar month (UTC) in one currency."""

    merchant = models.ForeignKey(
        "disputes.Merchant",
        verbose_name=_("merchant"),
        on_delete=models.PROTECT,
        related_name="statements",
    )
    currency = models.CharField(_("currency"), max_length=3)
    period_start = models.DateField(_("month"), help_text=_("First day of the month (UTC)."))
    status = models.CharField(
        _("status"),
        max_length=8,
        choices=StatementStatus.choices,
        default=StatementStatus.DRAFT,
    )
    # The month's figures as they were when the statement was computed.
    disputes_opened = models.PositiveIntegerField(_("cases opened"), default=0)
    orders_placed = models.PositiveIntegerField(_("orders placed"), default=0)
    rate_threshold = models.DecimalField(
        _("rate threshold"), max_digits=6, decimal_places=4, default=Decimal("0.0150")
    )
    minimum_orders = models.PositiveIntegerField(_("minimum orders"), default=100)
    elevated_fee = models.DecimalField(
        _("elevated fee per case"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    total = models.DecimalField(_("total"), max_digits=14, decimal_places=2, default=0)
    computed_at = models.DateTimeField(_("computed at"))
    issued_at = models.DateTimeField(_("issued at"), null=True, blank=True)

    objects = StatementQuerySet.as_manager()

    class Meta:
        verbose_name = _("statement")
        verbose_name_plural = _("statements")
        ordering = ["-period_start", "currency", "merchant_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "currency", "period_start"], name="one_statement_per_month"
            ),
            models.CheckConstraint(
                condition=Q(status__in=StatementStatus.values), name="statement_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status=StatementStatus.DRAFT, issued_at__isnull=True)
                | Q(status=StatementStatus.ISSUED, issued_at__isnull=False),
                name="statement_issued_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.merchant_id} {self.period_start:%Y-%m} {self.currency}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._issued_in_db():
            raise StatementIssued()
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        if self.status == StatementStatus.ISSUED or self._issued_in_db():
            raise StatementIssued()
        return super().delete(*args, **kwargs)

    def _issued_in_db(self) -> bool:
        # Read from the database: an instance loaded as a draft may have been issued since.
        return (
            self.pk is not None
            and Statement.objects.filter(pk=self.pk, status=StatementStatus.ISSUED).exists()
        )

    @property
    def is_issued(self) -> bool:
        return self.status == StatementStatus.ISSUED

    @property
    def period(self) -> Period:
        return month_of(self.period_start)

    @property
    def rate(self) -> Decimal | None:
        return dispute_rate(disputes_opened=self.disputes_opened, orders_placed=self.orders_placed)


class LineKindChoices(models.TextChoices):
    STANDARD = LineKind.STANDARD.value, _("Dispute fee")
    SURCHARGE = LineKind.SURCHARGE.value, _("Elevated dispute-rate fee")
    WAIVED = LineKind.WAIVED.value, _("Dispute fee waived")
    CREDIT = LineKind.CREDIT.value, _("Credit for an earlier month")
    DEBIT = LineKind.DEBIT.value, _("Charge for an earlier month")
    ADJUSTMENT = LineKind.ADJUSTMENT.value, _("Adjustment")


class WaiverChoices(models.TextChoices):
    NONE = "", _("Not waived")
    FRAUD_PROVEN = Waiver.FRAUD_PROVEN.value, _("Support found the purchase to be fraud")
    MERCHANT_WON = Waiver.MERCHANT_WON.value, _("The case was decided for the merchant")


class StatementLineQuerySet(models.QuerySet["StatementLine"]):
    def update(self, **kwargs: object) -> int:
        raise StatementIssued()

    def delete(self) -> tuple[int, dict[str, int]]:
        if self.filter(statement__status=StatementStatus.ISSUED).exists():
            raise StatementIssued()
        return super().delete()


class StatementLine(models.Model):
    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(_("kind"), max_length=16, choices=LineKindChoices.choices)
    dispute = models.ForeignKey(
        "disputes.Dispute",
        verbose_name=_("case"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="statement_lines",
    )
    fee_line = models.ForeignKey(
        FeeLine, null=True, blank=True, on_delete=models.PROTECT, related_name="statement_lines"
    )
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    waived_amount = models.DecimalField(
        _("amount waived"), max_digits=14, decimal_places=2, default=0
    )
    waiver = models.CharField(
        _("why waived"), max_length=16, choices=WaiverChoices.choices, blank=True, default=""
    )
    # A correction names the line it corrects and its place in that line's corrections.
    corrects = models.ForeignKey(
        "self",
        verbose_name=_("corrects"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        related_name="corrections",
    )
    correction_seq = models.PositiveSmallIntegerField(null=True, blank=True)

    objects = StatementLineQuerySet.as_manager()

    class Meta:
        verbose_name = _("statement line")
        verbose_name_plural = _("statement lines")
        ordering = ["statement", "id"]
        constraints = [
            # A case is billed once, on the statement of the month it was escalated in.
            models.UniqueConstraint(
                fields=["dispute"],
                condition=Q(kind__in=["standard", "waived"]),
                name="statement_case_billed_once",
            ),
            models.UniqueConstraint(
                fields=["dispute"],
                condition=Q(kind="surcharge"),
                name="statement_case_surcharged_once",
            ),
            models.UniqueConstraint(fields=["fee_line"], name="statement_fee_line_billed_once"),
            # Each correction of a billed case is applied once, whichever statement computes it.
            models.UniqueConstraint(
                fields=["corrects", "correction_seq"], name="statement_correction_applied_once"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=LineKindChoices.values), name="statement_line_kind_valid"
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind__in=["standard", "surcharge"], amount__gte=0)
                    | Q(kind="waived", amount=0, waived_amount__gte=0)
                    | Q(kind="credit", amount__lt=0)
                    | Q(kind="debit", amount__gt=0)
                    | Q(kind="adjustment")
                ),
                name="statement_line_amount_sign",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["credit", "debit"], corrects__isnull=False)
                | (~Q(kind__in=["credit", "debit"]) & Q(corrects__isnull=True)),
                name="statement_correction_names_its_line",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if Statement.objects.filter(pk=self.statement_id, status=StatementStatus.ISSUED).exists():
            raise StatementIssued()
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        if self.statement.is_issued:
            raise StatementIssued()
        return super().delete(*args, **kwargs)
