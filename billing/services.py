from collections.abc import Sequence
from datetime import datetime

from django.conf import settings
from django.utils.translation import gettext

from disputes.models import Dispute

from .models import FeeKind, FeeLine
from .policies import standard_fee


def fee_charge_escalations(*, disputes: Sequence[Dispute], now: datetime) -> None:
    """Fix the standard fee of each newly escalated case (once per case, enforced by the DB)."""
    if not disputes:
        return
    lines = [
        FeeLine(
            merchant_id=dispute.merchant_id,
            dispute=dispute,
            kind=FeeKind.STANDARD,
            amount=standard_fee(dispute.currency, settings.DISPUTE_FEE_STANDARD),
            currency=dispute.currency,
            description=gettext("Dispute fee for case %(case)s") % {"case": dispute.public_id},
            incurred_at=now,
        )
        for dispute in disputes
    ]
    FeeLine.objects.bulk_create(lines, ignore_conflicts=True)
