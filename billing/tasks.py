"""Beat job: thin, one idempotent service call."""

from celery import shared_task

from . import services


@shared_task(name="billing.issue_monthly_statements", ignore_result=True)
def issue_monthly_statements() -> int:
    """Issue last month's statements (UTC). Any day of the month, twice, or on two workers:
    each merchant gets one statement per currency."""
    return services.statements_issue_month().issued
