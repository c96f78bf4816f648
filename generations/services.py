"""Every write clonegen makes: plain functions, keyword-only, each one short statement or one
transaction, so a result is durable the moment the function returns.

They are synchronous on purpose (Django 5.2 has no async transactions); async callers go through
`database_sync_to_async`. One module over 350 lines on purpose: every write in one place.
"""

from datetime import datetime
from decimal import Decimal
from functools import partial

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Case, DecimalField, Exists, F, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from generations import files, thumbnails
from generations.catalog import VariantSpec, cost_usd
from generations.errors import CONFLICT, INVALID_FIELD, NOT_FOUND, NOTHING_TO_RETRY, AppError
from generations.images import Screenshot
from generations.models import (
    ACTIVE_GENERATION_STATUSES,
    ENDED_VARIANT_STATUSES,
    SETTLED_VARIANT_STATUSES,
    Generation,
    GenerationKind,
    GenerationStatus,
    RenderStatus,
    Variant,
    VariantErrorCode,
    VariantStatus,
)
from generations.prompts import EDIT_PROMPT_VERSION, PROMPT_VERSION
from generations.redaction import redact


def generation_create(
    *,
    screenshot: Screenshot,
    instructions: str,
    stack: str,
    variants: tuple[VariantSpec, ...],
    owner=None,
    client_key: str = "",
    demo: bool = False,
    thumbnail: bytes | None = None,
    images: bool = False,
    parent: Generation | None = None,
    parent_index: int | None = None,
    source_url: str = "",
) -> Generation:
    """Store the screenshot and its thumbnail (`thumbnails.make_thumbnail`; None leaves it to
    the first request); commit the generation (`started`) with its pending variants.
    `demo`: made in demo mode, where the local stand-in answers. With `parent`, it is an edit
    of that generation's variant `parent_index`, in its lineage.
    """
    generation = Generation(
        owner=owner,
        client_key=client_key,
        demo=demo,
        images=images,
        stack=stack,
        instructions=instructions,
        prompt_version=EDIT_PROMPT_VERSION if parent else PROMPT_VERSION,
        kind=GenerationKind.EDIT if parent else GenerationKind.CLONE,
        parent=parent,
        parent_index=parent_index,
        source_url=source_url,
        screenshot_type=screenshot.mime_type,
        screenshot_bytes=len(screenshot.content),
        screenshot_width=screenshot.width,
        screenshot_height=screenshot.height,
        run_started_at=timezone.now(),  # a run's duration counts from creation or retry
    )
    generation.root_id = parent.lineage_root_id if parent else generation.id
    generation.screenshot.save(
        f"screenshot.{screenshot.extension}", ContentFile(screenshot.content), save=False
    )
    try:
        if thumbnail is not None:
            generation.thumbnail.save(
                f"thumbnail.{thumbnails.THUMBNAIL_EXTENSION}", ContentFile(thumbnail), save=False
            )
        with transaction.atomic():
            generation.save(force_insert=True)
            Variant.objects.bulk_create(
                Variant(
                    generation=generation,
                    index=spec.index,
                    requested_model=spec.requested_model,
                    model_chain="|".join(spec.chain),
                )
                for spec in variants
            )
    except Exception:
        # No orphan files for a record never committed.
        files.remove_files([generation.screenshot.name, generation.thumbnail.name])
        raise
    return generation


def generation_make_thumbnail(*, generation: Generation) -> bytes:
    """Make and store the thumbnail of a generation that has none (or lost its file); return
    it. Raises thumbnails.ThumbnailError when its screenshot cannot be read."""
    try:
        with generation.screenshot.open("rb") as stored:
            screenshot = stored.read()
    except (FileNotFoundError, ValueError) as error:  # ValueError: no file name at all
        raise thumbnails.ThumbnailError("the screenshot file is missing") from error
    content = thumbnails.make_thumbnail(screenshot)
    generation_store_thumbnail(generation=generation, content=content)
    return content


def generation_store_thumbnail(*, generation: Generation, content: bytes) -> None:
    """Store a thumbnail made after the fact (a generation older than thumbnails, an import).

    It replaces what `generation` holds (nothing, or a name whose file was lost). Two
    requests may make it at once: the first stored wins and the other's file goes; a
    generation deleted meanwhile keeps no file either.
    """
    field = generation.thumbnail
    seen = field.name or ""
    field.save(f"thumbnail.{thumbnails.THUMBNAIL_EXTENSION}", ContentFile(content), save=False)
    stored = Generation.objects.filter(id=generation.id, thumbnail=seen).update(
        thumbnail=field.name
    )
    if not stored:
        files.remove_files([field.name])


def generation_delete(*, generation_id) -> None:
    """Delete a generation that is not running, its variants and (once that has committed)
    every file it owns. A running one is refused with `conflict`: cancel it first."""
    with transaction.atomic():
        generation = Generation.objects.select_for_update().filter(id=generation_id).first()
        if generation is None:
            raise AppError(NOT_FOUND)
        if generation.status in ACTIVE_GENERATION_STATUSES:
            raise AppError(CONFLICT, "The generation is still running; cancel it first.")
        ensure_deletable(generation=generation)
        names = files.generation_files(generation)
        generation.delete()
        # Only once the rows are gone for good: a rolled-back delete keeps its files.
        transaction.on_commit(partial(files.remove_files, names), robust=True)


def generation_begin_run(*, generation_id, runner_id: str) -> list[Variant]:
    """Mark the generation `running` under this process and return the variants to run.

    Those are the `pending` ones: all of them for a new generation, the unfinished ones after
    a retry. A generation that is no longer active (cancelled before it began) runs nothing.
    """
    now = timezone.now()
    with transaction.atomic():
        started = Generation.objects.filter(
            id=generation_id, status__in=ACTIVE_GENERATION_STATUSES
        ).update(
            status=GenerationStatus.RUNNING,
            runner_id=runner_id,
            heartbeat_at=now,
        )
        if not started:
            return []
        return list(
            Variant.objects.filter(generation_id=generation_id, status=VariantStatus.PENDING)
        )


def variant_begin_attempt(
    *, generation_id, index: int, model: str, max_tokens: int, started_at: datetime
) -> None:
    """Record that an attempt of the variant is starting: its model, its budget, a fresh text."""
    Variant.objects.filter(generation_id=generation_id, index=index).update(
        status=VariantStatus.STREAMING,
        model=model,
        max_tokens=max_tokens,
        text="",
        started_at=started_at,
        first_token_at=None,
        error_code="",
        error_message="",
    )


def variant_checkpoint(*, generation_id, index: int, text: str) -> None:
    """Store the text streamed so far, so a crash keeps it; a finished variant is left alone."""
    Variant.objects.filter(
        generation_id=generation_id, index=index, status=VariantStatus.STREAMING
    ).update(text=text)


def variant_save_result(
    *,
    generation_id,
    index: int,
    model: str,
    text: str,
    raw_html: str,
    finish_reason: str,
    prompt_tokens: int | None,
    completion_tokens: int | None,
    requests: int,
    first_token_at: datetime | str | None,
    finished_at: datetime | str,
    duration_ms: int,
    html: str | None = None,
) -> bool:
    """Commit a finished answer in one statement: the paid-for result is durable from here on.

    `html`, the post-processed page, may be stored in the same statement; `raw_html` is the
    extraction as it was. Returns False if the variant had already completed (a replayed spool
    entry, say): a stored result is never overwritten.
    """
    return bool(
        Variant.objects.filter(generation_id=generation_id, index=index)
        .exclude(status=VariantStatus.COMPLETED)
        .update(
            status=VariantStatus.COMPLETED,
            attempts=F("attempts") + requests,
            model=model,
            text=text,
            raw_html=raw_html,
            finish_reason=finish_reason,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=_cost_unless_demo(
                generation_id, cost_usd(model, prompt_tokens, completion_tokens)
            ),
            first_token_at=first_token_at,
            finished_at=finished_at,
            duration_ms=duration_ms,
            html=html,
        )
    )


def variants_save_results(*, results: list[dict]) -> list[bool]:
    """Commit several finished answers (`variant_save_result`'s arguments each) in one
    transaction: the variants that finished together cost one commit. Returns, per result,
    whether it was saved (False: that variant had already completed, and was left as it was).

    One guarded UPDATE per result: measured (bench/save_path.py), a single bulk UPDATE of
    CASE expressions costs more CPU than it saves in statements."""
    with transaction.atomic():
        return [variant_save_result(**result) for result in results]


def _cost_unless_demo(generation_id, cost):
    """The variant's cost, in the same statement that stores it: none for a demo generation,
    whose tokens are the stand-in's and cost nothing."""
    if cost is None:
        return None
    return Case(
        When(Exists(Generation.objects.filter(id=generation_id, demo=True)), then=Value(None)),
        default=cost if hasattr(cost, "resolve_expression") else Value(cost),
        output_field=DecimalField(max_digits=12, decimal_places=6),
    )


def variant_save_images(
    *, generation_id, index: int, html: str, images: list[dict], cost_usd: Decimal | None
) -> None:
    """Store the page with its generated images (the post-processed `html`; `raw_html` stays as
    the model wrote it), the list of images, and add their cost to the variant's."""
    updates = {"html": html, "images": images}
    if cost_usd is not None:
        updates["cost_usd"] = _cost_unless_demo(
            generation_id, Coalesce(F("cost_usd"), Value(Decimal(0))) + Value(cost_usd)
        )
    Variant.objects.filter(generation_id=generation_id, index=index).update(**updates)


def variant_save_render(*, generation_id, index: int, score: dict | None, error: str) -> None:
    """Record the server render's outcome: its score, or why there is none."""
    Variant.objects.filter(generation_id=generation_id, index=index).update(
        render_status=RenderStatus.FAILED if score is None else RenderStatus.DONE,
        render_error=error,
        score=score,
    )


def variant_end_unfinished(
    *,
    generation_id,
    index: int,
    status: str,
    text: str,
    requests: int,
    error_code: str = "",
    error_message: str = "",
    finished_at: datetime,
    duration_ms: int | None,
) -> None:
    """End a variant that produced no result (failed, cancelled, interrupted), keeping its text."""
    Variant.objects.filter(generation_id=generation_id, index=index).exclude(
        status=VariantStatus.COMPLETED
    ).update(
        status=status,
        text=text,
        attempts=F("attempts") + requests,
        error_code=error_code,
        error_message=redact(error_message),
        finished_at=finished_at,
        duration_ms=duration_ms,
    )


def generation_finish_run(*, generation_id, stopped_as: str | None = None) -> Generation:
    """Set the generation's final status from its variants (or `stopped_as`, if a user or a
    shutdown stopped the run) and the run's duration."""
    with transaction.atomic():
        generation = Generation.objects.select_for_update().get(id=generation_id)
        statuses = list(generation.variants.values_list("status", flat=True))
        generation.status = stopped_as or final_status(statuses)
        generation.finished_at = timezone.now()
        if generation.run_started_at:
            elapsed = generation.finished_at - generation.run_started_at
            generation.duration_ms = int(elapsed.total_seconds() * 1000)
        generation.save(update_fields=["status", "finished_at", "duration_ms"])
    return generation


RUN_FAILED_MESSAGE = "The server could not run this generation; retrying may help."


def generation_fail_run(*, generation_id) -> Generation:
    """End a run that broke before its variants could (the screenshot file is gone, say): the
    unfinished variants fail with `internal_error`, and the generation gets its final status."""
    with transaction.atomic():
        Variant.objects.filter(generation_id=generation_id).exclude(
            status__in=ENDED_VARIANT_STATUSES
        ).update(
            status=VariantStatus.FAILED,
            error_code=VariantErrorCode.INTERNAL_ERROR,
            error_message=RUN_FAILED_MESSAGE,
            finished_at=timezone.now(),
        )
        return generation_finish_run(generation_id=generation_id)


def final_status(variant_statuses: list[str]) -> str:
    """Return the generation status that a set of ended variant statuses adds up to."""
    completed = sum(status == VariantStatus.COMPLETED for status in variant_statuses)
    if completed == len(variant_statuses):
        return GenerationStatus.COMPLETED
    if VariantStatus.INTERRUPTED in variant_statuses:
        return GenerationStatus.INTERRUPTED
    return GenerationStatus.PARTIAL if completed else GenerationStatus.FAILED


def generation_retry(*, generation: Generation, runner_id: str) -> Generation:
    """Put the unfinished variants back to `pending` and the generation to `running`.

    The conditional update makes two concurrent retries start exactly one run.
    """
    if generation.status in ACTIVE_GENERATION_STATUSES:
        raise AppError(CONFLICT, "The generation is still running.")
    with transaction.atomic():
        to_retry = generation.variants.exclude(status=VariantStatus.COMPLETED)
        if not to_retry.exists():
            raise AppError(NOTHING_TO_RETRY)
        claimed = Generation.objects.filter(id=generation.id, status=generation.status).update(
            status=GenerationStatus.RUNNING,
            finished_at=None,
            run_started_at=timezone.now(),
            # Claimed now, so no sweep mistakes it for a dead process's work before it runs.
            runner_id=runner_id,
            heartbeat_at=timezone.now(),
        )
        if not claimed:
            raise AppError(CONFLICT, "The generation is already being retried.")
        to_retry.update(
            status=VariantStatus.PENDING,
            text="",
            error_code="",
            error_message="",
            finished_at=None,
            duration_ms=None,
        )
    generation.refresh_from_db()
    return generation


def generation_cancel_idle(*, generation_id) -> Generation:
    """Cancel a generation that no process runs: its unfinished variants end `cancelled`."""
    with transaction.atomic():
        Variant.objects.filter(generation_id=generation_id).exclude(
            status__in=SETTLED_VARIANT_STATUSES
        ).update(status=VariantStatus.CANCELLED)
        return generation_finish_run(
            generation_id=generation_id, stopped_as=GenerationStatus.CANCELLED
        )


def generation_choose(*, generation: Generation, index: int) -> Generation:
    """Make the completed variant at `index` the generation's chosen result."""
    variant = next((v for v in generation.variants.all() if v.index == index), None)
    if variant is None or variant.status != VariantStatus.COMPLETED:
        raise AppError(INVALID_FIELD, "`index` must name a completed variant.")
    generation.chosen_index = index
    generation.save(update_fields=["chosen_index"])
    return generation


def runner_heartbeat(*, runner_id: str) -> int:
    """Tell other processes this one is alive: touch the heartbeat of every run it owns."""
    return Generation.objects.filter(
        runner_id=runner_id, status__in=ACTIVE_GENERATION_STATUSES
    ).update(heartbeat_at=timezone.now())


def generations_interrupt_orphans(*, stale_before: datetime, live_runner_id: str) -> list:
    """Mark `interrupted` the active generations whose process stopped beating before
    `stale_before`; their variants keep their checkpointed text. Returns their ids.

    The caller's own runs are never touched, however late their heartbeat looks.
    """
    orphans = (
        Generation.objects.filter(status__in=ACTIVE_GENERATION_STATUSES)
        .exclude(runner_id=live_runner_id)
        .filter(
            Q(heartbeat_at__lt=stale_before)
            | Q(heartbeat_at__isnull=True, created_at__lt=stale_before)
        )
    )
    interrupted = []
    for generation_id in orphans.values_list("id", flat=True):
        with transaction.atomic():
            # Re-checked in the same statement: a run that just beat is alive after all.
            claimed = orphans.filter(id=generation_id).update(
                status=GenerationStatus.INTERRUPTED, finished_at=timezone.now()
            )
            if claimed:
                Variant.objects.filter(generation_id=generation_id).exclude(
                    status__in=ENDED_VARIANT_STATUSES
                ).update(status=VariantStatus.INTERRUPTED)
                interrupted.append(generation_id)
    return interrupted


def generation_refresh_status(*, generation_id) -> None:
    """Recompute an ended generation's status after a late result arrived (a spool replay)."""
    generation = Generation.objects.get(id=generation_id)
    if generation.status in ACTIVE_GENERATION_STATUSES:
        return
    statuses = list(generation.variants.values_list("status", flat=True))
    Generation.objects.filter(id=generation_id).update(status=final_status(statuses))


def generation_import(
    *, generation: Generation, variants: list[Variant], screenshot: bytes | None
) -> bool:
    """Store an exported generation exactly as it was exported, in one transaction, with its
    screenshot restored under the usual path. Returns False (and changes nothing) if a
    generation with that id already exists: importing the same file twice is harmless.

    `generation` and `variants` are unsaved instances carrying every exported value;
    `screenshot` None means the export had no file for it, so only its name is kept.
    """
    if Generation.objects.filter(id=generation.id).exists():
        return False
    wrote_file = False
    try:
        with transaction.atomic():
            if screenshot is not None:
                _restore_screenshot(generation, screenshot)
                wrote_file = True
            # raw: created_at is kept as exported instead of auto_now_add's "now".
            generation.save_base(raw=True, force_insert=True)
            Variant.objects.bulk_create(variants)
    except Exception:
        if Generation.objects.filter(id=generation.id).exists():
            return False  # a concurrent import of the same record won; its file stays
        if wrote_file:
            generation.screenshot.delete(save=False)  # no orphan file for a record never stored
        raise
    return True


def _restore_screenshot(generation: Generation, content: bytes) -> None:
    field = generation.screenshot
    basename = field.name.rsplit("/", 1)[-1]
    wanted = field.field.generate_filename(generation, basename)
    # No stored generation has this id, so a file already at its path is an orphan (an import
    # that failed midway); replacing it keeps the exported name instead of a suffixed one.
    if field.storage.exists(wanted):
        field.storage.delete(wanted)
    field.save(basename, ContentFile(content), save=False)


def ensure_deletable(*, generation: Generation) -> None:
    """Refuse (409 conflict) to delete a generation that later versions were made from: they
    need its lineage (docs/decisions.md, "Lineage"). The delete service calls this first."""
    children = generation.children.count()
    if children:
        versions = "version" if children == 1 else "versions"
        raise AppError(
            CONFLICT,
            f"This generation has {children} later {versions}; delete those first.",
        )
