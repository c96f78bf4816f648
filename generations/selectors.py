"""Every read clonegen makes: querysets with the prefetches their callers need."""

import uuid
from datetime import timedelta

from django.db.models import Exists, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from generations.access import Requester, visible_to
from generations.errors import INVALID_ID, NOT_FOUND, AppError
from generations.models import (
    ACTIVE_GENERATION_STATUSES,
    MISSED_HEARTBEATS,
    Generation,
    Variant,
    VariantStatus,
)


def parse_generation_id(raw: object) -> uuid.UUID:
    """Return `raw` as a UUID, or raise AppError(invalid_id)."""
    if isinstance(raw, uuid.UUID):
        return raw
    if not isinstance(raw, str):
        raise AppError(INVALID_ID)
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise AppError(INVALID_ID) from None


def variants_prefetch(*fields: str) -> Prefetch:
    """A generation's variants in index order, in one query for a whole page of generations;
    only `fields` when given (a list that never shows the page-sized text and HTML)."""
    variants = Variant.objects.order_by("index")
    return Prefetch("variants", queryset=variants.only(*fields) if fields else variants)


def generation_list(requester: Requester | None = None) -> QuerySet[Generation]:
    """Return the generations `requester` may see (all, for internal callers), newest first,
    with their variants in one extra query."""
    generations = Generation.objects.order_by("-created_at").prefetch_related(variants_prefetch())
    return generations if requester is None else visible_to(generations, requester)


# A variant's page-sized columns: a list of generations never reads them.
VARIANT_PAGE_FIELDS = ("text", "raw_html", "html")


def generation_summaries(
    requester: Requester | None = None, *, with_shown_html: bool = False
) -> QuerySet[Generation]:
    """`generation_list` without the variants' text and HTML (a page of a hundred stays
    small). `with_shown_html` adds `shown_html`, the page the generation shows (see
    `chosen_variant`), read in the same query as the generation."""
    variants = Variant.objects.order_by("index").defer(*VARIANT_PAGE_FIELDS)
    generations = Generation.objects.order_by("-created_at").prefetch_related(
        Prefetch("variants", queryset=variants)
    )
    if with_shown_html:
        generations = generations.annotate(shown_html=_shown_html())
    return generations if requester is None else visible_to(generations, requester)


def _shown_html() -> Coalesce:
    """The chosen variant's shown HTML, as a subquery of a generation (`chosen_variant`)."""
    completed = Variant.objects.filter(generation=OuterRef("pk"), status=VariantStatus.COMPLETED)
    shown = Coalesce("html", "raw_html")
    # Two lookups rather than one ordered by the pick: SQLite cannot order a subquery by a
    # column of the outer query. A completed variant always has `raw_html`, so never NULL.
    picked = completed.filter(index=OuterRef("chosen_index")).values(shown=shown)[:1]
    lowest = completed.order_by("index").values(shown=shown)[:1]
    return Coalesce(Subquery(picked), Subquery(lowest))


def models_used() -> QuerySet:
    """The distinct models that produced some variant, sorted (the "model used" choices)."""
    return Variant.objects.exclude(model="").order_by("model").values_list("model", flat=True)


def generations_using_model(generations: QuerySet[Generation], model: str) -> QuerySet[Generation]:
    """The generations in which some variant's result came from `model`."""
    # EXISTS rather than a join: a join would repeat a generation once per matching variant.
    return generations.filter(
        Exists(Variant.objects.filter(generation=OuterRef("pk"), model=model))
    )


def generation_get(generation_id, requester: Requester | None = None) -> Generation:
    """Return the generation with its variants, or raise AppError(not_found) — also when
    `requester` may not see it, so ids are never confirmed."""
    generations = generation_list(requester)
    generation = generations.filter(id=parse_generation_id(generation_id)).first()
    if generation is None:
        raise AppError(NOT_FOUND)
    return generation


def chosen_variant(generation: Generation) -> Variant | None:
    """Return the variant whose page the generation shows (its `html` and `model`): the user's
    pick, else the lowest-index completed one. Only `chosen_index` says a user chose."""
    completed = [v for v in generation.variants.all() if v.status == VariantStatus.COMPLETED]
    picked = [v for v in completed if v.index == generation.chosen_index]
    return (picked or completed or [None])[0]


def running_elsewhere(generation: Generation, *, runner_id: str, heartbeat_seconds: float) -> bool:
    """Return True if another live process runs the generation (its heartbeat is fresh)."""
    if generation.status not in ACTIVE_GENERATION_STATUSES or not generation.heartbeat_at:
        return False
    if generation.runner_id in ("", runner_id):
        return False
    fresh_after = timezone.now() - timedelta(seconds=heartbeat_seconds * MISSED_HEARTBEATS)
    return generation.heartbeat_at >= fresh_after
