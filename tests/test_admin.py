"""The admin: the history list, read-only pages with sandboxed previews, retry and export."""

import asyncio
import io
import json
import re
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from generations import model_client
from generations.models import Generation, Variant
from tests.factories import make_generation

# Retry runs through channels' database_sync_to_async, which needs real transactions.
pytestmark = pytest.mark.django_db(transaction=True)

LIST_URL = "/admin/generations/generation/"


def change_url(generation) -> str:
    return f"{LIST_URL}{generation.id}/change/"


def with_costs(generation, costs) -> Generation:
    for index, cost in enumerate(costs):
        Variant.objects.filter(generation=generation, index=index).update(cost_usd=cost)
    return generation


def post_action(client, action: str, generations):
    return client.post(
        LIST_URL,
        {
            "action": action,
            "_selected_action": [str(g.id) for g in generations],
            "index": 0,
        },
    )


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# ---------------------------------------------------------------------------------- the list


def test_list_shows_thumbnail_cost_status_and_filters(admin_client):
    generation = with_costs(
        make_generation(duration_ms=2500, chosen_index=2),
        ["0.001000", "0.002500", None, "0.000250"],
    )

    response = admin_client.get(LIST_URL)

    assert response.status_code == 200
    page = response.content.decode()
    assert f'<img src="/g/{generation.id}/thumbnail"' in page
    assert "$0.0038" in page  # 0.001 + 0.0025 + 0.00025, the unknown cost left out
    assert "2.5 s" in page
    # The model a user chose.
    assert '<td class="field-chosen_model">gpt-4.1-mini-2025-04-14</td>' in page
    for title in ("status", "demo", "model used", "created at"):
        assert f'data-filter-title="{title}"' in page
    assert "?model=gpt-4.1-2025-04-14" in page  # the model filter lists the models used


def test_list_without_costs_or_duration(admin_client):
    make_generation(("failed",) * 4)

    page = admin_client.get(LIST_URL).content.decode()

    assert '<td class="field-total_cost">—</td>' in page
    assert '<td class="field-duration">—</td>' in page
    assert '<td class="field-chosen_model">—</td>' in page


def test_filters_and_search(admin_client):
    completed = make_generation()
    failed = make_generation(("failed",) * 4)
    Variant.objects.filter(generation=completed, index=3).update(model="gpt-4o")
    Variant.objects.filter(generation=completed, index=0).update(model="gpt-4o")

    def listed(query: str) -> set[str]:
        page = admin_client.get(LIST_URL + query).content.decode()
        return {g for g in (str(completed.id), str(failed.id)) if f"/g/{g}/thumbnail" in page}

    assert listed("?status__exact=failed") == {str(failed.id)}
    assert listed("?model=gpt-4o") == {str(completed.id)}  # once, though two variants match
    assert listed(f"?q={failed.id}") == {str(failed.id)}
    assert listed(f"?q={str(completed.id)[:8]}") == {str(completed.id)}
    created = completed.created_at
    assert listed(f"?created_at__year={created.year}") == {str(completed.id), str(failed.id)}


def test_list_queries_do_not_grow_with_the_rows(admin_client, django_assert_max_num_queries):
    make_generation()
    admin_client.get(LIST_URL)  # warm up: session, content types
    with CaptureQueriesContext(connection) as one_row:
        assert admin_client.get(LIST_URL).status_code == 200
    for _ in range(9):
        make_generation()

    with django_assert_max_num_queries(len(one_row.captured_queries)):
        page = admin_client.get(LIST_URL).content.decode()

    assert page.count("/thumbnail") == 10


# ---------------------------------------------------------------------------------- the page


def test_change_page_shows_sandboxed_previews_and_folded_code(admin_client):
    generation = make_generation(("completed", "failed", "completed", "failed"))
    hostile = "<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
    Variant.objects.filter(generation=generation, index=0).update(html=hostile, raw_html=hostile)

    response = admin_client.get(change_url(generation))

    assert response.status_code == 200
    page = response.content.decode()
    frames = re.findall(r"<iframe[^>]*>", page)
    assert len(frames) == 2  # the completed variants; a failed one has no page to show
    for frame in frames:
        assert 'sandbox="allow-scripts"' in frame
        assert "allow-same-origin" not in frame
        assert 'loading="lazy"' in frame
    assert f'src="/api/generations/{generation.id}/variants/0/html"' in frames[0]
    assert "<details><summary>post-processed HTML" in page
    assert "&lt;script&gt;alert(document.cookie)&lt;/script&gt;" in page
    assert "<script>alert(" not in page  # the code is shown, never run, on the admin's origin
    assert f'src="/g/{generation.id}/screenshot"' in page


def test_nothing_can_be_changed_added_or_deleted(admin_client):
    generation = make_generation(("completed", "failed", "completed", "failed"))
    before = _stored(generation)

    response = admin_client.post(
        change_url(generation),
        {
            "status": "completed",
            "instructions": "changed",
            "variants-TOTAL_FORMS": "4",
            "variants-INITIAL_FORMS": "4",
            "variants-0-html": "<p>changed</p>",
            "_save": "Save",
        },
    )

    assert response.status_code == 403
    assert _stored(generation) == before
    assert admin_client.get(f"{LIST_URL}add/").status_code == 403
    assert admin_client.get(f"{LIST_URL}{generation.id}/delete/").status_code == 403
    assert admin_client.post(f"{LIST_URL}{generation.id}/delete/", {"post": "yes"}).status_code == (
        403
    )
    assert Generation.objects.filter(id=generation.id).exists()
    page = admin_client.get(LIST_URL).content.decode()
    assert "delete_selected" not in page
    assert 'name="_save"' not in admin_client.get(change_url(generation)).content.decode()


def _stored(generation) -> tuple:
    stored = Generation.objects.values().get(id=generation.id)
    variants = list(Variant.objects.filter(generation=generation).values().order_by("index"))
    return stored, variants


def test_a_staff_member_without_view_permission_sees_nothing(client):
    staff = get_user_model().objects.create_user("clerk", password="x", is_staff=True)
    client.force_login(staff)
    generation = make_generation()

    assert client.get(LIST_URL).status_code == 403
    assert client.get(change_url(generation)).status_code == 403


# ---------------------------------------------------------------------------------- actions


def test_retry_action_reruns_a_failed_generation_and_refuses_others(admin_client, live_models):
    failed = make_generation(("completed", "failed", "completed", "failed"))
    completed = make_generation()
    running = make_generation(("pending",) * 4, status="running")

    response = post_action(admin_client, "retry_selected", [failed, completed, running])

    assert response.status_code == 302
    notes = messages_of(response)
    assert f"{failed.id}: retried, now running." in notes
    assert any(n.startswith(f"{completed.id}: refused (nothing_to_retry)") for n in notes)
    assert any(n.startswith(f"{running.id}: refused (conflict)") for n in notes)
    # A sync test has no server loop to keep the run going; the retry itself is what counts.
    assert Generation.objects.get(id=failed.id).status == "running"
    assert list(
        Variant.objects.filter(generation=failed).order_by("index").values_list("status", flat=True)
    ) == ["completed", "pending", "completed", "pending"]
    assert Generation.objects.get(id=completed.id).status == "completed"


async def test_retry_action_under_asgi_runs_to_completion(async_client, live_models):
    """Served as daphne serves it, the retried run lives on the server's loop and finishes."""
    admin = await database_sync_to_async(get_user_model().objects.create_superuser)(
        "root",
        password="x",
    )
    await async_client.aforce_login(admin)
    failed = await database_sync_to_async(make_generation)(("completed", "failed") * 2)

    response = await async_client.post(
        LIST_URL, {"action": "retry_selected", "_selected_action": [str(failed.id)], "index": 0}
    )

    assert response.status_code == 302
    generation = await _wait_for_end(failed.id)
    assert generation.status == "completed"
    assert sorted(r["model"] for r in live_models.requests) == [
        "gpt-4.1-2025-04-14",
        "gpt-4o-2024-08-06",
    ]
    # The run used this test loop's model client: close its pooled connections with the loop.
    await model_client.close_client()


async def _wait_for_end(generation_id, timeout: float = 30) -> Generation:
    # channels' wrapper, not Django's aget(): it closes the connection it opens in its thread.
    get = database_sync_to_async(Generation.objects.get)
    async with asyncio.timeout(timeout):
        while True:
            generation = await get(id=generation_id)
            if generation.status not in ("started", "running"):
                return generation
            await asyncio.sleep(0.05)  # the run is in this loop; polling lets it progress


def test_export_action_downloads_json_lines_the_import_command_accepts(admin_client):
    generations = [with_costs(make_generation(), ["0.010000"] * 4), make_generation(("failed",))]

    response = post_action(admin_client, "export_selected", generations)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/jsonl"
    assert re.match(
        r'attachment; filename="clonegen-generations-[\d-]+\.jsonl"',
        response["Content-Disposition"],
    )
    content = b"".join(response.streaming_content).decode()
    records = [json.loads(line) for line in content.splitlines()]
    assert {r["generation"]["id"] for r in records} == {str(g.id) for g in generations}
    Generation.objects.all().delete()

    out = io.StringIO()
    call_command("import_generations", "-", stdin=io.StringIO(content), stdout=out)

    assert out.getvalue().strip() == "imported 2, skipped 0"
    assert Variant.objects.filter(cost_usd=Decimal("0.010000")).count() == 4


async def test_export_action_under_asgi_streams_the_same_lines(async_client):
    admin = await database_sync_to_async(get_user_model().objects.create_superuser)(
        "root",
        password="x",
    )
    await async_client.aforce_login(admin)
    generations = [await database_sync_to_async(make_generation)() for _ in range(3)]
    selected = [str(g.id) for g in generations[:2]]

    response = await async_client.post(
        LIST_URL, {"action": "export_selected", "_selected_action": selected, "index": 0}
    )

    assert response.status_code == 200
    assert response.is_async  # streamed chunk by chunk, not read whole into memory
    content = b"".join([chunk async for chunk in response.streaming_content]).decode()
    expected = await database_sync_to_async(_export_ids)(selected)
    assert content == expected
    assert len(content.splitlines()) == 2


def _export_ids(ids: list[str]) -> str:
    out = io.StringIO()
    call_command("export_generations", "--ids", *ids, stdout=out, stderr=io.StringIO())
    return out.getvalue()
