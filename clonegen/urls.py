"""URL routes: the web pages, the REST API under /api/, the admin."""

from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from generations import views

# A generation's pages answer with and without a trailing slash, like the API.
GENERATION = r"^g/(?P<generation_id>[0-9a-fA-F-]{32,36})"

urlpatterns = [
    path("", views.index, name="index"),
    re_path(GENERATION + r"/?$", views.generation_page, name="generation"),
    re_path(GENERATION + r"/screenshot/?$", views.screenshot, name="generation-screenshot"),
    re_path(GENERATION + r"/thumbnail/?$", views.thumbnail, name="generation-thumbnail"),
    re_path(r"^history/?$", views.history, name="history"),
    re_path(r"^stats/?$", views.model_stats, name="stats"),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("api/", include("generations.api.urls")),
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico on pages that name no icon (JSON opened in a tab).
    path("favicon.ico", RedirectView.as_view(url=static("generations/favicon.svg"))),
]
