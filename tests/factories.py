"""Stored generations for tests that need one without running any model."""

from datetime import datetime

from django.utils import timezone

from generations import services
from generations.catalog import configured_variants
from generations.images import decode_screenshot
from generations.models import Generation, Variant
from tests.support import DEFAULT_MODELS, data_url, png_bytes


def page_html(index: int) -> str:
    return f"<!DOCTYPE html><html><body><h1>Variant {index}</h1></body></html>"


def make_generation(
    statuses: tuple[str, ...] = ("completed",) * 4,
    status: str | None = None,
    created_at: datetime | None = None,
    **fields,
) -> Generation:
    """A stored generation whose variants have `statuses`, without running any model."""
    screenshot = decode_screenshot(data_url(png_bytes()), max_bytes=10 * 1024 * 1024)
    generation = services.generation_create(
        screenshot=screenshot,
        instructions="",
        stack="html_tailwind",
        variants=configured_variants(),
    )
    for index, variant_status in enumerate(statuses):
        variant_fields = {"status": variant_status, "text": page_html(index)}
        if variant_status == "completed":
            html = page_html(index)
            variant_fields.update(
                model=DEFAULT_MODELS[index], raw_html=html, html=html, finish_reason="stop"
            )
        Variant.objects.filter(generation=generation, index=index).update(**variant_fields)
    Generation.objects.filter(id=generation.id).update(
        status=status or services.final_status(list(statuses)),
        created_at=created_at or timezone.now(),
        **fields,
    )
    return Generation.objects.get(id=generation.id)
