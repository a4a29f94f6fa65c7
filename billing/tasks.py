"""Beat job: thin, one idempotent service call."""

from celery import shared_task

from . import services


@shared_task(name="billing.issue_monthly_statements", ignore_result=True)
def issue_monthly_statements() -> int:
    """Issue every ended month's statements not issued yet (UTC), oldest first. Run daily: a
    missed day is caught up on the next; twice, late or on two workers, each merchant gets one
    statement per month and currency."""
    return sum(run.issued for run in services.statements_issue_due())
