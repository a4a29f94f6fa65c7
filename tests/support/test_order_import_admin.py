"""The admin's order upload (the import command's checks, a report of refused lines that only
importing staff can download) and the merchant's contract terms in the admin."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from disputes.models import ContractTerms, Order
from disputes.tasks import delete_stale_import_reports
from tests.factories import MerchantFactory, UserFactory, open_dispute

pytestmark = pytest.mark.django_db

PLACED = (timezone.now() - timedelta(days=1)).replace(microsecond=0).isoformat()
HEADER = "merchant,order_number,placed_at,amount,currency,customer_email,customer_language"
IMPORT_URL = "/admin/disputes/order/import/"


def upload(content: str, name: str = "orders.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content.encode(), content_type="text/csv")


def line(number: str, merchant: str = "trail", amount: str = "20.00") -> str:
    return f"{merchant},{number},{PLACED},{amount},EUR,ann@mail.example,en"


@pytest.fixture
def importer(client):
    user = UserFactory(is_staff=True)
    for codename in ("view_order", "add_order", "change_order"):
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(user)
    return client


def test_the_order_list_links_to_the_upload_for_staff_who_may_import(importer, client):
    MerchantFactory(slug="trail")
    page = importer.get(reverse("admin:disputes_order_changelist"))
    assert IMPORT_URL in page.content.decode()


def test_an_upload_without_errors_stores_the_orders_and_says_how_many(importer):
    MerchantFactory(slug="trail")
    content = "\n".join([HEADER, line("U-1"), line("U-2")])
    response = importer.post(IMPORT_URL, {"file": upload(content)}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:disputes_order_changelist")
    assert "2 lines: 2 created, 0 updated, 0 unchanged, 0 refused." in response.content.decode()
    assert Order.objects.count() == 2

    again = importer.post(IMPORT_URL, {"file": upload(content)}, follow=True)
    assert "2 unchanged" in again.content.decode()


def test_refused_lines_are_listed_and_their_report_downloads(importer, client):
    MerchantFactory(slug="trail")
    content = "\n".join([HEADER, line("U-1"), line("U-2", amount="-1.00"), line("U-3", "ghost")])
    response = importer.post(IMPORT_URL, {"file": upload(content)})
    page = response.content.decode()
    assert response.status_code == 200
    assert "2 lines were refused" in page
    assert "Enter a positive amount" in page
    assert "No merchant has the slug ghost." in page
    assert Order.objects.get().order_number == "U-1"

    report_url = response.context["report_url"]
    report = importer.get(report_url)
    assert report.status_code == 200
    body = b"".join(report.streaming_content).decode()
    assert body.splitlines()[0] == "line,order_number,merchant,code,field,message"
    assert "U-2" in body
    assert "unknown_merchant" in body

    client.force_login(UserFactory(is_staff=True))  # staff who may not import
    assert client.get(report_url).status_code == 403
    assert client.get(IMPORT_URL).status_code == 403


def test_an_upload_kept_on_disk_is_read_as_one_kept_in_memory(importer, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10  # every upload goes to a temporary file
    MerchantFactory(slug="trail")
    content = "\n".join([HEADER, *(line(f"D-{n}") for n in range(50))])
    response = importer.post(IMPORT_URL, {"file": upload(content)}, follow=True)
    assert "50 created" in response.content.decode()


def test_json_lines_upload_with_a_merchant_for_the_whole_file(importer):
    MerchantFactory(slug="trail")
    order = {
        "order_number": "J-1",
        "placed_at": PLACED,
        "amount": "5.00",
        "currency": "EUR",
        "customer_email": "c@mail.example",
        "customer_language": "de",
    }
    content = json.dumps(order) + "\n"
    response = importer.post(
        IMPORT_URL, {"file": upload(content, "orders.jsonl"), "merchant": "trail"}, follow=True
    )
    assert "1 created" in response.content.decode()
    assert Order.objects.get().merchant.slug == "trail"


@pytest.mark.parametrize(
    ("name", "content", "merchant", "says"),
    [
        ("orders.xlsx", HEADER, "", "Upload a .csv, .jsonl or .ndjson file"),
        ("orders.csv", "amount\n1\n", "", "names no order_number column"),
        ("orders.csv", HEADER, "ghost", "No merchant has this slug."),
    ],
)
def test_a_file_that_cannot_be_imported_gets_a_clear_message(
    importer, name, content, merchant, says
):
    response = importer.post(IMPORT_URL, {"file": upload(content, name), "merchant": merchant})
    assert response.status_code == 200
    assert says in response.content.decode()
    assert not Order.objects.exists()


# --- Contract terms ------------------------------------------------------------------------------


def terms_form(merchant, **row: str) -> dict[str, str]:
    existing = list(merchant.terms.all())
    data = {
        "name": merchant.name,
        "slug": merchant.slug,
        "country": merchant.country,
        "time_zone": merchant.time_zone,
        "currency": merchant.currency,
        "language": merchant.language,
        "terms-TOTAL_FORMS": str(len(existing) + 1),
        "terms-INITIAL_FORMS": str(len(existing)),
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
    }
    for index, version in enumerate(existing):
        data[f"terms-{index}-id"] = str(version.pk)
        data[f"terms-{index}-merchant"] = str(merchant.pk)
    new = len(existing)
    fields = {
        "valid_from": timezone.now().date().isoformat(),
        "payment_dispute": "on",
        "buyer_protection": "on",
        "dispute_window_days": "14",
        "dispute_window_day_count": "working",
        "protection_window_days": "5",
        "fee_plan": "standard",
        **row,
    }
    data.update({f"terms-{new}-{name}": value for name, value in fields.items() if value})
    data[f"terms-{new}-merchant"] = str(merchant.pk)
    return data


@pytest.fixture
def superuser(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_staff_add_a_version_of_the_terms_and_cases_keep_theirs(superuser):
    merchant = MerchantFactory()
    dispute = open_dispute(merchant=merchant)
    url = reverse("admin:disputes_merchant_change", args=[merchant.pk])
    tomorrow = (timezone.now() + timedelta(days=1)).date().isoformat()

    response = superuser.post(url, terms_form(merchant, valid_from=tomorrow))
    assert response.status_code == 302, response.context["inline_admin_formsets"]
    version = ContractTerms.objects.get(merchant=merchant)
    assert (version.dispute_window_days, version.dispute_window_day_count) == (14, "working")
    dispute.refresh_from_db()
    assert dispute.terms_id != version.pk


@pytest.mark.parametrize(
    ("row", "says"),
    [
        ({"dispute_window_days": "30"}, "The payment-dispute window is 14 to 21 days."),
        ({"payment_dispute": "", "buyer_protection": ""}, "A merchant has at least one program."),
        ({"valid_from": "2020-01-01"}, "New terms start today or later"),
    ],
)
def test_terms_outside_the_programs_bounds_are_refused_in_the_form(superuser, row, says):
    merchant = MerchantFactory()
    url = reverse("admin:disputes_merchant_change", args=[merchant.pk])
    response = superuser.post(url, terms_form(merchant, **row))
    assert response.status_code == 200
    assert says in response.content.decode()
    assert not ContractTerms.objects.filter(merchant=merchant).exists()


def test_error_reports_are_deleted_after_thirty_days(importer):
    MerchantFactory(slug="trail")
    content = "\n".join([HEADER, line("U-1", amount="x")])
    report_url = importer.post(IMPORT_URL, {"file": upload(content)}).context["report_url"]
    assert importer.get(report_url).status_code == 200

    assert delete_stale_import_reports.apply().get() == 0
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        assert delete_stale_import_reports.apply().get() == 1
    assert importer.get(report_url).status_code == 404
