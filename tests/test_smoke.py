import io

import pytest
import time_machine
from django.core.management import call_command

from disputes.choices import Program, State
from disputes.models import Dispute
from disputes_portal.celery import app as celery_app


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/admin/login/", "/health/"])
def test_public_pages_answer(client, path):
    response = client.get(path)
    assert response.status_code == 200


def test_every_scheduled_job_names_a_registered_task(settings):
    celery_app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled <= set(celery_app.tasks), scheduled - set(celery_app.tasks)


@pytest.mark.django_db
def test_models_and_migrations_agree():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db
def test_seed_demo_covers_every_state_of_both_programs_and_is_idempotent(capsys):
    call_command("seed_demo")
    first = Dispute.objects.count()
    call_command("seed_demo")
    assert Dispute.objects.count() == first
    assert "demo-support-pass" in capsys.readouterr().out
    states_per_program = {
        program: set(Dispute.objects.filter(program=program).values_list("state", flat=True))
        for program in Program.values
    }
    reachable = set(State.values) - {State.OPENED}  # "opened" lasts only inside a transaction
    for program, states in states_per_program.items():
        assert states == reachable, (program, reachable - states)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "moment",
    [
        "2026-12-02 21:52",
        "2026-12-02 22:30",
        "2026-12-02 23:59",
        "2026-03-29 00:30",
        "2026-10-25 01:30",
        "2026-06-15 12:00",
    ],
)
def test_seed_demo_builds_every_case_at_any_hour(moment):
    # A window ends with the shop's local day: opened in the hours after the shop's midnight
    # that are still yesterday in UTC, a case is due a day later (a demo once failed then).
    with time_machine.travel(f"{moment} +0000", tick=True):
        call_command("seed_demo", stdout=io.StringIO())
    assert Dispute.objects.filter(state=State.DECIDED).exists()


@pytest.mark.django_db
def test_seed_demo_prints_links_from_site_url_and_holds_a_statement_and_an_endpoint(
    capsys, settings
):
    from api.models import WebhookEndpoint
    from billing.models import Statement, StatementStatus

    settings.SITE_URL = "http://127.0.0.1:8010"
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8010/portal/" in out
    assert "127.0.0.1:8000" not in out
    customer_links = [line for line in out.splitlines() if "http://127.0.0.1:8010/c/" in line]
    assert len(customer_links) == len(set(customer_links)) >= 15  # one per program and state
    assert Statement.objects.filter(status=StatementStatus.ISSUED).exists()
    endpoint = WebhookEndpoint.objects.get(merchant__slug="demo-shop")
    assert endpoint.enabled is False  # nothing leaves the machine until its owner says so
    assert endpoint.url.startswith("http://127.0.0.1:")


@pytest.mark.django_db
def test_error_pages_are_the_sites_own_in_the_readers_language(client):
    missing = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="fi")
    assert missing.status_code == 404
    page = missing.content.decode()
    assert '<html lang="fi">' in page
    assert 'href="/case-link/"' in page  # a way back: a new link to the case


@pytest.mark.django_db
def test_an_agent_on_an_owner_page_gets_a_403_that_explains(client):
    from disputes.choices import MemberRole
    from tests.factories import MembershipFactory

    agent = MembershipFactory(role=MemberRole.AGENT)
    client.force_login(agent.user)
    response = client.get("/portal/team/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "for the shop's owners only" in page
    assert 'href="/portal/"' in page
