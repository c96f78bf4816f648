"""The checks an imported record passes before anything is written: the limits the API puts on
input, the model's own field rules, and a screenshot that is what its record says.

An import is as untrusted as any request: a crafted record could otherwise name a file outside
the media folder, serve script as a "screenshot", or carry a stack no run can start.
"""

import re

from django.conf import settings
from django.core.exceptions import ValidationError

from generations.actions import MAX_INSTRUCTIONS_CHARS
from generations.errors import AppError
from generations.images import ACCEPTED_FORMATS, EXTENSIONS, MAX_PIXELS, decode_image
from generations.models import Generation, Variant, VariantStatus

# Checked apart from full_clean: `owner` is resolved by username, `screenshot` by its own rule.
GENERATION_UNCHECKED = ("owner", "screenshot", "thumbnail", "parent", "root")
# A model answer is cut at CLONEGEN_MAX_OUTPUT_CHARS (contract §13); post-processing adds at
# most a doctype and a newline to it.
HTML_SLACK_CHARS = 32


def check_record(generation: Generation, variants: list[Variant], screenshot: bytes | None) -> None:
    """Raise ValueError, saying what is wrong, unless the record could have been stored by
    clonegen itself."""
    _full_clean(generation, exclude=GENERATION_UNCHECKED)
    if len(generation.instructions) > MAX_INSTRUCTIONS_CHARS:
        raise ValueError(f"`instructions` is over {MAX_INSTRUCTIONS_CHARS} characters")
    _check_screenshot_fields(generation)
    if screenshot is not None:
        _check_screenshot_bytes(generation, screenshot)
    _check_variants(variants)
    _check_chosen_index(generation, variants)


def _full_clean(instance, exclude: tuple[str, ...]) -> None:
    """The model's field rules: choices, lengths, non-negative numbers, required values."""
    try:
        # Uniqueness is the import's own business: an id already stored is skipped, not refused.
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        problems = "; ".join(
            f"`{name}`: {' '.join(messages)}" for name, messages in error.message_dict.items()
        )
        raise ValueError(f"{type(instance).__name__} {problems}") from None


def _check_screenshot_fields(generation: Generation) -> None:
    mime_type = generation.screenshot_type
    if mime_type not in ACCEPTED_FORMATS.values():
        raise ValueError(f"`screenshot_type` must be one of {', '.join(EXTENSIONS)}")
    # Only the names clonegen gives (storage may add a 7-character suffix), so a record can
    # never point at a file outside the screenshot folder or of another generation.
    expected = re.compile(
        rf"screenshots/{generation.id}(_[A-Za-z0-9]{{7}})?\.{EXTENSIONS[mime_type]}"
    )
    if not expected.fullmatch(generation.screenshot.name):
        raise ValueError(
            f"`screenshot` must be named screenshots/{generation.id}.{EXTENSIONS[mime_type]}"
        )
    if generation.screenshot_width * generation.screenshot_height > MAX_PIXELS:
        raise ValueError(f"the screenshot has over {MAX_PIXELS} pixels")


def _check_screenshot_bytes(generation: Generation, content: bytes) -> None:
    max_bytes = settings.CLONEGEN_MAX_IMAGE_MB * 1024 * 1024
    if len(content) > max_bytes:
        raise ValueError(f"the screenshot is over {settings.CLONEGEN_MAX_IMAGE_MB} MiB")
    try:
        decoded = decode_image(content)
    except AppError as error:
        raise ValueError(f"`screenshot_base64`: {error.message}") from None
    described = (
        generation.screenshot_type,
        generation.screenshot_bytes,
        generation.screenshot_width,
        generation.screenshot_height,
    )
    actual = (decoded.mime_type, len(decoded.content), decoded.width, decoded.height)
    if described != actual:
        raise ValueError(
            "the screenshot's type, size or dimensions differ from its record: "
            f"{actual[0]}, {actual[1]} bytes, {actual[2]}x{actual[3]}"
        )


def _check_variants(variants: list[Variant]) -> None:
    max_text = settings.CLONEGEN_MAX_OUTPUT_CHARS
    indexes = [variant.index for variant in variants]
    if len(set(indexes)) != len(indexes):
        raise ValueError("two variants have the same `index`")
    for variant in variants:
        _full_clean(variant, exclude=("generation",))
        limits = {
            "text": max_text,
            "raw_html": max_text,
            "html": max_text + HTML_SLACK_CHARS,
        }
        for name, limit in limits.items():
            value = getattr(variant, name)
            if value is not None and len(value) > limit:
                raise ValueError(f"variant {variant.index}: `{name}` is over {limit} characters")


def _check_chosen_index(generation: Generation, variants: list[Variant]) -> None:
    if generation.chosen_index is None:
        return
    chosen = next((v for v in variants if v.index == generation.chosen_index), None)
    if chosen is None or chosen.status != VariantStatus.COMPLETED:
        raise ValueError("`chosen_index` must name a completed variant of the record")
