"""What a client can ask for — generate, retry, cancel, choose, delete — for the socket and REST
alike.

The edges hand over the client's JSON; this module validates it, calls the services and the
runner, and returns the stored generation. Nothing here knows whether a socket or HTTP asked.
"""

import logging
from dataclasses import dataclass

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction

from demo.mode import is_demo_mode
from generations import access, control, selectors, services, thumbnails
from generations.access import Requester
from generations.catalog import configured_variants
from generations.decoding import off_shared_thread
from generations.errors import CONFLICT, INVALID_FIELD, SHUTTING_DOWN, AppError
from generations.images import Screenshot, decode_screenshot
from generations.models import (
    RETRYABLE_GENERATION_STATUSES,
    Generation,
    GenerationStatus,
    Stack,
)
from generations.process import RUNNER_ID
from generations.publisher import GroupPublisher
from generations.runner import runner

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
    screenshot: Screenshot
    instructions: str
    stack: str
    images: bool = False


def parse_generate_request(payload: dict) -> GenerateRequest:
    """Validate a `generate` message or POST body; raise AppError with the contract's code."""
    if "image" not in payload:
        raise AppError(INVALID_FIELD, "`image` is required: a data URL of a PNG, JPEG or WebP.")
    instructions = payload.get("instructions", "")
    if instructions is None:
        instructions = ""
    if not isinstance(instructions, str):
        raise AppError(INVALID_FIELD, "`instructions` must be text.")
    if len(instructions) > MAX_INSTRUCTIONS_CHARS:
        # Refused whole, never cut: a silently shortened request is not what the user asked.
        raise AppError(
            INVALID_FIELD,
            f"The instructions are {len(instructions)} characters long; the limit is"
            f" {MAX_INSTRUCTIONS_CHARS}. Shorten them and try again.",
        )
    stack = payload.get("stack", Stack.HTML_TAILWIND)
    if stack is None:
        stack = Stack.HTML_TAILWIND
    if not isinstance(stack, str) or stack not in Stack.values:
        raise AppError(INVALID_FIELD, f"`stack` must be one of {', '.join(Stack.values)}.")
    images = payload.get("images")
    if images is None:
        images = settings.CLONEGEN_IMAGES
    if not isinstance(images, bool):
        raise AppError(INVALID_FIELD, "`images` must be true or false.")
    screenshot = decode_screenshot(
        payload["image"], max_bytes=settings.CLONEGEN_MAX_IMAGE_MB * 1024 * 1024
    )
    return GenerateRequest(
        screenshot=screenshot, instructions=instructions, stack=stack, images=images
    )


def create_generation(payload: dict, requester: Requester) -> Generation:
    """Validate the request and commit a new generation (status `started`); return it stored."""
    _refuse_while_draining()
    access.require_login(requester)
    return _store_generation(*_parsed_with_thumbnail(payload), requester)


async def acreate_generation(payload: dict, requester: Requester) -> Generation:
    """`create_generation` for async callers: the screenshot is decoded on its own pool, so a
    large one never holds up the thread every socket's database calls share."""
    _refuse_while_draining()
    access.require_login(requester)
    request, thumbnail = await off_shared_thread(_parsed_with_thumbnail, payload)
    return await database_sync_to_async(_store_generation)(request, thumbnail, requester)


def _parsed_with_thumbnail(payload: dict) -> tuple[GenerateRequest, bytes | None]:
    request = parse_generate_request(payload)
    # Before the transaction: a big screenshot takes a while to scale, and on SQLite the
    # transaction holds the database's write lock.
    return request, _thumbnail_or_none(request.screenshot)


def _store_generation(
    request: GenerateRequest, thumbnail: bytes | None, requester: Requester
) -> Generation:
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
            thumbnail=thumbnail,
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
    """Delete a generation the requester may see, with its files; `conflict` while it runs."""
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
