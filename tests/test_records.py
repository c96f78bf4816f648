"""Honest records (contract §13): demo output is labelled and costs nothing, nothing is chosen
until a user chooses, and the history list carries summaries rather than every page."""

import json
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from demo.pages import DEMO_NOTICE, sample_page, wrap_in_prose
from generations import provenance, services, transfer
from generations.models import Generation, Variant
from tests.factories import make_generation, page_html
from tests.socket_client import SocketClient
from tests.support import DEFAULT_MODELS, data_url, png_bytes

pytestmark = pytest.mark.django_db

DEMO_BADGE = 'class="badge demo-badge"'


def with_costs(generation: Generation, cost: str = "0.25") -> Generation:
    Variant.objects.filter(generation=generation).update(cost_usd=Decimal(cost))
    return generation


def detail(client, generation) -> dict:
    response = client.get(f"/api/generations/{generation.id}")
    assert response.status_code == 200, response.content
    return response.json()["data"]


def listed(client, query: str = "") -> list[dict]:
    response = client.get(f"/api/generations{query}")
    assert response.status_code == 200, response.content
    return response.json()["data"]["results"]


# ---------------------------------------------------------------------------------- demo


@pytest.mark.django_db(transaction=True)
async def test_a_demo_run_is_labelled_costs_nothing_and_stays_out_of_the_stats(connect, settings):
    settings.OPENAI_API_KEY = ""  # demo mode: the local stand-in answers
    socket = SocketClient(await connect())
    generation_id = (await socket.generate_and_follow()).generation_id
    await socket.close()

    from django.test import AsyncClient

    client = AsyncClient()
    data = (await client.get(f"/api/generations/{generation_id}")).json()["data"]
    assert data["status"] == "completed"
    assert data["demo"] is True
    assert data["total_cost_usd"] is None
    assert [v["cost_usd"] for v in data["variants"]] == [None] * 4
    assert all(v["completion_tokens"] for v in data["variants"])  # the stand-in's count
    assert [g["demo"] for g in (await client.get("/api/generations")).json()["data"]["results"]]
    assert (await client.get("/api/models/stats")).json()["data"] == []


@pytest.mark.django_db(transaction=True)
async def test_a_live_run_is_not_demo_and_counts(connect, live_models):
    socket = SocketClient(await connect())
    generation_id = (await socket.generate_and_follow()).generation_id
    await socket.close()

    from django.test import AsyncClient

    client = AsyncClient()
    data = (await client.get(f"/api/generations/{generation_id}")).json()["data"]
    assert data["demo"] is False
    assert Decimal(data["total_cost_usd"]) > 0
    stats = (await client.get("/api/models/stats")).json()["data"]
    assert sorted(row["model"] for row in stats) == sorted(set(DEFAULT_MODELS))


def test_post_in_demo_mode_records_demo(client, settings):
    settings.OPENAI_API_KEY = ""
    response = client.post(
        "/api/generations",
        json.dumps({"image": data_url(png_bytes())}),
        content_type="application/json",
    )
    assert response.status_code == 202, response.content
    assert response.json()["data"]["demo"] is True


def test_a_demo_result_is_stored_without_a_cost():
    demo = make_generation(("pending",) * 4, status="running", demo=True)
    live = make_generation(("pending",) * 4, status="running")
    for generation in (demo, live):
        services.variant_save_result(
            generation_id=generation.id,
            index=0,
            model=DEFAULT_MODELS[0],
            text="<html></html>",
            raw_html="<html></html>",
            finish_reason="stop",
            prompt_tokens=1000,
            completion_tokens=500,
            requests=1,
            first_token_at=None,
            finished_at="2025-12-22T10:00:00Z",
            duration_ms=100,
        )
    assert Variant.objects.get(generation=demo, index=0).cost_usd is None
    assert Variant.objects.get(generation=live, index=0).cost_usd == Decimal("0.007500")


def test_stats_leave_demo_generations_out(client):
    with_costs(make_generation())
    with_costs(make_generation(demo=True))
    rows = {row["model"]: row for row in client.get("/api/models/stats").json()["data"]}
    assert rows[DEFAULT_MODELS[0]]["runs"] == 1
    assert Decimal(rows[DEFAULT_MODELS[0]]["total_cost_usd"]) == Decimal("0.25")


@pytest.mark.django_db(transaction=True)
def test_a_retry_never_mixes_demo_and_live_work(client, settings):
    failed = ("completed", "failed", "completed", "completed")
    demo = make_generation(failed, demo=True)
    live = make_generation(failed)

    settings.OPENAI_API_KEY = "sk-now-live"
    answer = client.post(f"/api/generations/{demo.id}/retry")
    assert answer.status_code == 409, answer.content
    assert answer.json()["error"]["code"] == "conflict"
    assert "demo mode" in answer.json()["error"]["message"]

    settings.OPENAI_API_KEY = ""
    answer = client.post(f"/api/generations/{live.id}/retry")
    assert answer.status_code == 409
    assert "live mode" in answer.json()["error"]["message"]
    assert Generation.objects.get(id=live.id).status == "partial"  # untouched


def test_the_page_and_the_history_label_demo_generations(client):
    demo = make_generation(demo=True)
    live = make_generation()

    page = client.get(f"/g/{demo.id}")
    assert page.context["generation_data"]["demo"] is True
    html = page.content.decode()
    badge = html[html.index('id="demo-badge"') - 60 : html.index(">Demo<")]
    assert "hidden" not in badge
    live_page = client.get(f"/g/{live.id}")
    assert live_page.context["generation_data"]["demo"] is False
    assert 'id="demo-badge" title="Made in demo mode' in live_page.content.decode()
    assert " hidden>Demo<" in live_page.content.decode()

    rows = history_rows(client.get("/history").content.decode())
    assert DEMO_BADGE in rows[str(demo.id)]
    assert "stand-in for" in rows[str(demo.id)]
    assert DEMO_BADGE not in rows[str(live.id)]
    assert "stand-in for" not in rows[str(live.id)]


def history_rows(page: str) -> dict[str, str]:
    """Each history row's markup, by generation id."""
    rows = page.split('<li class="history-item')[1:]
    return {row.split('data-id="', 1)[1].split('"', 1)[0]: row for row in rows}


def test_the_admin_shows_and_filters_demo(admin_client):
    demo = make_generation(demo=True, chosen_index=0)
    live = make_generation()
    url = "/admin/generations/generation/"

    page = admin_client.get(url).content.decode()
    assert 'data-filter-title="demo"' in page
    assert "demo stand-in (for gpt-4o-2024-11-20)" in page
    only_demo = admin_client.get(url + "?demo__exact=1").content.decode()
    assert str(demo.id) in only_demo
    assert str(live.id) not in only_demo


# ----------------------------------------------------------------- demo: export and import


def test_demo_round_trips_through_export_and_import():
    demo = make_generation(demo=True)
    line = transfer.encode_line(Generation.objects.get(id=demo.id))
    assert json.loads(line)["generation"]["demo"] is True
    assert "thumbnail" not in json.loads(line)["generation"]  # derived: made again on request
    Generation.objects.all().delete()

    transfer.import_lines([line])
    assert Generation.objects.get(id=demo.id).demo is True


@pytest.mark.parametrize(
    ("text", "demo"),
    [
        (wrap_in_prose(sample_page("gpt-4o")), True),  # a stand-in answer
        (wrap_in_prose("<!DOCTYPE html><html>")[:80], True),  # cancelled before its footer
        (f"<html><footer>{DEMO_NOTICE}</footer></html>", True),
        ("<!DOCTYPE html><html><body>A model's page</body></html>", False),
        ("", False),  # nothing written: no one's work to mislabel
    ],
)
def test_an_export_older_than_the_flag_is_read_from_its_text(text, demo):
    generation = with_costs(make_generation())
    Variant.objects.filter(generation=generation, index=1).update(text=text)
    record = transfer.encode_record(Generation.objects.get(id=generation.id))
    del record["generation"]["demo"]
    Generation.objects.all().delete()

    transfer.import_lines([json.dumps(record)])

    stored = Generation.objects.get(id=generation.id)
    assert stored.demo is demo
    costs = set(Variant.objects.filter(generation=stored).values_list("cost_usd", flat=True))
    assert costs == ({None} if demo else {Decimal("0.25")})


def test_the_migration_marks_stored_stand_in_runs_as_demo():
    from importlib import import_module

    migration = import_module("generations.migrations.0005_generation_demo_and_thumbnail")
    stand_in = with_costs(make_generation())
    Variant.objects.filter(generation=stand_in, index=2).update(
        text=wrap_in_prose(sample_page("gpt-4.1"))
    )
    model_made = with_costs(make_generation())

    migration.mark_demo_generations(apps, None)

    assert Generation.objects.get(id=stand_in.id).demo is True
    assert not Variant.objects.filter(generation=stand_in, cost_usd__isnull=False).exists()
    assert Generation.objects.get(id=model_made.id).demo is False
    assert not Variant.objects.filter(generation=model_made, cost_usd__isnull=True).exists()
    # The migration's frozen markers are the stand-in's own.
    assert (migration.DEMO_OPENING, migration.DEMO_NOTICE) == (
        provenance.DEMO_OPENING,
        DEMO_NOTICE,
    )


# ------------------------------------------------------------------------------ the choice


def test_nothing_is_chosen_until_a_user_chooses(client):
    generation = make_generation(("failed", "completed", "completed", "completed"))

    data = detail(client, generation)
    assert data["chosen_index"] is None
    # The generation still shows a page: the lowest-index completed one (contract §7).
    assert (data["html"], data["model"]) == (page_html(1), DEFAULT_MODELS[1])
    assert listed(client)[0]["chosen_index"] is None
    assert listed(client)[0]["html"] == page_html(1)
    assert client.get(f"/g/{generation.id}").context["generation_data"]["chosen_index"] is None
    history = client.get("/history").content.decode()
    assert "chosen-mark" not in history
    assert 'class="chosen"' not in history

    chose = client.post(
        f"/api/generations/{generation.id}/choose",
        json.dumps({"index": 3}),
        content_type="application/json",
    )
    assert chose.status_code == 200

    data = detail(client, generation)
    assert (data["chosen_index"], data["html"], data["model"]) == (
        3,
        page_html(3),
        DEFAULT_MODELS[3],
    )
    assert (listed(client)[0]["chosen_index"], listed(client)[0]["html"]) == (3, page_html(3))
    assert client.get(f"/g/{generation.id}").context["generation_data"]["chosen_index"] == 3
    history = client.get("/history").content.decode()
    assert history.count("chosen-mark") == 1
    assert history.count('class="chosen"') == 1


# ------------------------------------------------------------------------------ the list


def big_generation(page_chars: int) -> Generation:
    """A generation whose every variant holds a real-sized page three times over."""
    generation = make_generation()
    for index in range(4):
        page = f"<!DOCTYPE html><html><body>{index}{'x' * page_chars}</body></html>"
        Variant.objects.filter(generation=generation, index=index).update(
            text=wrap_in_prose(page), raw_html=page, html=page
        )
    return generation


def test_the_list_gives_summaries_and_the_detail_everything(client):
    generation = big_generation(1000)

    summary = listed(client)[0]
    full = detail(client, generation)
    for variant in summary["variants"]:
        assert not {"text", "raw_html", "html"} & set(variant)
    for variant in full["variants"]:
        assert {"text", "raw_html", "html"} <= set(variant)
    # The detail's page-sized fields, and what only the detail carries of post-processing.
    detail_only = ("text", "raw_html", "html", "render_error", "render_url", "images")
    stripped = [
        {k: v for k, v in variant.items() if k not in detail_only} for variant in full["variants"]
    ]
    assert summary["variants"] == stripped
    assert {k: v for k, v in summary.items() if k != "variants"} == {
        k: v for k, v in full.items() if k != "variants"
    }


def test_a_page_of_30_real_sized_generations_stays_small(client):
    page_chars = 30_000  # a modest real page
    for _ in range(30):
        big_generation(page_chars)

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/generations?page_size=30")

    # Read now: the next request clears the connection's query log.
    variant_reads = [q["sql"] for q in queries if 'FROM "generations_variant"' in q["sql"]]
    assert response.status_code == 200
    assert len(response.json()["data"]["results"]) == 30
    # Each generation brings the one page it shows and about 2 KB of summary, where it
    # brought twelve pages (text, raw_html and html of four variants) before.
    assert len(response.content) < 30 * (page_chars + 2_500), len(response.content)
    full = sum(
        len(client.get(f"/api/generations/{g.id}").content) for g in Generation.objects.all()
    )
    assert len(response.content) < full / 10
    # The variants' page-sized columns are not even read.
    assert variant_reads
    assert not any(
        '"generations_variant"."text"' in sql.split(" FROM ")[0] for sql in variant_reads
    )


def test_the_list_costs_the_same_queries_for_3_or_30_generations(
    client, django_assert_max_num_queries
):
    for _ in range(3):
        make_generation()
    with CaptureQueriesContext(connection) as few:
        client.get("/api/generations?page_size=50")
    few = few.captured_queries  # now: the next request clears the connection's log
    assert len(few) <= 4, [q["sql"] for q in few]  # count, generations, their variants
    for _ in range(27):
        make_generation()

    with django_assert_max_num_queries(len(few)):
        response = client.get("/api/generations?page_size=50")
    assert len(response.json()["data"]["results"]) == 30
