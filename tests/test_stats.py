"""stats.model_stats on a few stored generations: one row per model, from settled runs only."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from generations import stats
from generations.models import Variant
from tests.factories import make_generation

pytestmark = pytest.mark.django_db

MODEL = "gpt-4o-2024-11-20"
OTHER = "gpt-4.1-mini-2025-04-14"


def set_variant(generation, index, **fields):
    Variant.objects.filter(generation=generation, index=index).update(**fields)


@pytest.fixture
def history():
    """Two generations: MODEL ran four completed variants and one failed fallback; OTHER ran
    one; a cancelled and an interrupted variant must not count."""
    start = timezone.now()
    first = make_generation(("completed",) * 4)
    second = make_generation(("completed", "failed", "cancelled", "interrupted"))
    Variant.objects.update(model=MODEL, requested_model=MODEL, cost_usd=None)
    for index, duration in enumerate((100, 200, 300, 1000)):
        set_variant(first, index, duration_ms=duration)
    set_variant(first, 0, started_at=start, first_token_at=start + timedelta(milliseconds=50))
    set_variant(first, 1, started_at=start, first_token_at=start + timedelta(milliseconds=150))
    set_variant(first, 0, completion_tokens=10, cost_usd=Decimal("0.5"))
    set_variant(first, 1, completion_tokens=20, cost_usd=Decimal("1.0"))
    set_variant(first, 3, finish_reason="length")
    set_variant(second, 0, model=OTHER, requested_model=OTHER, duration_ms=500)
    set_variant(second, 1, requested_model="gpt-4.1-2025-04-14", cost_usd=Decimal("0.25"))
    set_variant(second, 2, duration_ms=1, cost_usd=Decimal("9.99"), finish_reason="length")
    set_variant(second, 3, duration_ms=1, cost_usd=Decimal("9.99"))
    return first, second


def test_one_row_per_model_from_settled_runs(history):
    rows = stats.model_stats(Variant.objects.all())
    assert [row["model"] for row in rows] == [OTHER, MODEL]
    row = rows[1]
    assert row["runs"] == 5  # four completed, one failed; cancelled and interrupted say nothing
    assert row["completed_share"] == 0.8
    assert row["median_duration_ms"] == 250
    assert row["p95_duration_ms"] == 1000
    assert row["median_first_token_ms"] == 100
    assert row["mean_completion_tokens"] == 15.0
    assert Decimal(row["total_cost_usd"]) == Decimal("1.75")
    assert row["truncations"] == 1
    assert row["fallbacks"] == 1


def test_a_model_without_timings_or_costs(history):
    other = stats.model_stats(Variant.objects.all())[0]
    assert other == {
        "model": OTHER,
        "runs": 1,
        "completed_share": 1.0,
        "median_duration_ms": 500,
        "p95_duration_ms": 500,
        "median_first_token_ms": None,
        "mean_completion_tokens": None,
        "total_cost_usd": "0",
        "truncations": 0,
        "fallbacks": 0,
        "median_visual_score": None,
    }


def test_variants_of_narrows_to_the_given_generations(history):
    first, _ = history
    rows = stats.model_stats(stats.variants_of(type(first).objects.filter(id=first.id)))
    assert [(row["model"], row["runs"]) for row in rows] == [(MODEL, 4)]


def test_variants_without_a_model_are_left_out():
    make_generation(("failed",) * 4)  # failed before any model answered: no model recorded
    assert stats.model_stats(Variant.objects.all()) == []


def test_p95_is_the_nearest_rank():
    values = list(range(1, 21))
    assert stats._nearest_rank(values, 0.95) == 19
    assert stats._nearest_rank([7], 0.95) == 7
    assert stats._nearest_rank([], 0.95) is None
