"""Per-model figures for a fair comparison: how often each model finished, how fast, how long
its answers were, what it cost, how often it was cut off or stood in for another."""

import math
import statistics
from collections import defaultdict
from decimal import Decimal

from django.db.models import QuerySet

from generations.models import SETTLED_VARIANT_STATUSES, Variant, VariantStatus


def model_stats(variants) -> list[dict]:
    """Return one row per model used, from `variants` (a Variant queryset), sorted by model.

    A run is a variant the model settled (completed or failed); cancelled and interrupted ones
    were stopped from outside and say nothing about the model, and a demo generation's were
    the local stand-in's (contract §13). Reads only the columns it needs.
    """
    rows = (
        variants.filter(status__in=SETTLED_VARIANT_STATUSES, generation__demo=False)
        .exclude(model="")
        .values_list(
            "model",
            "requested_model",
            "status",
            "duration_ms",
            "started_at",
            "first_token_at",
            "completion_tokens",
            "cost_usd",
            "finish_reason",
            "score",
            named=True,
        )
    )
    by_model: dict[str, list[tuple]] = defaultdict(list)
    for row in rows.iterator(chunk_size=2000):
        by_model[row.model].append(row)
    return [_summary(model, runs) for model, runs in sorted(by_model.items())]


def _summary(model: str, runs: list[tuple]) -> dict:
    completed = [r for r in runs if r.status == VariantStatus.COMPLETED]
    durations = sorted(r.duration_ms for r in completed if r.duration_ms is not None)
    first_tokens = sorted(
        (r.first_token_at - r.started_at).total_seconds() * 1000
        for r in completed
        if r.started_at and r.first_token_at
    )
    tokens = [r.completion_tokens for r in completed if r.completion_tokens is not None]
    return {
        "model": model,
        "runs": len(runs),
        "completed_share": round(len(completed) / len(runs), 4),
        "median_duration_ms": _median(durations),
        "p95_duration_ms": _nearest_rank(durations, 0.95),
        "median_first_token_ms": _median(first_tokens),
        "mean_completion_tokens": round(statistics.fmean(tokens), 1) if tokens else None,
        "total_cost_usd": str(
            sum((r.cost_usd for r in runs if r.cost_usd is not None), Decimal(0))
        ),
        "truncations": sum(r.finish_reason == "length" for r in completed),
        "fallbacks": sum(r.requested_model != model for r in runs),
        "median_visual_score": _median_score(completed),
    }


def _median_score(completed: list[tuple]) -> float | None:
    scores = [
        r.score["visual"] for r in completed if isinstance(r.score, dict) and "visual" in r.score
    ]
    return round(statistics.median(scores), 4) if scores else None


def _median(values: list[float]) -> int | None:
    return round(statistics.median(values)) if values else None


def _nearest_rank(sorted_values: list[float], share: float) -> int | None:
    if not sorted_values:
        return None
    return round(sorted_values[max(0, math.ceil(share * len(sorted_values)) - 1)])


def variants_of(generations: QuerySet) -> QuerySet[Variant]:
    """The variants of a generation queryset (already narrowed to what a requester may see)."""
    return Variant.objects.filter(generation__in=generations.values("id"))
