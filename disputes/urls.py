from django.urls import path

from .views import home

app_name = "disputes"

urlpatterns = [
    path("", home.HomeView.as_view(), name="home"),
    path("health/", home.health, name="health"),
]
