"""The REST endpoints of contract §7: thin views over `actions` and `selectors`."""

import asyncio
import contextvars

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from generations import actions, selectors
from generations.api.parsers import LimitedJSONParser
from generations.api.serializers import (
    ERROR_ENVELOPE,
    GENERATION_PAGE,
    ChooseRequestSerializer,
    GenerateRequestSerializer,
    GenerationSerializer,
    HealthSerializer,
    envelope,
)
from generations.errors import NOT_FOUND, AppError
from generations.model_client import is_demo_mode

GENERATION_ENVELOPE = envelope("Generation", GenerationSerializer())
ID_PARAMETER = OpenApiParameter(
    "generation_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The generation id."
)
INDEX_PARAMETER = OpenApiParameter("index", OpenApiTypes.INT, OpenApiParameter.PATH)
ERRORS = {code: ERROR_ENVELOPE for code in (400, 404, 405, 409, 413, 429, 500)}


def ok(data, status: int = 200) -> Response:
    return Response({"success": True, "data": data}, status=status)


def generation_data(generation) -> dict:
    return GenerationSerializer(generation).data


def run_action(action, *args):
    """Run an async action on the server's event loop, outside this request's context.

    `async_to_sync` alone would run it in a copy of the request's context, and every task the
    runner spawns would inherit the request's thread executors, which die with the request:
    the generation's later database calls would then fail ("CurrentThreadExecutor already
    quit", "ThreadSensitiveContext has exited").
    """
    return async_to_sync(_in_fresh_context)(action, *args)


async def _in_fresh_context(action, *args):
    loop = asyncio.get_running_loop()
    return await contextvars.Context().run(loop.create_task, action(*args))


class HistoryPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    # Each generation carries four variants' text: a bound keeps one page cheap to build.
    max_page_size = 100

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


class GenerationListView(ApiView):
    @extend_schema(
        summary="The history, newest first",
        responses={200: envelope("GenerationList", GENERATION_PAGE), **ERRORS},
    )
    def get(self, request):
        paginator = HistoryPagination()
        page = paginator.paginate_queryset(selectors.generation_list(), request, view=self)
        return paginator.get_paginated_response(GenerationSerializer(page, many=True).data)

    @extend_schema(
        summary="Start a generation (runs exactly as over the socket)",
        request=GenerateRequestSerializer,
        responses={202: GENERATION_ENVELOPE, **ERRORS},
    )
    def post(self, request):
        generation = actions.create_generation(request.data, owner=_owner(request))
        run_action(actions.start_generation, generation)
        return ok(generation_data(generation), status=202)


class GenerationDetailView(ApiView):
    @extend_schema(
        summary="One generation with all its variants",
        parameters=[ID_PARAMETER],
        responses={200: GENERATION_ENVELOPE, **ERRORS},
    )
    def get(self, request, generation_id):
        return ok(generation_data(selectors.generation_get(generation_id)))


class GenerationRetryView(ApiView):
    @extend_schema(
        summary="Re-run the variants that did not complete, under the same id",
        request=None,
        parameters=[ID_PARAMETER],
        responses={202: GENERATION_ENVELOPE, **ERRORS},
    )
    def post(self, request, generation_id):
        generation = run_action(actions.retry_generation, generation_id)
        return ok(generation_data(generation), status=202)


class GenerationCancelView(ApiView):
    @extend_schema(
        summary="Stop the model calls; the text so far is kept",
        request=None,
        parameters=[ID_PARAMETER],
        responses={202: GENERATION_ENVELOPE, **ERRORS},
    )
    def post(self, request, generation_id):
        generation = run_action(actions.cancel_generation, generation_id)
        return ok(generation_data(generation), status=202)


class GenerationChooseView(ApiView):
    @extend_schema(
        summary="Make a completed variant the chosen result",
        request=ChooseRequestSerializer,
        parameters=[ID_PARAMETER],
        responses={200: GENERATION_ENVELOPE, **ERRORS},
    )
    def post(self, request, generation_id):
        generation = actions.choose_variant(generation_id, request.data.get("index"))
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
        generation = selectors.generation_get(generation_id)
        variant = next((v for v in generation.variants.all() if v.index == int(index)), None)
        html = variant and (variant.html if variant.html is not None else variant.raw_html)
        if html is None:
            raise AppError(NOT_FOUND, "That variant has no HTML (yet).")
        response = HttpResponse(html, content_type="text/html; charset=utf-8")
        # Untrusted markup: an opaque origin, scripts allowed, no access to the app's cookies.
        response["Content-Security-Policy"] = "sandbox allow-scripts"
        response["X-Content-Type-Options"] = "nosniff"
        return response


class HealthView(ApiView):
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
            }
        )


def _owner(request):
    return request.user if request.user.is_authenticated else None
