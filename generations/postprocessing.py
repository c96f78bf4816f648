"""What happens to a variant after its result is saved and sent (contract §9, §11): images
generated for its placeholders, when the generation asked for them, then a server render of the
page scored against the screenshot.

None of it touches the variant's status, text or raw HTML, and none of it delays the save or
the `variant.completed` frame: the runner starts it once both are done, as a detached task, and
followers learn of it through `variant.images` and `variant.scored`. A step that fails records
why and leaves the result as it was.
"""

import asyncio
import base64
import logging
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from generations import evaluation, placeholder_images, renders, services
from generations.browser import BrowserUnavailable
from generations.database import on_sync_thread
from generations.publisher import GroupPublisher
from generations.tasks import tasks

logger = logging.getLogger(__name__)

# How long one render may take before it counts as failed.
RENDER_TIME_LIMIT_SECONDS = 30.0


@dataclass
class PostProcessor:
    """The post-processing of one run's variants (one per run: generated images are shared by
    the variants of a generation)."""

    generation_id: uuid.UUID
    screenshot: bytes
    publisher: GroupPublisher
    images: placeholder_images.ImageGenerator | None = None

    def start(self, index: int, html: str) -> None:
        """Post-process variant `index`, whose shown HTML is `html`, detached from the caller."""
        tasks.spawn(self.run(index, html), name=f"post-processing {self.generation_id}#{index}")

    async def run(self, index: int, html: str) -> None:
        if self.images is not None:
            html = await self._fill_images(index, html)
        if settings.CLONEGEN_RENDERS:
            await self._render_and_score(index, html)

    async def _fill_images(self, index: int, html: str) -> str:
        try:
            filled = await self.images.process(html)
        except Exception:
            logger.exception(
                "Images for %s#%s failed; placeholders kept", self.generation_id, index
            )
            return html
        await on_sync_thread(
            services.variant_save_images,
            generation_id=self.generation_id,
            index=index,
            html=filled.html,
            images=filled.images,
            cost_usd=filled.cost_usd,
        )
        await self.publisher.publish(
            "variant.images", index=index, html=filled.html, images=filled.images
        )
        return filled.html

    async def _render_and_score(self, index: int, html: str) -> None:
        try:
            # Off the event loop: it reads every stored image of the page.
            page = await asyncio.to_thread(_with_images_inlined, html, self.generation_id)
            evaluated = await evaluation.aevaluate(
                page,
                self.screenshot,
                time_limit=RENDER_TIME_LIMIT_SECONDS,
            )
        except Exception as error:
            reason = _failure_reason(error)
            if _unexpected(error):
                logger.exception("Rendering %s#%s failed", self.generation_id, index)
            await on_sync_thread(
                services.variant_save_render,
                generation_id=self.generation_id,
                index=index,
                score=None,
                error=reason,
            )
            await self.publisher.publish(
                "variant.scored",
                index=index,
                score=None,
                render_status="failed",
                render_error=reason,
            )
            return
        await on_sync_thread(
            renders.store_render,
            generation_id=self.generation_id,
            index=index,
            render=evaluated.render,
        )
        await on_sync_thread(
            services.variant_save_render,
            generation_id=self.generation_id,
            index=index,
            score=evaluated.score,
            error="",
        )
        await self.publisher.publish(
            "variant.scored", index=index, score=evaluated.score, render_status="done"
        )


def for_run(
    generation_id: uuid.UUID, *, screenshot: bytes, publisher: GroupPublisher, images: bool
) -> PostProcessor:
    """The post-processor of one run of a generation."""
    return PostProcessor(
        generation_id=generation_id,
        screenshot=screenshot,
        publisher=publisher,
        images=placeholder_images.generator_for(generation_id) if images else None,
    )


def _with_images_inlined(html: str, generation_id) -> str:
    """The page with its stored images as data URLs: the render's browser fetches nothing but
    Tailwind, and the render must show the pictures the user will see."""
    prefix = placeholder_images.image_url(generation_id, "")
    root = Path(settings.MEDIA_ROOT)

    def inline(match: re.Match) -> str:
        path = placeholder_images.stored_image(root, generation_id, match.group(1))
        if path is None:
            return match.group(0)
        return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()

    if prefix not in html:
        return html
    # The stored images' own naming rule, without its anchors.
    name = placeholder_images.IMAGE_NAME.pattern.strip("^$")
    return re.sub(re.escape(prefix) + f"({name})", inline, html)


def _failure_reason(error: Exception) -> str:
    if isinstance(error, TimeoutError):
        return "The page did not finish rendering in time."
    if isinstance(error, BrowserUnavailable):
        return f"No browser to render with: {error}"
    return f"The render failed ({type(error).__name__})."


def _unexpected(error: Exception) -> bool:
    return not isinstance(error, TimeoutError | BrowserUnavailable)
