"""The web pages: a new generation, one generation by its id, the history, stored screenshots
and their thumbnails.

The pages only render what a browser needs to start; everything live reaches the page through
the contract (the socket at /ws/generations/ and the REST API under /api/).
"""

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe

from demo.mode import is_demo_mode
from demo.pages import DEMO_NOTICE
from generations import lineage, selectors, services, thumbnails
from generations.access import Requester
from generations.actions import MAX_INSTRUCTIONS_CHARS
from generations.errors import AppError
from generations.image_models import image_model
from generations.images import MAX_PIXELS, MIN_SIDE, sniffed_type
from generations.models import (
    ACTIVE_GENERATION_STATUSES,
    ACTIVE_VARIANT_STATUSES,
    ENDED_VARIANT_STATUSES,
    RETRYABLE_GENERATION_STATUSES,
    GenerationStatus,
    Stack,
    VariantErrorCode,
    VariantStatus,
)

HISTORY_PAGE_SIZE = 24
# A stored screenshot never changes under its id, nor does its thumbnail.
SCREENSHOT_CACHE_CONTROL = "private, max-age=31536000, immutable"
# An image needs nothing: were it ever opened as a page, nothing in it runs.
IMAGE_CSP = "default-src 'none'; sandbox"


# A variant's status as its panel badge words it, where that differs from the status name.
VARIANT_STATUS_LABELS = {VariantStatus.PENDING: "waiting", VariantStatus.COMPLETED: "done"}


def page_vocabulary() -> dict:
    """The server's names and sets the page's scripts need (static/generations/vocabulary.js
    reads them), so the browser never keeps a copy that could drift from the models."""
    return {
        "generation_statuses": GenerationStatus.values,
        "active_generation_statuses": list(ACTIVE_GENERATION_STATUSES),
        "retryable_generation_statuses": list(RETRYABLE_GENERATION_STATUSES),
        "variant_statuses": VariantStatus.values,
        "active_variant_statuses": list(ACTIVE_VARIANT_STATUSES),
        "ended_variant_statuses": list(ENDED_VARIANT_STATUSES),
        "variant_status_labels": {
            status: VARIANT_STATUS_LABELS.get(status, status) for status in VariantStatus.values
        },
        "error_hints": dict(VariantErrorCode.choices),
        "stack_labels": dict(Stack.choices),
        # Whether this server renders and scores variants (contract §9): without, none is pending.
        "renders": settings.CLONEGEN_RENDERS,
        # The "Generate images" switch: its default and what it adds (contract §11).
        "images_default": settings.CLONEGEN_IMAGES,
        "image_estimate_usd": _image_estimate_usd(),
        "images_per_variant": settings.CLONEGEN_IMAGES_PER_VARIANT,
        # The server's input limits, so the page refuses what the server would before uploading.
        "limits": {
            "max_instructions_chars": MAX_INSTRUCTIONS_CHARS,
            "min_image_side": MIN_SIDE,
            "max_image_pixels": MAX_PIXELS,
        },
    }


def _image_estimate_usd() -> float | None:
    estimate = image_model(settings.CLONEGEN_IMAGE_MODEL).estimated_cost_usd(1024, 1024)
    return None if estimate is None else float(estimate)


def _base_context() -> dict:
    return {
        "mode": "demo" if is_demo_mode() else "live",
        "demo_notice": DEMO_NOTICE,
        "max_image_mb": settings.CLONEGEN_MAX_IMAGE_MB,
        "vocabulary": page_vocabulary(),
    }


def _get_generation(request, generation_id):
    """The generation, if this requester may see it; 404 otherwise (ids are never confirmed)."""
    try:
        return selectors.generation_get(generation_id, Requester.of_request(request))
    except AppError:
        raise Http404("No such generation.") from None


@require_safe
def index(request):
    """A new generation: choose a screenshot, press Generate."""
    return render(request, "generations/index.html", {**_base_context(), "page": "new"})


@require_safe
def generation_page(request, generation_id):
    """One generation: the page subscribes over the socket and shows it as it is."""
    try:
        generation = _get_generation(request, generation_id)
    except Http404:
        return render(
            request,
            "generations/not_found.html",
            {**_base_context(), "page": "missing"},
            status=404,
        )
    return render(
        request,
        "generations/index.html",
        {
            **_base_context(),
            "page": "generation",
            "generation": generation,
            "generation_data": _page_data(generation),
            "lineage": lineage.page_data(generation, Requester.of_request(request)),
        },
    )


@require_safe
def history(request):
    """Past generations, newest first."""
    requester = Requester.of_request(request)
    # Grouped by lineage: each root once, its later versions listed under it.
    paginator = Paginator(
        lineage.roots(selectors.generation_summaries(requester)), HISTORY_PAGE_SIZE
    )
    page = paginator.get_page(request.GET.get("page"))
    versions = lineage.later_versions([g.id for g in page.object_list], requester)
    return render(
        request,
        "generations/history.html",
        {
            **_base_context(),
            "page": "history",
            "page_obj": page,
            "rows": [
                {**_history_row(generation), "versions": versions.get(str(generation.id), [])}
                for generation in page.object_list
            ],
        },
    )


@require_safe
def model_stats(request):
    """The model leaderboard: its script draws GET /api/models/stats."""
    return render(request, "generations/stats.html", {**_base_context(), "page": "stats"})


@require_safe
def screenshot(request, generation_id):
    """The stored screenshot of a generation, as it was uploaded."""
    generation = _get_generation(request, generation_id)
    if not generation.screenshot:
        raise Http404("This generation has no stored screenshot.")
    try:
        with generation.screenshot.open("rb") as stored:
            content = stored.read()
    except FileNotFoundError:
        raise Http404("The stored screenshot is missing.") from None
    # The type the bytes really have, never the stored label: an imported record once said
    # text/html. The sandbox keeps even a mislabelled file from running on this origin.
    mime_type = sniffed_type(content)
    if mime_type is None:
        raise Http404("The stored screenshot is not a PNG, JPEG or WebP image.")
    response = HttpResponse(content, content_type=mime_type)
    response["Cache-Control"] = SCREENSHOT_CACHE_CONTROL
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    return response


@require_safe
def thumbnail(request, generation_id):
    """A small image of the screenshot's top, for lists. Made here, once, for a generation
    that has none yet (older than thumbnails, or imported)."""
    generation = _get_generation(request, generation_id)
    content = _stored_thumbnail(generation)
    if content is None:
        content = _new_thumbnail(generation)
    response = HttpResponse(content, content_type=thumbnails.THUMBNAIL_TYPE)
    response["Cache-Control"] = SCREENSHOT_CACHE_CONTROL
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = IMAGE_CSP
    return response


def _stored_thumbnail(generation) -> bytes | None:
    if not generation.thumbnail:
        return None
    try:
        with generation.thumbnail.open("rb") as stored:
            return stored.read()
    except FileNotFoundError:
        return None  # lost: made again


def _new_thumbnail(generation) -> bytes:
    try:
        return services.generation_make_thumbnail(generation=generation)
    except thumbnails.ThumbnailError:
        raise Http404("This generation has no readable screenshot.") from None


# ---------------------------------------------------------------------------------- helpers


def _elapsed_ms(since, now) -> int | None:
    if since is None:
        return None
    return max(0, int((now - since).total_seconds() * 1000))


def _page_data(generation) -> dict:
    """What the generation page needs before its socket answers: models, timers, the choice."""
    now = timezone.now()
    run_started = generation.run_started_at or generation.created_at
    return {
        "id": str(generation.id),
        "status": generation.status,
        "stack": generation.stack,
        "duration_ms": generation.duration_ms,
        # Only a user's choice: nothing shows as chosen before one (contract §13).
        "chosen_index": generation.chosen_index,
        "demo": generation.demo,
        "images": generation.images,  # asked for generated images: the page waits for them
        "screenshot": {
            "url": reverse("generation-screenshot", args=[generation.id]),
            "type": generation.screenshot_type,
            "bytes": generation.screenshot_bytes,
            "width": generation.screenshot_width,
            "height": generation.screenshot_height,
        },
        "variants": [
            {
                "index": v.index,
                "requested_model": v.requested_model,
                "model": v.model or None,
                "status": v.status,
                "duration_ms": v.duration_ms,
                "prompt_tokens": v.prompt_tokens,
                "completion_tokens": v.completion_tokens,
                "finish_reason": v.finish_reason or None,
                # Time since the variant (or its run) started, so the page's timers need no
                # agreement between the server's clock and the browser's.
                "elapsed_ms": (
                    None
                    if v.status in ENDED_VARIANT_STATUSES
                    else _elapsed_ms(v.started_at or run_started, now)
                ),
            }
            for v in generation.variants.all()
        ],
    }


def format_duration(duration_ms: int | None) -> str:
    if duration_ms is None:
        return ""
    seconds = duration_ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds:02d} s"


def _history_row(generation) -> dict:
    return {
        "generation": generation,
        "id": str(generation.id),
        "active": generation.status in ACTIVE_GENERATION_STATUSES,
        "stack_label": Stack(generation.stack).label if generation.stack in Stack.values else "",
        "duration": format_duration(generation.duration_ms),
        "variants": [
            {
                "index": v.index,
                "model": v.model or v.requested_model,
                "requested_model": v.requested_model,
                "fallback": bool(v.model) and v.model != v.requested_model,
                "status": v.status,
                "chosen": v.index == generation.chosen_index,
            }
            for v in generation.variants.all()
        ],
    }
