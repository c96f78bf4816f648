"""The REST endpoints of contract §7: thin views over `actions` and `selectors`."""

from pathlib import Path

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.http import FileResponse, Http404, HttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from demo.mode import is_demo_mode
from generations import (
    actions,
    downloads,
    model_status,
    placeholder_images,
    renders,
    selectors,
    stats,
    tailwind,
)
from generations.access import Requester
from generations.api.filters import GenerationFilter
from generations.api.parsers import LimitedJSONParser
from generations.api.serializers import (
    ERROR_ENVELOPE,
    ChooseRequestSerializer,
    EditRequestSerializer,
    GenerateRequestSerializer,
    GenerationSerializer,
    GenerationSummarySerializer,
    HealthSerializer,
    ModelStatsSerializer,
    envelope,
)
from generations.browser import shared_browser
from generations.errors import NOT_FOUND, AppError

GENERATION_ENVELOPE = envelope("Generation", GenerationSerializer())
DELETED_ENVELOPE = envelope(
    "Deleted", serializers.JSONField(allow_null=True, help_text="Always null.")
)
ID_PARAMETER = OpenApiParameter(
    "generation_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The generation id."
)
INDEX_PARAMETER = OpenApiParameter("index", OpenApiTypes.INT, OpenApiParameter.PATH)
ERRORS = {code: ERROR_ENVELOPE for code in (400, 401, 404, 405, 409, 413, 429, 500, 503)}


def ok(data, status: int = 200) -> Response:
    return Response({"success": True, "data": data}, status=status)


def generation_data(generation) -> dict:
    return GenerationSerializer(generation).data


class HistoryPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    # Each generation carries the page it shows: a bound keeps one page cheap to build.
    max_page_size = 100

    def get_paginated_response_schema(self, schema: dict) -> dict:
        page = super().get_paginated_response_schema(schema)
        return {
            "type": "object",
            "required": ["success", "data"],
            "properties": {"success": {"type": "boolean"}, "data": page},
        }

    def get_paginated_response(self, data) -> Response:
        return ok(
            {
                "count": self.page.paginator.count,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )


class ApiView(APIView):
    parser_classes = [LimitedJSONParser]


class GenerationListView(ListAPIView):
    parser_classes = [LimitedJSONParser]
    # Summaries (contract §13): the variants' text and HTML only come with one generation.
    serializer_class = GenerationSummarySerializer
    pagination_class = HistoryPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = GenerationFilter

    def get_queryset(self):
        return selectors.generation_summaries(
            Requester.of_request(self.request), with_shown_html=True
        )

    @extend_schema(
        operation_id="generations_list",
        summary="The history, newest first, filtered and paginated; variants without text or HTML",
        # The paginator wraps this in the page and the envelope (get_paginated_response_schema).
        responses={200: GenerationSummarySerializer(many=True), **ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Start a generation (runs exactly as over the socket)",
        request=GenerateRequestSerializer,
        responses={202: GENERATION_ENVELOPE, **ERRORS},
    )
    def post(self, request):
        generation = actions.create_generation(request.data, Requester.of_request(request))
        async_to_sync(actions.start_generation)(generation)
        return ok(generation_data(generation), status=202)


class GenerationDetailView(ApiView):
    @extend_schema(
        summary="One generation with all its variants",
        parameters=[ID_PARAMETER],
        responses={200: GENERATION_ENVELOPE, **ERRORS},
    )
    def get(self, request, generation_id):
        return ok(
            generation_data(selectors.generation_get(generation_id, Requester.of_request(request)))
        )

    @extend_schema(
        summary="Delete a generation with its variants and files (409 while it runs)",
        parameters=[ID_PARAMETER],
        responses={200: DELETED_ENVELOPE, **ERRORS},
    )
    def delete(self, request, generation_id):
        actions.delete_generation(generation_id, Requester.of_request(request))
        return ok(None)


class GenerationEditView(ApiView):
    @extend_schema(
        summary="Edit a completed variant: a new generation in the lineage (contract §8)",
        request=EditRequestSerializer,
        parameters=[ID_PARAMETER],
        responses={202: GENERATION_ENVELOPE, **ERRORS},
    )
    def post(self, request, generation_id):
        generation = actions.create_edit(generation_id, request.data, Requester.of_request(request))
        async_to_sync(actions.start_generation)(generation)
        return ok(generation_data(generation), status=202)


class GenerationRetryView(ApiView):
    @extend_schema(
        summary="Re-run the variants that did not complete, under the same id",
        request=None,
        parameters=[ID_PARAMETER],
        responses={202: GENERATION_ENVELOPE, **ERRORS},
    )
    def post(self, request, generation_id):
        generation = async_to_sync(actions.retry_generation)(
            generation_id, Requester.of_request(request)
        )
        return ok(generation_data(generation), status=202)


class GenerationCancelView(ApiView):
    @extend_schema(
        summary="Stop the model calls; the text so far is kept",
        request=None,
        parameters=[ID_PARAMETER],
        responses={202: GENERATION_ENVELOPE, **ERRORS},
    )
    def post(self, request, generation_id):
        generation = async_to_sync(actions.cancel_generation)(
            generation_id, Requester.of_request(request)
        )
        return ok(generation_data(generation), status=202)


class GenerationChooseView(ApiView):
    @extend_schema(
        summary="Make a completed variant the chosen result",
        request=ChooseRequestSerializer,
        parameters=[ID_PARAMETER],
        responses={200: GENERATION_ENVELOPE, **ERRORS},
    )
    def post(self, request, generation_id):
        generation = actions.choose_variant(
            generation_id, request.data.get("index"), Requester.of_request(request)
        )
        return ok(generation_data(generation))


class VariantHtmlView(ApiView):
    @extend_schema(
        summary="A variant's HTML as a page, sandboxed by its Content-Security-Policy",
        parameters=[ID_PARAMETER, INDEX_PARAMETER],
        responses={
            (200, "text/html"): OpenApiResponse(OpenApiTypes.STR, description="The page."),
            **ERRORS,
        },
    )
    def get(self, request, generation_id, index):
        generation = selectors.generation_get(generation_id, Requester.of_request(request))
        variant = next((v for v in generation.variants.all() if v.index == int(index)), None)
        html = variant and variant.shown_html
        if html is None:
            raise AppError(NOT_FOUND, "That variant has no HTML (yet).")
        # Tailwind from clonegen itself, so the preview is styled with no outside network; the
        # stored page and the download keep the model's own script tag (contract §9).
        html = tailwind.use_vendored_tailwind(html, base_url=tailwind.static_base_url())
        response = HttpResponse(html, content_type="text/html; charset=utf-8")
        # Untrusted markup: an opaque origin, scripts allowed, no access to the app's cookies.
        response["Content-Security-Policy"] = "sandbox allow-scripts"
        response["X-Content-Type-Options"] = "nosniff"
        # The UI and the admin frame it for previews; nothing else may.
        response["X-Frame-Options"] = "SAMEORIGIN"
        return response


class VariantRenderView(ApiView):
    @extend_schema(
        summary="The server's render of a variant (PNG, 1280 px wide)",
        parameters=[ID_PARAMETER, INDEX_PARAMETER],
        responses={(200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY), **ERRORS},
    )
    def get(self, request, generation_id, index):
        generation = selectors.generation_get(generation_id, Requester.of_request(request))
        return _stored_png(renders.render_name(generation.id, int(index)), "No render (yet).")


class VariantDownloadView(ApiView):
    @extend_schema(
        summary="A variant's page to keep: index.html, or a zip with its generated images",
        parameters=[ID_PARAMETER, INDEX_PARAMETER],
        responses={
            (200, "text/html"): OpenApiResponse(OpenApiTypes.STR),
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY),
            **ERRORS,
        },
    )
    def get(self, request, generation_id, index):
        generation = selectors.generation_get(generation_id, Requester.of_request(request))
        variant = next((v for v in generation.variants.all() if v.index == int(index)), None)
        if variant is None or variant.shown_html is None:
            raise AppError(NOT_FOUND, "That variant has no HTML (yet).")
        name, content, content_type = downloads.variant_download(generation, variant)
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["X-Content-Type-Options"] = "nosniff"
        return response


class GeneratedImageView(ApiView):
    # Loaded by previews, whose sandboxed frames have an opaque origin and send no session
    # cookie: the address (the generation's random id and the image's hash) is the key.
    permission_classes = [AllowAny]

    @extend_schema(
        summary="An image generated for a page's placeholder (contract §11)",
        parameters=[ID_PARAMETER, OpenApiParameter("name", OpenApiTypes.STR, "path")],
        responses={(200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY), **ERRORS},
    )
    def get(self, request, generation_id, name):
        generation_id = selectors.parse_generation_id(generation_id)
        try:
            return placeholder_images.image_response(Path(settings.MEDIA_ROOT), generation_id, name)
        except Http404:
            raise AppError(NOT_FOUND, "No such image.") from None


def _stored_png(name: str, missing: str) -> FileResponse:
    if not default_storage.exists(name):
        raise AppError(NOT_FOUND, missing)
    response = FileResponse(default_storage.open(name, "rb"), content_type="image/png")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-cache"  # a retry renders again under the same name
    return response


class ModelStatsView(ApiView):
    @extend_schema(
        summary="Per-model figures over the history (demo generations left out): share "
        "completed, speed, tokens, cost",
        responses={200: envelope("ModelStats", ModelStatsSerializer(many=True)), **ERRORS},
    )
    def get(self, request):
        visible = selectors.generation_list(Requester.of_request(request))
        return ok(stats.model_stats(stats.variants_of(visible)))


class HealthView(ApiView):
    # Load balancers and process managers ask without a login; it reveals no user data.
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Mode and dependencies", responses={200: envelope("Health", HealthSerializer())}
    )
    def get(self, request):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        async_to_sync(get_channel_layer().group_send)("health", {"type": "health.ping"})
        return ok(
            {
                "mode": "demo" if is_demo_mode() else "live",
                "database": "ok",
                "channel_layer": "ok",
                # The last `GET /v1/models` listing, fetched in the background (never here).
                "models": model_status.status.health(),
                # Server renders (contract §9): "ready", "idle" (starts on first use), "off",
                # or "unavailable: <why>" — generations still run and save without it.
                "renderer": _renderer_status(),
            }
        )


def _renderer_status() -> str:
    if not settings.CLONEGEN_RENDERS:
        return "off"
    return shared_browser().status()


class SchemaView(SpectacularAPIView):
    """The OpenAPI document (YAML, or JSON with ?format=json); its refusals are JSON envelopes.

    drf-spectacular serves it to anyone by default; it follows the API's login rule instead."""

    permission_classes = api_settings.DEFAULT_PERMISSION_CLASSES

    def finalize_response(self, request, response, *args, **kwargs):
        if response.status_code >= 400:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)
