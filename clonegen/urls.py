"""URL routes: the page, the REST API under /api/, the admin."""

from django.contrib import admin
from django.urls import include, path

from generations import views

urlpatterns = [
    path("", views.index, name="index"),
    path("api/", include("generations.api.urls")),
    path("admin/", admin.site.urls),
]
