"""Every write clonegen makes: plain functions, keyword-only, each one short statement or one
transaction, so a result is durable the moment the function returns.

They are synchronous on purpose (Django 5.2 has no async transactions); async callers go through
`database_sync_to_async`.
"""

from datetime import datetime

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from generations.catalog import VariantSpec, cost_usd
from generations.errors import CONFLICT, INVALID_FIELD, NOTHING_TO_RETRY, AppError
from generations.images import Screenshot
from generations.models import (
    ACTIVE_GENERATION_STATUSES,
    ENDED_VARIANT_STATUSES,
    SETTLED_VARIANT_STATUSES,
    Generation,
    GenerationKind,
    GenerationStatus,
    Variant,
    VariantStatus,
)
from generations.prompts import EDIT_PROMPT_VERSION, PROMPT_VERSION


def generation_create(
    *,
    screenshot: Screenshot,
    instructions: str,
    stack: str,
    variants: tuple[VariantSpec, ...],
    owner=None,
    client_key: str = "",
    parent: Generation | None = None,
    parent_index: int | None = None,
    source_url: str = "",
) -> Generation:
    """Store the screenshot; commit the generation (`started`) with its pending variants.

    With `parent`, it is an edit of that generation's variant `parent_index`, in its lineage.
    """
    generation = Generation(
        owner=owner,
        client_key=client_key,
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
        generation.screenshot.delete(save=False)  # no orphan file for a record never committed
        raise
    return generation


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
) -> bool:
    """Commit a finished answer in one statement: the paid-for result is durable from here on.

    Returns False if the variant had already completed (a replayed spool entry, say): a stored
    result is never overwritten.
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
            cost_usd=cost_usd(model, prompt_tokens, completion_tokens),
            first_token_at=first_token_at,
            finished_at=finished_at,
            duration_ms=duration_ms,
        )
    )


def variant_save_html(*, generation_id, index: int, html: str) -> None:
    """Store the post-processed HTML beside the raw extraction, which stays as it was."""
    Variant.objects.filter(generation_id=generation_id, index=index).update(html=html)


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
        error_message=error_message,
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
