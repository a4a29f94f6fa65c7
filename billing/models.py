from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


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
        indexes = [models.Index(fields=["merchant", "incurred_at"], name="fee_merchant_period")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency}"
