"""The REST API of contract §7, in process: envelopes, statuses, codes and the generation object."""

import json
import re
import uuid
from datetime import datetime, timedelta
from unittest.mock import ANY

import pytest
import yaml
from channels.db import database_sync_to_async
from django.utils import timezone

from generations.model_status import configured_models
from generations.models import Generation
from tests.factories import make_generation, page_html
from tests.socket_client import SocketClient
from tests.support import DEFAULT_MODELS, data_url, html_inside, png_bytes

pytestmark = pytest.mark.django_db(transaction=True)

ACTIVE = ("started", "running")
ENDED = ("completed", "partial", "failed", "cancelled", "interrupted")


# --------------------------------------------------------------------------- helpers


create = database_sync_to_async(make_generation)


async def wait_until_finished(connect, generation_id: str) -> str:
    """Follow the generation on a socket until it ends; return its final status."""
    socket = SocketClient(await connect())
    followed = await socket.subscribe_and_follow(generation_id)
    await socket.close()
    assert followed.frames[0]["type"] == "generation.snapshot", followed.frames[0]
    return followed.status


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body == {"success": False, "error": {"code": code, "message": ANY}}
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]


def data_of(response, status: int = 200):
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert body["success"] is True
    assert set(body) == {"success", "data"}
    return body["data"]


async def post_json(client, path: str, payload=None):
    return await client.post(path, json.dumps(payload or {}), content_type="application/json")


# --------------------------------------------------------------------------- create and read


async def test_post_starts_a_generation_that_completes(async_client, live_models, connect):
    response = await post_json(async_client, "/api/generations", {"image": data_url(png_bytes())})

    started = data_of(response, 202)
    assert started["status"] in ACTIVE
    assert uuid.UUID(started["id"])
    assert [v["index"] for v in started["variants"]] == [0, 1, 2, 3]
    assert [v["requested_model"] for v in started["variants"]] == list(DEFAULT_MODELS)
    assert await wait_until_finished(connect, started["id"]) == "completed"

    generation = data_of(await async_client.get(f"/api/generations/{started['id']}"))
    assert generation["id"] == started["id"]
    assert generation["status"] == "completed"
    assert datetime.fromisoformat(generation["created_at"]).tzinfo is not None
    assert isinstance(generation["duration_ms"], int)
    for variant in generation["variants"]:
        assert variant["status"] == "completed"
        assert variant["model"] == variant["requested_model"]
        assert variant["raw_html"] == html_inside(live_models.text_for(variant["model"]))
        assert variant["html"]
        assert variant["text"] == live_models.text_for(variant["model"])
        assert variant["finish_reason"] == "stop"
        assert variant["error"] is None
    first = generation["variants"][0]
    assert (generation["html"], generation["model"]) == (first["html"], first["model"])
    assert sorted(r["model"] for r in live_models.requests) == sorted(DEFAULT_MODELS)


async def test_list_is_newest_first_and_paginated(async_client):
    now = timezone.now()
    ids = [str((await create(created_at=now - timedelta(minutes=m))).id) for m in (3, 1, 2)]
    newest_first = [ids[1], ids[2], ids[0]]

    page = data_of(await async_client.get("/api/generations"))
    assert set(page) == {"count", "next", "previous", "results"}
    assert page["count"] == 3
    assert [g["id"] for g in page["results"]] == newest_first
    assert page["next"] is None
    assert page["previous"] is None

    first = data_of(await async_client.get("/api/generations?page_size=2"))
    assert [g["id"] for g in first["results"]] == newest_first[:2]
    assert first["previous"] is None
    second = data_of(await async_client.get(first["next"]))
    assert [g["id"] for g in second["results"]] == newest_first[2:]
    assert second["next"] is None
    assert second["previous"]
    assert len(second["results"][0]["variants"]) == 4


async def test_page_size_is_bounded(async_client):
    await database_sync_to_async(Generation.objects.bulk_create)(
        Generation(
            prompt_version="test",
            screenshot="screenshots/none.png",
            screenshot_type="image/png",
            screenshot_bytes=1,
            screenshot_width=1,
            screenshot_height=1,
        )
        for _ in range(101)
    )
    page = data_of(await async_client.get("/api/generations?page_size=1000"))
    assert page["count"] == 101
    assert len(page["results"]) == 100
    assert page["next"]


async def test_detail_of_unknown_and_malformed_ids(async_client):
    assert_error(await async_client.get(f"/api/generations/{uuid.uuid4()}"), 404, "not_found")
    assert_error(await async_client.get("/api/generations/not-a-uuid"), 400, "invalid_id")
    assert_error(await async_client.get("/api/generations/123"), 400, "invalid_id")


# --------------------------------------------------------------------------- trailing slashes


def endpoints(generation_id: str) -> list[tuple[str, str, dict | None, int]]:
    """(method, path, JSON body, expected status) for every §7 endpoint."""
    base = f"/api/generations/{generation_id}"
    return [
        ("GET", "/api/generations", None, 200),
        ("POST", "/api/generations", {}, 400),
        ("GET", base, None, 200),
        ("POST", f"{base}/retry", None, 409),
        ("POST", f"{base}/cancel", None, 409),
        ("POST", f"{base}/choose", {"index": 1}, 200),
        ("GET", f"{base}/variants/0/html", None, 200),
        ("GET", "/api/health", None, 200),
        ("GET", "/api/schema", None, 200),
    ]


async def test_every_endpoint_answers_with_and_without_slash(async_client):
    generation = await create()
    for method, path, body, expected in endpoints(str(generation.id)):
        for variant_path in (path, path + "/"):
            if method == "GET":
                response = await async_client.get(variant_path)
            else:
                response = await post_json(async_client, variant_path, body)
            assert response.status_code == expected, (method, variant_path, response.content)


# --------------------------------------------------------------------------- choose


async def test_choose_makes_that_variant_the_result(async_client):
    generation = await create(("completed", "completed", "failed", "completed"))
    path = f"/api/generations/{generation.id}"
    before = data_of(await async_client.get(path))
    assert (before["html"], before["model"]) == (page_html(0), DEFAULT_MODELS[0])

    chosen = data_of(await post_json(async_client, f"{path}/choose", {"index": 3}))
    assert (chosen["html"], chosen["model"]) == (page_html(3), DEFAULT_MODELS[3])
    stored = data_of(await async_client.get(path))
    assert (stored["html"], stored["model"]) == (page_html(3), DEFAULT_MODELS[3])


@pytest.mark.parametrize(
    "body",
    [{"index": 2}, {"index": 9}, {"index": -1}, {"index": "1"}, {"index": True}, {}],
    ids=["failed", "absent", "negative", "string", "bool", "missing"],
)
async def test_choose_refuses_a_bad_index(async_client, body):
    generation = await create(("completed", "completed", "failed", "completed"))
    response = await post_json(async_client, f"/api/generations/{generation.id}/choose", body)
    assert_error(response, 400, "invalid_field")
    stored = data_of(await async_client.get(f"/api/generations/{generation.id}"))
    assert stored["model"] == DEFAULT_MODELS[0]


async def test_choose_unknown_and_malformed_ids(async_client):
    body = {"index": 0}
    unknown = await post_json(async_client, f"/api/generations/{uuid.uuid4()}/choose", body)
    assert_error(unknown, 404, "not_found")
    malformed = await post_json(async_client, "/api/generations/nope/choose", body)
    assert_error(malformed, 400, "invalid_id")


# --------------------------------------------------------------------------- variant html


async def test_variant_html_is_a_sandboxed_page(async_client):
    generation = await create()
    response = await async_client.get(f"/api/generations/{generation.id}/variants/2/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert response["Content-Security-Policy"] == "sandbox allow-scripts"
    assert response.content.decode() == page_html(2)


async def test_variant_html_not_found(async_client):
    generation = await create(("completed", "failed", "completed", "completed"))
    for path in (
        f"/api/generations/{uuid.uuid4()}/variants/0/html",
        f"/api/generations/{generation.id}/variants/9/html",
        f"/api/generations/{generation.id}/variants/1/html",
    ):
        assert_error(await async_client.get(path), 404, "not_found")
    malformed = await async_client.get("/api/generations/nope/variants/0/html")
    assert_error(malformed, 400, "invalid_id")


# --------------------------------------------------------------------------- retry and cancel


async def test_retry_of_a_completed_generation(async_client):
    generation = await create()
    response = await async_client.post(f"/api/generations/{generation.id}/retry")
    assert_error(response, 409, "nothing_to_retry")


async def test_retry_of_a_running_generation(async_client):
    generation = await create(("pending",) * 4, status="running")
    response = await async_client.post(f"/api/generations/{generation.id}/retry")
    assert_error(response, 409, "conflict")


async def test_retry_reruns_only_unfinished_variants(async_client, live_models, connect):
    generation = await create(("completed", "failed", "completed", "cancelled"))
    response = await async_client.post(f"/api/generations/{generation.id}/retry")

    retried = data_of(response, 202)
    assert retried["status"] == "running"
    assert [v["status"] for v in retried["variants"]] == [
        "completed",
        "pending",
        "completed",
        "pending",
    ]
    assert await wait_until_finished(connect, retried["id"]) == "completed"
    assert sorted(r["model"] for r in live_models.requests) == [
        DEFAULT_MODELS[1],
        DEFAULT_MODELS[3],
    ]
    stored = data_of(await async_client.get(f"/api/generations/{generation.id}"))
    by_index = {v["index"]: v for v in stored["variants"]}
    assert by_index[0]["html"] == page_html(0)
    assert by_index[2]["html"] == page_html(2)
    model = DEFAULT_MODELS[1]
    assert by_index[1]["raw_html"] == html_inside(live_models.text_for(model))


@pytest.mark.parametrize("status", ["completed", "partial", "failed", "cancelled"])
async def test_cancel_of_an_ended_generation(async_client, status):
    statuses = {
        "completed": ("completed",) * 4,
        "partial": ("completed", "failed", "failed", "failed"),
        "failed": ("failed",) * 4,
        "cancelled": ("cancelled",) * 4,
    }[status]
    generation = await create(statuses, status=status)
    response = await async_client.post(f"/api/generations/{generation.id}/cancel")
    assert_error(response, 409, "conflict")


async def test_cancel_of_an_interrupted_generation(async_client):
    generation = await create(("completed", "interrupted", "interrupted", "completed"))
    response = await async_client.post(f"/api/generations/{generation.id}/cancel")
    assert data_of(response, 202)["status"] == "cancelled"
    stored = data_of(await async_client.get(f"/api/generations/{generation.id}"))
    assert [v["status"] for v in stored["variants"]] == [
        "completed",
        "cancelled",
        "cancelled",
        "completed",
    ]
    assert stored["variants"][1]["text"] == page_html(1)


async def test_cancel_of_a_running_generation(async_client, live_models, connect):
    live_models.chunks_per_second = 20  # slow enough to be caught mid-stream
    response = await post_json(async_client, "/api/generations", {"image": data_url(png_bytes())})
    generation_id = data_of(response, 202)["id"]
    socket = SocketClient(await connect())
    await socket.subscribe(generation_id)
    seen = await socket.until("variant.chunk", timeout=10)

    cancelled = await async_client.post(f"/api/generations/{generation_id}/cancel")
    assert cancelled.status_code == 202
    followed = await socket.follow(generation_id, seen=seen, timeout=10)
    await socket.close()

    assert followed.frames[-1]["type"] == "generation.finished"
    assert followed.status == "cancelled"
    stored = data_of(await async_client.get(f"/api/generations/{generation_id}"))
    assert stored["status"] == "cancelled"
    assert {v["status"] for v in stored["variants"]} == {"cancelled"}
    assert any(v["text"] for v in stored["variants"])


@pytest.mark.parametrize("action", ["retry", "cancel"])
async def test_retry_and_cancel_unknown_and_malformed_ids(async_client, action):
    unknown = await async_client.post(f"/api/generations/{uuid.uuid4()}/{action}")
    assert_error(unknown, 404, "not_found")
    assert_error(await async_client.post(f"/api/generations/x/{action}"), 400, "invalid_id")


# --------------------------------------------------------------------------- health and schema


def _unknown_models() -> list[dict]:
    # Before the background fetch of GET /v1/models, every configured model is unknown.
    return [
        {"model": model, "available": None, "shutdown_date": None} for model in configured_models()
    ]


async def test_health_in_live_mode(async_client, live_models):
    response = await async_client.get("/api/health")
    assert response.json() == {
        "success": True,
        "data": {
            "mode": "live",
            "database": "ok",
            "channel_layer": "ok",
            "models": _unknown_models(),
            "renderer": "off",  # the tests turn renders off (tests/settings.py)
        },
    }


async def test_health_in_demo_mode(async_client, settings):
    settings.OPENAI_API_KEY = ""
    response = await async_client.get("/api/health")
    assert response.json() == {
        "success": True,
        "data": {
            "mode": "demo",
            "database": "ok",
            "channel_layer": "ok",
            "models": _unknown_models(),
            "renderer": "off",  # the tests turn renders off (tests/settings.py)
        },
    }


CONTRACT_OPERATIONS = {
    ("get", "/api/generations"),
    ("post", "/api/generations"),
    ("get", "/api/generations/{}"),
    ("post", "/api/generations/{}/retry"),
    ("post", "/api/generations/{}/cancel"),
    ("post", "/api/generations/{}/choose"),
    ("delete", "/api/generations/{}"),
    ("get", "/api/generations/{}/variants/{}/html"),
    ("get", "/api/health"),
}


def operations(document: dict) -> set[tuple[str, str]]:
    """(method, path) of every operation, path parameters and trailing slash normalised."""
    found = set()
    for path, item in document["paths"].items():
        normal = re.sub(r"\{[^}]+\}", "{}", path).rstrip("/")
        found |= {(method, normal) for method in item if method in {"get", "post", "put", "delete"}}
    return found


@pytest.mark.parametrize("query", ["", "?format=json"])
async def test_schema_is_openapi_3_of_every_endpoint(async_client, query):
    response = await async_client.get("/api/schema" + query)
    assert response.status_code == 200
    parse = json.loads if query else yaml.safe_load
    document = parse(response.content)
    assert str(document["openapi"]).startswith("3.")
    assert operations(document) >= CONTRACT_OPERATIONS


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/api/generations"),
        ("PUT", "/api/generations"),
        ("GET", "/api/generations/{id}/retry"),
        ("GET", "/api/generations/{id}/cancel"),
        ("GET", "/api/generations/{id}/choose"),
        ("POST", "/api/generations/{id}/variants/0/html"),
        ("PATCH", "/api/health"),
        ("DELETE", "/api/schema"),
    ],
)
async def test_wrong_method(async_client, method, path):
    generation = await create()
    response = await async_client.generic(method, path.format(id=generation.id))
    assert_error(response, 405, "method_not_allowed")
    assert response.has_header("Allow")


@pytest.mark.parametrize("path", ["/api/nope", "/api/generations/{id}/variants/x/html"])
async def test_unknown_api_path_is_an_envelope(async_client, path):
    generation = await create()
    assert_error(await async_client.get(path.format(id=generation.id)), 404, "not_found")


async def test_body_over_16_mib(async_client, live_models):
    body = json.dumps({"image": "data:image/png;base64," + "A" * (17 * 1024 * 1024)})
    response = await async_client.post("/api/generations", body, content_type="application/json")
    assert_error(response, 413, "request_too_large")
    assert await Generation.objects.acount() == 0
    assert live_models.requests == []
