"""What a client can ask for — generate, edit, retry, cancel, choose, delete — for the socket
and REST alike.

The edges hand over the client's JSON; this module validates it, calls the services and the
runner, and returns the stored generation. Nothing here knows whether a socket or HTTP asked.
"""

import logging
import uuid
from dataclasses import dataclass, replace

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction

from demo.mode import is_demo_mode
from generations import access, control, selectors, services, sources, thumbnails, url_capture
from generations.access import Requester
from generations.catalog import configured_variants
from generations.decoding import off_shared_thread
from generations.errors import CONFLICT, INVALID_FIELD, SHUTTING_DOWN, URL_FORBIDDEN, AppError
from generations.images import Screenshot, decode_screenshot
from generations.models import (
    RETRYABLE_GENERATION_STATUSES,
    Generation,
    GenerationStatus,
    Stack,
    VariantStatus,
)
from generations.process import RUNNER_ID
from generations.publisher import GroupPublisher
from generations.runner import runner
from generations.selectors import parse_generation_id
from generations.url_guard import validate_url

logger = logging.getLogger(__name__)

# The page's counter reads this same number (views.page_vocabulary).
MAX_INSTRUCTIONS_CHARS = 4000
# A cancel can still change these: a running generation stops its models; an interrupted one
# (its process died) has its unfinished variants ended `cancelled`. Any other status is final.
CANCELLABLE_STATUSES = (
    GenerationStatus.STARTED,
    GenerationStatus.RUNNING,
    GenerationStatus.INTERRUPTED,
)


@dataclass(frozen=True)
class GenerateRequest:
    """A validated `generate`: exactly one of `screenshot` (decoded), `url` (to capture) and
    `screenshot_of` (a generation whose stored screenshot to reuse) is set."""

    instructions: str
    stack: str
    screenshot: Screenshot | None = None
    url: str | None = None
    screenshot_of: uuid.UUID | None = None
    source_url: str = ""
    images: bool = False
    # Made from the screenshot before the transaction (a big one takes a while to scale, and on
    # SQLite the transaction holds the write lock).
    thumbnail: bytes | None = None


def parse_generate_request(payload: dict) -> GenerateRequest:
    """Validate a `generate` message or POST body; raise AppError with the contract's code.

    Nothing is fetched or read from storage here: a URL is only parsed (invalid_url)."""
    source = sources.source_field(payload)
    instructions = _instructions(payload.get("instructions", ""))
    stack = payload.get("stack", Stack.HTML_TAILWIND)
    if stack is None:
        stack = Stack.HTML_TAILWIND
    if not isinstance(stack, str) or stack not in Stack.values:
        raise AppError(INVALID_FIELD, f"`stack` must be one of {', '.join(Stack.values)}.")
    request = GenerateRequest(
        instructions=instructions, stack=stack, images=_images_flag(payload.get("images"))
    )
    if source == "url":
        url = validate_url(payload["url"]).url
        if not settings.CLONEGEN_URL_CAPTURE:
            raise AppError(URL_FORBIDDEN, "This server does not capture pages by URL.")
        return replace(request, url=url)
    if source == "screenshot_of":
        return replace(request, screenshot_of=parse_generation_id(payload["screenshot_of"]))
    screenshot = decode_screenshot(payload["image"], max_bytes=_max_image_bytes())
    return _with_screenshot(request, screenshot)


def _with_screenshot(request: GenerateRequest, screenshot: Screenshot, **fields) -> GenerateRequest:
    return replace(
        request, screenshot=screenshot, thumbnail=_thumbnail_or_none(screenshot), **fields
    )


def _instructions(raw: object) -> str:
    instructions = "" if raw is None else raw
    if not isinstance(instructions, str):
        raise AppError(INVALID_FIELD, "`instructions` must be text.")
    if len(instructions) > MAX_INSTRUCTIONS_CHARS:
        # Refused whole, never cut: a silently shortened request is not what the user asked.
        raise AppError(
            INVALID_FIELD,
            f"The instructions are {len(instructions)} characters long; the limit is"
            f" {MAX_INSTRUCTIONS_CHARS}. Shorten them and try again.",
        )
    return instructions


def _images_flag(raw: object) -> bool:
    if raw is None:
        return settings.CLONEGEN_IMAGES
    if not isinstance(raw, bool):
        raise AppError(INVALID_FIELD, "`images` must be true or false.")
    return raw


def _max_image_bytes() -> int:
    return settings.CLONEGEN_MAX_IMAGE_MB * 1024 * 1024


def create_generation(payload: dict, requester: Requester) -> Generation:
    """Validate the request and commit a new generation (status `started`); return it stored.

    Synchronous callers only: an upload or a re-run is stored right here, on the caller's
    thread; a URL's capture runs on an event loop meanwhile."""
    _refuse_while_draining()
    access.require_login(requester)
    request = parse_generate_request(payload)
    if request.url is None:
        return _store_generation(request, requester)
    return async_to_sync(generation_from_request)(request, requester)


async def new_generation(payload: dict, requester: Requester) -> Generation:
    """`create_generation` for async callers; a URL is captured without holding a thread."""
    return await generation_from_request(await parse_request(payload, requester), requester)


async def parse_request(payload: dict, requester: Requester) -> GenerateRequest:
    """The checks that need no database, then the parse (off the event loop: an image is
    decoded there)."""
    _refuse_while_draining()
    access.require_login(requester)
    # On the decoding pool: a large screenshot never holds up the thread every socket's
    # database calls share, and at most a few decode at once.
    return await off_shared_thread(parse_generate_request, payload)


async def generation_from_request(request: GenerateRequest, requester: Requester) -> Generation:
    """Capture the URL's page if the request names one, then commit the generation.

    The rate limit is checked before a capture, so a refused user never takes a capture slot,
    and again when the generation is stored."""
    if request.url is not None:
        await database_sync_to_async(access.check_rate_limit)(requester)
        capture = await url_capture.capture_url(request.url)
        screenshot = await off_shared_thread(
            sources.screenshot_from_capture, capture.png, max_bytes=_max_image_bytes()
        )
        request = await off_shared_thread(
            _with_screenshot, request, screenshot, source_url=request.url
        )
    return await database_sync_to_async(_store_generation)(request, requester)


def _store_generation(request: GenerateRequest, requester: Requester) -> Generation:
    if request.screenshot_of is not None:
        original = selectors.generation_get(request.screenshot_of, requester)
        request = _with_screenshot(
            request, sources.stored_screenshot(original), source_url=original.source_url
        )
    # One transaction: on SQLite (IMMEDIATE) concurrent requests queue here, so the rate
    # limit's count cannot be overtaken by a parallel insert.
    with transaction.atomic():
        access.check_rate_limit(requester)
        generation = services.generation_create(
            screenshot=request.screenshot,
            instructions=request.instructions,
            stack=request.stack,
            variants=configured_variants(),
            owner=requester.user,
            client_key=requester.client_key,
            demo=is_demo_mode(),
            images=request.images,
            thumbnail=request.thumbnail,
            source_url=request.source_url,
        )
    return selectors.generation_get(generation.id)


def create_edit(generation_id, payload: dict, requester: Requester) -> Generation:
    """Commit an edit (contract §8) of the parent's completed variant `payload["index"]`, with
    `payload["instructions"]`; it reuses the parent's screenshot and stack."""
    _refuse_while_draining()
    parent = selectors.generation_get(generation_id, requester)
    index = payload.get("index")
    indexes = [variant.index for variant in parent.variants.all()]
    if not isinstance(index, int) or isinstance(index, bool) or index not in indexes:
        raise AppError(INVALID_FIELD, f"`index` must be one of {indexes}.")
    instructions = _instructions(payload.get("instructions"))
    if not instructions.strip():
        raise AppError(INVALID_FIELD, "`instructions` must say what to change.")
    variant = next(v for v in parent.variants.all() if v.index == index)
    if variant.status != VariantStatus.COMPLETED:
        raise AppError(CONFLICT, f"Variant {index} is {variant.status}; only a completed one.")
    screenshot = sources.stored_screenshot(parent)
    with transaction.atomic():
        access.check_rate_limit(requester)
        generation = services.generation_create(
            screenshot=screenshot,
            instructions=instructions,
            stack=parent.stack,
            variants=configured_variants(),
            owner=requester.user,
            client_key=requester.client_key,
            demo=is_demo_mode(),
            images=parent.images,
            thumbnail=_thumbnail_or_none(screenshot),
            parent=parent,
            parent_index=index,
            source_url=parent.source_url,
        )
    return selectors.generation_get(generation.id)


def _thumbnail_or_none(screenshot: Screenshot) -> bytes | None:
    try:
        return thumbnails.make_thumbnail(screenshot.content)
    except thumbnails.ThumbnailError:
        # Unexpected for a screenshot just decoded; a thumbnail is only derived data, and the
        # first request for it tries again.
        logger.exception("No thumbnail for a new generation")
        return None


def delete_generation(generation_id, requester: Requester) -> None:
    """Delete a generation the requester may see, with its files; `conflict` while it runs or
    while later versions were made from it (docs/decisions.md, "Lineage")."""
    generation = selectors.generation_get(generation_id, requester)
    services.generation_delete(generation_id=generation.id)


def choose_variant(generation_id, index: object, requester: Requester) -> Generation:
    """Make a completed variant the generation's chosen result."""
    generation = selectors.generation_get(generation_id, requester)
    if not isinstance(index, int) or isinstance(index, bool):
        raise AppError(INVALID_FIELD, "`index` must be an integer.")
    services.generation_choose(generation=generation, index=index)
    return selectors.generation_get(generation.id)


def _retry(generation_id, requester: Requester) -> Generation:
    _refuse_while_draining()
    generation = selectors.generation_get(generation_id, requester)
    if generation.status in RETRYABLE_GENERATION_STATUSES and generation.demo != is_demo_mode():
        # A generation is the stand-in's work or the models', never a mix of both.
        made, now = ("demo", "live") if generation.demo else ("live", "demo")
        raise AppError(
            CONFLICT,
            f"This generation was made in {made} mode and the server runs in {now} mode now; "
            "start a new generation instead.",
        )
    services.generation_retry(generation=generation, runner_id=RUNNER_ID)
    return selectors.generation_get(generation.id)


def _cancellable(generation_id, requester: Requester) -> Generation:
    generation = selectors.generation_get(generation_id, requester)
    if generation.status not in CANCELLABLE_STATUSES:
        raise AppError(CONFLICT, f"The generation is already {generation.status}.")
    return generation


def _refuse_while_draining() -> None:
    if not runner.accepting:
        raise AppError(SHUTTING_DOWN)


async def start_generation(generation: Generation) -> None:
    """Hand a committed generation to the runner; returns at once.

    Async because the runner's tasks must live on the server's event loop, wherever it is called.
    """
    runner.start(generation.id)


async def retry_generation(generation_id, requester: Requester) -> Generation:
    """Re-run the unfinished variants under the same id; the answer is already `running`."""
    generation = await database_sync_to_async(_retry)(generation_id, requester)
    runner.start(generation.id)
    return generation


async def cancel_generation(generation_id, requester: Requester) -> Generation:
    """Stop a generation's model calls, keeping the text so far; followers get
    `generation.finished` with status `cancelled`."""
    generation = await database_sync_to_async(_cancellable)(generation_id, requester)
    if runner.cancel(generation.id):
        return generation  # the run ends its variants and announces the end itself
    if is_running_elsewhere(generation):
        await control.ask_to_cancel(generation.runner_id, generation.id)
        return generation
    generation = await database_sync_to_async(services.generation_cancel_idle)(
        generation_id=generation.id
    )
    await GroupPublisher(generation.id).publish("generation.finished", status=generation.status)
    return generation


def is_running_elsewhere(generation: Generation) -> bool:
    """True if another live process runs the generation: only that process can stop it."""
    return selectors.running_elsewhere(
        generation, runner_id=RUNNER_ID, heartbeat_seconds=settings.CLONEGEN_HEARTBEAT_SECONDS
    )
