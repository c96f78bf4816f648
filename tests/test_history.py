"""The history API: filters, ordering, cheap reads, cost, and the per-model figures."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from generations.catalog import cost_usd
from generations.models import Generation, Variant
from tests.factories import make_generation
from tests.socket_client import SocketClient

pytestmark = pytest.mark.django_db


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [g["id"] for g in response.json()["data"]["results"]]


def test_filters_and_ordering(client):
    now = timezone.now()
    old = make_generation(created_at=now - timedelta(days=3), duration_ms=900)
    partial = make_generation(("completed", "failed", "completed", "completed"), duration_ms=100)
    failed = make_generation(("failed",) * 4, created_at=now - timedelta(days=1))
    Variant.objects.filter(generation=old, index=1).update(model="gpt-4.1")

    assert ids(client.get("/api/generations?status=failed")) == [str(failed.id)]
    assert set(ids(client.get("/api/generations?has_failed_variant=true"))) == {
        str(partial.id),
        str(failed.id),
    }
    assert ids(client.get("/api/generations?has_failed_variant=false")) == [str(old.id)]
    assert ids(client.get("/api/generations?model=gpt-4.1")) == [str(old.id)]
    since = (now - timedelta(days=2)).isoformat()
    assert str(old.id) not in ids(client.get("/api/generations", {"created_after": since}))
    assert ids(client.get("/api/generations", {"created_before": since})) == [str(old.id)]
    assert ids(client.get("/api/generations?ordering=duration"))[:2] == [
        str(partial.id),
        str(old.id),
    ]
    assert ids(client.get("/api/generations?ordering=-created"))[0] == str(partial.id)


@pytest.mark.parametrize(
    "query",
    [
        "status=nonsense",
        "created_after=yesterday",
        "ordering=secret",
        "created_before=0001-01-01T00:00:00%2B10:00",  # before year 1 in UTC
    ],
)
def test_bad_filters_are_invalid_field(client, query):
    response = client.get(f"/api/generations?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_field"


def test_date_bounds_with_any_iso_offset(client):
    # Found by the schema fuzzer on PostgreSQL, which refuses offsets past 15:59.
    answer = client.get("/api/generations", {"created_before": "1560-03-08T19:41:15+18:55"})
    assert answer.status_code == 200
    assert answer.json()["data"]["count"] == 0


def test_reads_do_not_grow_with_the_history(client):
    for _ in range(30):
        make_generation()
    generation = Generation.objects.first()
    with CaptureQueriesContext(connection) as reading:
        assert client.get(f"/api/generations/{generation.id}").status_code == 200
    detail = reading.captured_queries  # now: the next request clears the connection's log
    with CaptureQueriesContext(connection) as listing:
        assert client.get("/api/generations?page_size=25").status_code == 200
    assert len(detail) <= 3, [q["sql"] for q in detail]
    assert len(listing) <= 4, [q["sql"] for q in listing]


@pytest.mark.django_db(transaction=True)
async def test_cost_is_stored_when_a_variant_ends(live_models, connect):
    socket = SocketClient(await connect())
    generation_id = (await socket.generate_and_follow()).generation_id
    await socket.close()
    total = Decimal("0")
    async for variant in Variant.objects.filter(generation_id=generation_id):
        expected = cost_usd(variant.model, variant.prompt_tokens, variant.completion_tokens)
        assert variant.cost_usd == expected > 0
        total += expected
    from django.test import AsyncClient

    answer = (await AsyncClient().get(f"/api/generations/{generation_id}")).json()["data"]
    assert Decimal(answer["total_cost_usd"]) == total


def test_cost_uses_the_price_table():
    assert cost_usd("gpt-4.1-mini-2025-04-14", 1_000_000, 1_000_000) == Decimal("2.000000")
    assert cost_usd("gpt-4o-2024-11-20", 1000, 500) == Decimal("0.007500")
    assert cost_usd("unknown-model", 1000, 500) is None
    assert cost_usd("gpt-4o", None, 500) is None


def test_model_stats(client):
    started = timezone.now()
    for duration, tokens, finish in (
        (1000, 100, "stop"),
        (2000, 300, "length"),
        (3000, 200, "stop"),
    ):
        generation = make_generation(("completed", "failed", "cancelled", "completed"))
        Variant.objects.filter(generation=generation, index=0).update(
            model="m-a",
            requested_model="m-a",
            duration_ms=duration,
            completion_tokens=tokens,
            finish_reason=finish,
            cost_usd=Decimal("0.5"),
            started_at=started,
            first_token_at=started + timedelta(milliseconds=duration // 10),
        )
        Variant.objects.filter(generation=generation, index=1).update(
            model="m-a", requested_model="m-a"
        )
        Variant.objects.filter(generation=generation, index=3).update(
            model="m-b", requested_model="m-gone", duration_ms=500
        )

    response = client.get("/api/models/stats")
    assert response.status_code == 200
    rows = {row["model"]: row for row in response.json()["data"]}
    a, b = rows["m-a"], rows["m-b"]
    assert a["runs"] == 6  # cancelled variants say nothing about the model
    assert a["completed_share"] == 0.5
    assert (a["median_duration_ms"], a["p95_duration_ms"]) == (2000, 3000)
    assert a["median_first_token_ms"] == 200
    assert a["mean_completion_tokens"] == 200.0
    assert Decimal(a["total_cost_usd"]) == Decimal("1.5")
    assert a["truncations"] == 1
    assert (a["fallbacks"], b["fallbacks"]) == (0, 3)
    schema = client.get("/api/schema?format=json").json()
    assert "/api/models/stats/" in schema["paths"]
