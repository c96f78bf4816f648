"""Edits, lineages and re-runs (contract §8), over REST and the socket: what a client sees."""

import base64
import json

import pytest
from channels.db import database_sync_to_async
from django.db.models import ProtectedError

from generations import services, transfer
from generations.errors import AppError
from generations.messages import messages_for
from generations.models import Generation, Variant
from generations.prompts import EDIT_PROMPT_VERSION, EDIT_SYSTEM_PROMPTS, PROMPT_VERSION
from tests.factories import make_generation, page_html
from tests.support import data_url, png_bytes

pytestmark = pytest.mark.django_db(transaction=True)

create = database_sync_to_async(make_generation)
ACTIVE = ("started", "running")


async def post_json(client, path: str, payload):
    return await client.post(path, json.dumps(payload), content_type="application/json")


def data_of(response, status: int):
    assert response.status_code == status, response.content[:500]
    return response.json()["data"]


def error_code(response, status: int) -> str:
    assert response.status_code == status, response.content[:500]
    return response.json()["error"]["code"]


async def follow_to_the_end(connect, generation_id: str) -> str:
    communicator = await connect()
    await communicator.send_json_to({"type": "subscribe", "generation_id": generation_id})
    frame = await communicator.receive_json_from(timeout=10)
    status = frame["status"]
    while status in ACTIVE:
        frame = await communicator.receive_json_from(timeout=30)
        if frame["type"] == "generation.finished":
            status = frame["status"]
    await communicator.disconnect()
    return status


def user_messages(standin) -> list[list[dict]]:
    return [body["messages"][1]["content"] for body in standin.requests]


# ------------------------------------------------------------------------------- edits


async def test_an_edit_asks_every_model_with_the_parent_screenshot_html_and_instruction(
    async_client, live_models, connect
):
    parent = await create()
    response = await post_json(
        async_client,
        f"/api/generations/{parent.id}/edits",
        {"index": 2, "instructions": "make the header blue"},
    )

    edit = data_of(response, 202)
    assert edit["kind"] == "edit"
    assert edit["parent"] == {"id": str(parent.id), "index": 2}
    assert edit["root_id"] == str(parent.id)
    assert edit["prompt_version"] == EDIT_PROMPT_VERSION
    assert edit["id"] != str(parent.id)
    assert await follow_to_the_end(connect, edit["id"]) == "completed"

    sent = user_messages(live_models)
    assert len(sent) == 4  # the same prompt for all four models
    assert all(content == sent[0] for content in sent)
    image, text = sent[0]
    parent_png = base64.b64encode(png_bytes()).decode()
    assert image["image_url"]["url"] == f"data:image/png;base64,{parent_png}"
    assert page_html(2) in text["text"]
    assert page_html(0) not in text["text"]
    assert text["text"].endswith("make the header blue")
    assert live_models.requests[0]["messages"][0]["content"] == EDIT_SYSTEM_PROMPTS["html_tailwind"]
    stored = await Generation.objects.aget(id=edit["id"])
    assert stored.instructions == "make the header blue"
    assert stored.screenshot.name != parent.screenshot.name  # its own copy


async def test_an_edit_of_an_edit_stays_in_the_lineage_and_root_lists_it(
    async_client, live_models, connect
):
    root = await create()
    other = await create()
    first = data_of(
        await post_json(
            async_client, f"/api/generations/{root.id}/edits", {"index": 0, "instructions": "a"}
        ),
        202,
    )
    assert await follow_to_the_end(connect, first["id"]) == "completed"
    second = data_of(
        await post_json(
            async_client, f"/api/generations/{first['id']}/edits", {"index": 3, "instructions": "b"}
        ),
        202,
    )
    assert second["parent"] == {"id": first["id"], "index": 3}
    assert second["root_id"] == str(root.id)

    detail = data_of(await async_client.get(f"/api/generations/{root.id}"), 200)
    assert (detail["kind"], detail["parent"], detail["root_id"]) == ("clone", None, str(root.id))
    assert detail["source_url"] is None

    listed = data_of(await async_client.get(f"/api/generations?root={root.id}"), 200)
    assert {g["id"] for g in listed["results"]} == {str(root.id), first["id"], second["id"]}
    alone = data_of(await async_client.get(f"/api/generations?root={other.id}"), 200)
    assert [g["id"] for g in alone["results"]] == [str(other.id)]
    assert error_code(await async_client.get("/api/generations?root=nope"), 400) == "invalid_field"
    await follow_to_the_end(connect, second["id"])


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"index": 4, "instructions": "x"}, 400, "invalid_field"),  # out of range
        ({"index": -1, "instructions": "x"}, 400, "invalid_field"),
        ({"index": "0", "instructions": "x"}, 400, "invalid_field"),
        ({"index": True, "instructions": "x"}, 400, "invalid_field"),
        ({"instructions": "x"}, 400, "invalid_field"),
        ({"index": 0}, 400, "invalid_field"),
        ({"index": 0, "instructions": "   "}, 400, "invalid_field"),
        ({"index": 0, "instructions": 5}, 400, "invalid_field"),
        ({"index": 0, "instructions": "x" * 4001}, 400, "invalid_field"),
        ({"index": 1, "instructions": "x"}, 409, "conflict"),  # variant 1 failed
        ({"index": 3, "instructions": "x"}, 409, "conflict"),  # still streaming
    ],
)
async def test_a_bad_edit_gets_its_code_and_starts_nothing(async_client, payload, status, code):
    parent = await create(("completed", "failed", "completed", "streaming"), status="running")
    response = await post_json(async_client, f"/api/generations/{parent.id}/edits", payload)
    assert error_code(response, status) == code
    assert await Generation.objects.acount() == 1


async def test_an_edit_of_an_unknown_or_malformed_id_is_refused(async_client):
    body = {"index": 0, "instructions": "x"}
    unknown = "00000000-0000-4000-8000-000000000000"
    assert (
        error_code(await post_json(async_client, f"/api/generations/{unknown}/edits", body), 404)
        == "not_found"
    )
    assert (
        error_code(await post_json(async_client, "/api/generations/nope/edits/", body), 400)
        == "invalid_id"
    )


async def test_an_edit_counts_against_the_rate_limit(async_client, settings, live_models):
    settings.CLONEGEN_RATE_LIMIT = "1/hour"
    parent = await create()  # made without a client: not this client's
    body = {"index": 0, "instructions": "x"}
    assert (
        await post_json(async_client, f"/api/generations/{parent.id}/edits", body)
    ).status_code == 202
    refused = await post_json(async_client, f"/api/generations/{parent.id}/edits", body)
    assert error_code(refused, 429) == "rate_limited"


async def test_an_edit_over_the_socket_is_followed_like_a_generate(live_models, connect):
    parent = await create()
    communicator = await connect()
    await communicator.send_json_to(
        {"type": "edit", "generation_id": str(parent.id), "index": 1, "instructions": "bigger"}
    )
    started = await communicator.receive_json_from(timeout=10)
    assert started["type"] == "generation.started"
    assert [v["index"] for v in started["variants"]] == [0, 1, 2, 3]
    frame = started
    while frame["type"] != "generation.finished":
        frame = await communicator.receive_json_from(timeout=30)
        assert frame["generation_id"] == started["generation_id"]
    assert frame["status"] == "completed"
    edit = await Generation.objects.aget(id=started["generation_id"])
    assert (edit.kind, edit.parent_id, edit.parent_index) == ("edit", parent.id, 1)
    await communicator.disconnect()


async def test_bad_edits_over_the_socket_get_error_frames_and_the_socket_stays(connect):
    parent = await create(("completed", "failed", "completed", "completed"))
    communicator = await connect()
    cases = [
        ({"generation_id": "nope", "index": 0, "instructions": "x"}, "invalid_id"),
        (
            {
                "generation_id": "00000000-0000-4000-8000-000000000000",
                "index": 0,
                "instructions": "x",
            },
            "not_found",
        ),
        ({"generation_id": str(parent.id), "index": 9, "instructions": "x"}, "invalid_field"),
        ({"generation_id": str(parent.id), "index": 0, "instructions": ""}, "invalid_field"),
        ({"generation_id": str(parent.id), "index": 1, "instructions": "x"}, "conflict"),
    ]
    for fields, code in cases:
        await communicator.send_json_to({"type": "edit", **fields})
        frame = await communicator.receive_json_from(timeout=10)
        assert (frame["type"], frame["code"]) == ("error", code), fields
    await communicator.send_json_to({"type": "subscribe", "generation_id": str(parent.id)})
    assert (await communicator.receive_json_from(timeout=10))["type"] == "generation.snapshot"
    assert await Generation.objects.acount() == 1
    await communicator.disconnect()


def test_messages_for_an_edit_carry_the_shown_html_of_the_parent_variant():
    parent = make_generation()
    Variant.objects.filter(generation=parent, index=1).update(html="<html>processed</html>")
    edit = _edit_of(parent, 1, "make it green", stack="html_css")
    messages = messages_for(edit, "data:image/png;base64,AA==")
    assert messages[0]["content"] == EDIT_SYSTEM_PROMPTS["html_css"]
    assert "<html>processed</html>" in messages[1]["content"][1]["text"]
    clone = messages_for(parent, "data:image/png;base64,AA==")
    assert "Build this page." in clone[1]["content"][1]["text"]
    assert (parent.prompt_version, edit.prompt_version) == (PROMPT_VERSION, EDIT_PROMPT_VERSION)


def _screenshot():
    from generations.images import decode_screenshot

    return decode_screenshot(data_url(png_bytes()), max_bytes=10 * 1024 * 1024)


# ------------------------------------------------------------------------------- re-runs


async def test_a_rerun_reuses_the_stored_screenshot_with_other_instructions(
    async_client, live_models, connect
):
    original = await create()
    response = await post_json(
        async_client,
        "/api/generations",
        {"screenshot_of": str(original.id), "instructions": "dark mode", "stack": "html_css"},
    )
    rerun = data_of(response, 202)
    assert (rerun["kind"], rerun["parent"], rerun["root_id"]) == ("clone", None, rerun["id"])
    assert rerun["stack"] == "html_css"
    assert await follow_to_the_end(connect, rerun["id"]) == "completed"
    stored = await Generation.objects.aget(id=rerun["id"])
    assert stored.instructions == "dark mode"
    assert stored.screenshot.name != original.screenshot.name
    with stored.screenshot.open("rb") as file:
        assert file.read() == png_bytes()
    assert "dark mode" in user_messages(live_models)[0][1]["text"]


async def test_a_rerun_over_the_socket(live_models, connect):
    original = await create()
    communicator = await connect()
    await communicator.send_json_to({"type": "generate", "screenshot_of": str(original.id)})
    started = await communicator.receive_json_from(timeout=10)
    assert started["type"] == "generation.started"
    assert started["generation_id"] != str(original.id)
    await communicator.disconnect()
    assert await follow_to_the_end(connect, started["generation_id"]) == "completed"


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"screenshot_of": "00000000-0000-4000-8000-000000000000"}, 404, "not_found"),
        ({"screenshot_of": "nope"}, 400, "invalid_id"),
        ({}, 400, "invalid_field"),
        ({"image": None, "url": None}, 400, "invalid_field"),
        ({"image": data_url(png_bytes()), "screenshot_of": "ORIGINAL"}, 400, "invalid_field"),
        ({"url": "http://example.com/", "screenshot_of": "ORIGINAL"}, 400, "invalid_field"),
        ({"image": data_url(png_bytes()), "url": "http://example.com/"}, 400, "invalid_field"),
    ],
)
async def test_exactly_one_source_and_a_visible_one(async_client, payload, status, code):
    original = await create()
    payload = {k: str(original.id) if v == "ORIGINAL" else v for k, v in payload.items()}
    response = await post_json(async_client, "/api/generations", payload)
    assert error_code(response, status) == code
    assert await Generation.objects.acount() == 1


# ------------------------------------------------------------------------------- deleting, moving


def test_a_generation_with_children_cannot_be_deleted():
    parent = make_generation()
    child = _edit_of(parent, 0, "x")
    with pytest.raises(AppError) as refused:
        services.ensure_deletable(generation=parent)
    assert refused.value.code == "conflict"
    assert "1 later version" in refused.value.message
    with pytest.raises(ProtectedError):
        parent.delete()
    services.ensure_deletable(generation=child)  # a leaf may go
    child.delete()
    services.ensure_deletable(generation=parent)


def test_export_and_import_keep_the_lineage():
    root = make_generation()
    child = _edit_of(root, 2, "x", source_url="https://example.com/")
    grandchild = _edit_of(child, 0, "y")
    lines = list(transfer.export_lines(transfer.generations_to_export()))
    root_id, child_id, grandchild_id = root.id, child.id, grandchild.id
    for generation in (grandchild, child, root):  # leaves first
        generation.delete()

    assert transfer.import_lines(lines).imported == 3
    restored = {g.id: g for g in Generation.objects.all()}
    assert (restored[root_id].root_id, restored[root_id].parent_id) == (root_id, None)
    assert (restored[child_id].parent_id, restored[child_id].parent_index) == (root_id, 2)
    assert restored[child_id].source_url == "https://example.com/"
    grandchild = restored[grandchild_id]
    assert (grandchild.kind, grandchild.parent_id, grandchild.root_id) == (
        "edit",
        child_id,
        root_id,
    )


def test_importing_a_child_before_its_parent_says_which_is_missing():
    root = make_generation()
    child = _edit_of(root, 0, "x")
    lines = list(transfer.export_lines(transfer.generations_to_export()))
    root_id = root.id
    child.delete()
    root.delete()
    with pytest.raises(transfer.TransferError, match=f"line 1: .*{root_id}.*not stored"):
        transfer.import_lines(reversed(lines))


# ------------------------------------------------------------------------------- who may, retries


def _edit_of(
    parent, index: int = 0, instructions: str = "x", stack: str = "html_tailwind", **fields
) -> Generation:
    return services.generation_create(
        screenshot=_screenshot(),
        instructions=instructions,
        stack=stack,
        variants=(),
        parent=parent,
        parent_index=index,
        **fields,
    )


async def test_someone_elses_generation_can_be_neither_edited_nor_rerun(settings):
    from django.contrib.auth.models import User
    from django.test import AsyncClient

    settings.CLONEGEN_REQUIRE_LOGIN = True
    owner, other = (
        await User.objects.acreate(username="ada"),
        await User.objects.acreate(username="bob"),
    )
    theirs = await create()
    await Generation.objects.filter(id=theirs.id).aupdate(owner=owner)
    client = AsyncClient()
    await client.aforce_login(other)
    edit = await post_json(
        client, f"/api/generations/{theirs.id}/edits", {"index": 0, "instructions": "x"}
    )
    assert error_code(edit, 404) == "not_found"
    rerun = await post_json(client, "/api/generations", {"screenshot_of": str(theirs.id)})
    assert error_code(rerun, 404) == "not_found"
    await client.aforce_login(owner)
    mine = await post_json(client, "/api/generations", {"screenshot_of": str(theirs.id)})
    assert mine.status_code == 202


async def test_a_retried_edit_asks_with_the_edit_prompt_again(async_client, live_models, connect):
    from demo.faults import Fault

    parent = await create()
    live_models.add_fault("gpt-4.1-2025-04-14", Fault(status=400))  # final: no retry inside
    edit = data_of(
        await post_json(
            async_client,
            f"/api/generations/{parent.id}/edits",
            {"index": 0, "instructions": "rounder corners"},
        ),
        202,
    )
    assert await follow_to_the_end(connect, edit["id"]) == "partial"
    live_models.requests.clear()
    retried = await async_client.post(f"/api/generations/{edit['id']}/retry")
    assert retried.status_code == 202
    assert await follow_to_the_end(connect, edit["id"]) == "completed"
    (again,) = live_models.requests
    assert again["messages"][0]["content"] == EDIT_SYSTEM_PROMPTS["html_tailwind"]
    assert again["messages"][1]["content"][1]["text"].endswith("rounder corners")


# ------------------------------------------------------------------------------- the pages


def test_a_generation_page_shows_its_lineage(client):
    root = make_generation()
    edit = _edit_of(root, 1, "make the header blue")
    later = _edit_of(edit, 0, "and the footer")

    page = client.get(f"/g/{edit.id}").content.decode()
    assert f'href="/g/{root.id}"' in page
    assert "edit of variant 2: “make the header blue”" in page
    assert f'href="/g/{later.id}"' in page  # made from this version
    assert "from variant 1: “and the footer”" in page

    root_page = client.get(f"/g/{root.id}").content.decode()
    assert "the first clone" in root_page
    assert f'href="/g/{edit.id}"' in root_page
    assert f'href="/g/{later.id}"' not in root_page  # a grandchild is reached through its parent


def test_a_captured_page_says_where_it_came_from_and_when_it_was_cut(client, settings):
    settings.CLONEGEN_URL_MAX_PAGE_HEIGHT = 4096
    whole = make_generation(source_url="https://example.com/short", screenshot_height=900)
    cut = make_generation(source_url="https://example.com/long", screenshot_height=4096)
    whole_page = client.get(f"/g/{whole.id}").content.decode()
    assert "Captured from" in whole_page
    assert 'id="capture-cut"' not in whole_page
    cut_page = client.get(f"/g/{cut.id}").content.decode()
    assert 'id="capture-cut"' in cut_page
    assert "at least 4096 px tall" in cut_page


def test_the_history_groups_a_lineage_under_its_root(client):
    root = make_generation()
    edit = _edit_of(root, 2, "make the header blue")
    alone = make_generation()

    page = client.get("/history").content.decode()
    assert page.count('class="history-item card"') == 2  # the two roots
    assert f'data-id="{root.id}"' in page
    assert f'data-id="{alone.id}"' in page
    assert f'<li data-id="{edit.id}"><a href="/g/{edit.id}">' in page
    assert "edit of variant 3: “make the header blue”" in page


def test_the_schema_documents_edits_sources_and_the_lineage(client):
    schema = client.get("/api/schema?format=json").json()
    paths = schema["paths"]
    edits = next(
        path for path in paths if path.startswith("/api/generations/{generation_id}/edits")
    )
    assert "202" in paths[edits]["post"]["responses"]
    listing = next(path for path in paths if path.rstrip("/") == "/api/generations")
    assert "root" in {p["name"] for p in paths[listing]["get"]["parameters"]}
    components = schema["components"]["schemas"]
    assert {"image", "url", "screenshot_of"} <= set(components["GenerateRequest"]["properties"])
    assert {"index", "instructions"} <= set(components["EditRequest"]["properties"])
    generation = components["Generation"]["properties"]
    assert {"kind", "parent", "root_id", "source_url"} <= set(generation)
