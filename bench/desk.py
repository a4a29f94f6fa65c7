"""Support desk figures: the case list (the support queue) and the case desk, timed on the server.

As the merchant pages (bench/pages.py, whose helpers this uses): each request goes through the
whole Django stack in this process (`django.test.Client`: middleware, session, django-otp,
the desk site's guard, the admin, template), over https with DEBUG off; time and queries in
separate passes.

The staff member is a support lead with a confirmed authenticator app whose session is verified
(what django-otp records after a sign-in with a code), so every page pays for the second
factor's checks as it does in production, whether SUPPORT_DESK_REQUIRE_OTP is on or off.

Run after the deadline sweep ("sweep"), which escalates about 100 000 overdue cases, the support
queue of the bench data holds about 180 000 cases (160 000 of them escalated, the rest waiting
for information); the figure reports how many. The queue's pages are:

- "first": the queue as the desk opens it (with support, oldest escalation first);
- "deep": the deepest page its capped paginator links to (CappedCountPaginator counts at most
  10 001 rows, so page 101 at 100 rows a page);
- "small": the same queue narrowed to the 1 000-case merchant (a queue of under a hundred),
  and "large merchant": narrowed to the large one (about a tenth of the queue).

Queries per page must not grow with the queue: the first and the deep page of the whole queue
make the same number, and so do the large and the small merchant's queues (the merchant filter
looks up the chosen merchant's name: one query more than the whole queue). The first page of
the whole queue should cost no more than the small queue's page (the target, as the merchant's
work queue). The case desk is timed for an escalated case of the large
merchant with the longest timeline, and counted against an escalated case of the small one.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Q
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from disputes.admin.desk import CappedCountPaginator, DisputeAdmin
from disputes.choices import State
from disputes.models import Dispute, Merchant

from .pages import Page, _queries, _serving, _timed, case_with_longest_timeline
from .results import Figure, check, median_ms, p99_ms

QUEUE_TARGET = "<= 1.2"  # the 100 000-case queue's first page against the small queue's page
QUERIES_TARGET = "<= 1"  # the large queue's page makes no more queries than the small one's
STAFF_USERNAME = "bench-desk-lead"
STAFF_GROUP = "support lead"
SUPPORT_QUEUE = (State.ESCALATED, State.INFO_REQUESTED)  # the desk's default "queue" filter


def desk_figures(*, large_slug: str, small_slug: str, repeats: int = 50) -> list[Figure]:
    """The support queue (first, deep and a small queue's page) and the case desk."""
    with _serving():
        client = staff_client()
        large, small = Merchant.objects.get(slug=large_slug), Merchant.objects.get(slug=small_slug)
        changelist = reverse("admin:disputes_dispute_changelist")
        sizes = _queue_sizes(large, small)
        deep = deepest_page(sizes["queue"])
        large_case, large_entries = escalated_case(large)
        small_case, small_entries = escalated_case(small)
        pages = {
            "first": Page("first", changelist, client),
            "deep": Page("deep", f"{changelist}?p={deep}", client),
            "small": Page("small", f"{changelist}?merchant__id__exact={small.pk}", client),
            "large merchant": Page(
                "large merchant", f"{changelist}?merchant__id__exact={large.pk}", client
            ),
            "case": Page("case", _desk_url(large_case), client),
            "small case": Page("small case", _desk_url(small_case), client),
        }
        samples = _timed(list(pages.values()), repeats)
        queries = {key: _queries(page) for key, page in pages.items()}

    def times(key: str) -> dict[str, float]:
        return {"median_ms": median_ms(samples[key]), "p99_ms": p99_ms(samples[key])}

    ratio = median_ms(samples["first"]) / median_ms(samples["small"])
    queue_queries = {key: queries[key] for key in ("first", "deep", "small", "large merchant")}
    equal = queries["first"] == queries["deep"] and queries["large merchant"] == queries["small"]
    query_ratio = queries["first"] / queries["small"]
    case_equal = queries["case"] == queries["small case"]
    common = {"queue": sizes, "repeats": repeats, "staff": f"{STAFF_GROUP}, verified by OTP"}
    return [
        Figure(
            "desk queue first page median, whole queue / small queue",
            median_ms(samples["first"]),
            "ms",
            floor=median_ms(samples["small"]),
            ratio=round(ratio, 3),
            target=QUEUE_TARGET,
            met=check(ratio, QUEUE_TARGET),
            details={
                **common,
                "first": times("first"),
                "small": {**times("small"), "slug": small_slug},
                "large_merchant": {**times("large merchant"), "slug": large_slug},
            },
        ),
        Figure(
            "desk queue first page p99, whole queue",
            p99_ms(samples["first"]),
            "ms",
            details={"small_p99_ms": p99_ms(samples["small"]), "queue": sizes},
        ),
        Figure(
            "desk queue deep page median, whole queue",
            median_ms(samples["deep"]),
            "ms",
            details={
                **times("deep"),
                "page": deep,
                "vs_first_page": round(median_ms(samples["deep"]) / median_ms(samples["first"]), 3),
            },
        ),
        Figure(
            "desk queue queries",
            queries["first"],
            "queries",
            floor=queries["small"],
            ratio=round(query_ratio, 3),
            target=QUERIES_TARGET,
            met=check(query_ratio, QUERIES_TARGET) and equal,
            details={"queries": queue_queries, "equal": equal},
        ),
        Figure(
            "case desk median, large merchant",
            median_ms(samples["case"]),
            "ms",
            details={
                **times("case"),
                "case": large_case.public_id,
                "state": large_case.state,
                "timeline_entries": large_entries,
                "small_merchant_case": {
                    **times("small case"),
                    "case": small_case.public_id,
                    "timeline_entries": small_entries,
                },
                "repeats": repeats,
            },
        ),
        Figure("case desk p99, large merchant", p99_ms(samples["case"]), "ms"),
        Figure(
            "case desk queries",
            queries["case"],
            "queries",
            floor=queries["small case"],
            ratio=round(queries["case"] / queries["small case"], 3),
            target=QUERIES_TARGET,
            met=case_equal,
            details={"large": queries["case"], "small": queries["small case"], "equal": case_equal},
        ),
    ]


# --- Helpers -------------------------------------------------------------------------------------


def staff_client() -> Client:
    """A client signed in as the bench's support lead, with a verified second factor."""
    user, _ = get_user_model().objects.get_or_create(
        username=STAFF_USERNAME,
        defaults={"email": f"{STAFF_USERNAME}@bench.invalid", "is_staff": True},
    )
    if not user.is_staff or not user.is_active:
        user.is_staff = user.is_active = True
        user.save(update_fields=["is_staff", "is_active"])
    user.groups.add(Group.objects.get(name=STAFF_GROUP))
    device, _ = TOTPDevice.objects.get_or_create(
        user=user, name="bench", defaults={"confirmed": True}
    )
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id  # as django_otp.login() after a code
    session.save()
    return client


def deepest_page(queue: int) -> int:
    """The last page the desk's capped paginator links to for a queue of this size."""
    per_page = DisputeAdmin.list_per_page
    rows = min(queue, CappedCountPaginator.CAP + 1)
    return max(1, -(-rows // per_page))


def escalated_case(merchant: Merchant) -> tuple[Dispute, int]:
    """An escalated case of the merchant (the desk's usual work), the longest timeline."""
    return case_with_longest_timeline(
        merchant, [Q(state=State.ESCALATED)], newest="-escalated_at", what="escalated case"
    )


def _desk_url(dispute: Dispute) -> str:
    return reverse("admin:disputes_dispute_change", args=[dispute.pk])


def _queue_sizes(large: Merchant, small: Merchant) -> dict[str, Any]:
    """The queue's true sizes (counted once, outside the timing)."""
    queue = Dispute.objects.filter(state__in=SUPPORT_QUEUE)
    return {
        "queue": queue.count(),
        "escalated": queue.filter(state=State.ESCALATED).count(),
        "small_queue": queue.filter(merchant=small).count(),
        "large_merchant_queue": queue.filter(merchant=large).count(),
    }
