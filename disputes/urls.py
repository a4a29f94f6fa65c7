from django.urls import path

from .views import customer, home

app_name = "disputes"

urlpatterns = [
    path("", home.HomeView.as_view(), name="home"),
    path("health/", home.health, name="health"),
    # Customers: find the order, open a case, follow it through a signed link.
    path("open/", customer.FindOrderView.as_view(), name="find-order"),
    path("open/order/", customer.StartView.as_view(), name="start"),
    path("open/dispute/", customer.OpenDisputeView.as_view(), name="open-dispute"),
    path("open/protection/", customer.ProtectionView.as_view(), name="protection"),
    path("open/done/", customer.OpenedView.as_view(), name="opened"),
    path("protection/<str:token>/", customer.protection_link, name="protection-link"),
    # From the provider's app or order email: the order, without typing shop, number and email.
    path("open/link/<str:token>/", customer.order_link, name="order-link"),
    path("case-link/", customer.RenewLinkView.as_view(), name="renew-link"),
    path("c/<str:token>/", customer.CaseView.as_view(), name="customer-case"),
    path(
        "c/<str:token>/reply/",
        customer.CaseActionView.as_view(action="reply"),
        name="customer-reply",
    ),
    path(
        "c/<str:token>/message/",
        customer.CaseActionView.as_view(action="message"),
        name="customer-message",
    ),
    path(
        "c/<str:token>/evidence/",
        customer.CaseActionView.as_view(action="evidence"),
        name="customer-evidence",
    ),
    path(
        "c/<str:token>/return-shipped/",
        customer.CaseActionView.as_view(action="return-shipped"),
        name="customer-return-shipped",
    ),
    path(
        "c/<str:token>/withdraw/",
        customer.CaseActionView.as_view(action="withdraw"),
        name="customer-withdraw",
    ),
    path(
        "c/<str:token>/documents/<int:attachment_id>/",
        customer.customer_document,
        name="customer-document",
    ),
]
