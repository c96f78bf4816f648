"""REST routes; every path answers with and without its trailing slash, never redirecting."""

from django.urls import re_path

from generations.api import views
from generations.api.errors import unknown_path

GENERATION = r"^generations/(?P<generation_id>[^/]+)"

urlpatterns = [
    re_path(r"^generations/?$", views.GenerationListView.as_view(), name="generation-list"),
    re_path(GENERATION + r"/?$", views.GenerationDetailView.as_view(), name="generation-detail"),
    re_path(GENERATION + r"/edits/?$", views.GenerationEditView.as_view(), name="generation-edits"),
    re_path(
        GENERATION + r"/retry/?$", views.GenerationRetryView.as_view(), name="generation-retry"
    ),
    re_path(
        GENERATION + r"/cancel/?$", views.GenerationCancelView.as_view(), name="generation-cancel"
    ),
    re_path(
        GENERATION + r"/choose/?$", views.GenerationChooseView.as_view(), name="generation-choose"
    ),
    re_path(
        GENERATION + r"/variants/(?P<index>[0-9]+)/html/?$",
        views.VariantHtmlView.as_view(),
        name="variant-html",
    ),
    re_path(
        GENERATION + r"/variants/(?P<index>[0-9]+)/render\.png$",
        views.VariantRenderView.as_view(),
        name="variant-render",
    ),
    re_path(
        GENERATION + r"/variants/(?P<index>[0-9]+)/download/?$",
        views.VariantDownloadView.as_view(),
        name="variant-download",
    ),
    re_path(
        GENERATION + r"/images/(?P<name>[^/]+)$",
        views.GeneratedImageView.as_view(),
        name="generated-image",
    ),
    re_path(r"^models/stats/?$", views.ModelStatsView.as_view(), name="model-stats"),
    re_path(r"^health/?$", views.HealthView.as_view(), name="health"),
    re_path(r"^schema/?$", views.SchemaView.as_view(), name="schema"),
    # Last: every other path under /api/ answers with the 404 envelope, never an HTML page.
    re_path(r"^", unknown_path),
]
