"""The seed's promise: a result a model produced is never lost because a socket closed.

Covers: the schema comes from migrations; the record exists before any model is called; the
HTML is stored and restored over REST; and, against a real daphne process with a real socket
client, a socket aborted right after `generation.started` or after the first chunk.
"""

import sqlite3
import subprocess
import sys
import threading
import uuid

import pytest
from django.db import connection

from generations.models import Generation, GenerationStatus
from tests.socket_client import SocketClient
from tests.support import (
    DEFAULT_MODELS,
    REPO,
    TEST_API_KEY,
    html_inside,
)


def test_migrate_creates_the_schema(tmp_path):
    database = tmp_path / "fresh.sqlite3"
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{database}",
        "CLONEGEN_DATA_DIR": str(tmp_path),
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=REPO, env=env, check=True
    )
    with sqlite3.connect(database) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        journal_mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    assert {"generations_generation", "generations_variant"} <= tables
    assert journal_mode == "wal"


@pytest.mark.django_db(transaction=True)
async def test_record_is_committed_before_any_model_is_called(live_models, connect):
    seen_at_model_call = []

    def read_committed_ids() -> None:
        # A thread of its own has its own connection, which sees only committed rows.
        seen_at_model_call.append(list(Generation.objects.values_list("id", flat=True)))
        connection.close()

    def check_record(body: dict) -> None:
        reader = threading.Thread(target=read_committed_ids)
        reader.start()
        reader.join()

    live_models.on_request = check_record
    socket = SocketClient(await connect())
    generation_id = (await socket.generate_and_follow()).generation_id
    await socket.close()

    assert len(seen_at_model_call) == len(DEFAULT_MODELS)
    for ids_committed in seen_at_model_call:
        assert ids_committed == [uuid.UUID(generation_id)]


async def wait_until_finished(server, generation_id: str) -> str:
    """Follow the generation on a new socket until it ends; return its final status."""
    socket = await SocketClient.over_tcp(server)
    followed = await socket.subscribe_and_follow(generation_id)
    await socket.close()
    return followed.status


def assert_all_variants_stored(server, standin, generation_id: str) -> None:
    answer = server.get(f"/api/generations/{generation_id}")
    assert answer.status_code == 200
    generation = answer.json()["data"]
    assert generation["status"] == GenerationStatus.COMPLETED
    assert [v["status"] for v in generation["variants"]] == ["completed"] * 4
    for variant in generation["variants"]:
        served = standin.text_for(variant["model"])
        assert variant["raw_html"] == html_inside(served)  # byte-identical to what was served
        assert variant["text"] == served
        assert variant["html"]


@pytest.mark.e2e
@pytest.mark.parametrize("abort_after", ["generation.started", "variant.chunk"])
async def test_aborted_socket_loses_nothing(daphne, standin, abort_after):
    standin.chunks_per_second = 60  # a realistic pace, so the abort lands mid-stream
    server = daphne()
    socket = await SocketClient.over_tcp(server)
    generation_id = (await socket.generate())["generation_id"]
    if abort_after == "variant.chunk":
        await socket.until("variant.chunk")
    socket.connection.transport.abort()  # the TCP connection dies with no closing handshake

    assert standin.streams_finished < len(DEFAULT_MODELS), "the abort must land mid-stream"
    assert await wait_until_finished(server, generation_id) == "completed"
    assert_all_variants_stored(server, standin, generation_id)


@pytest.mark.e2e
async def test_api_key_never_leaks(daphne, standin, tmp_path):
    server = daphne()
    socket = await SocketClient.over_tcp(server)
    generation_id = (await socket.generate())["generation_id"]
    await socket.close()
    await wait_until_finished(server, generation_id)
    assert f"Bearer {TEST_API_KEY}" in standin.auth_headers  # the key really was in use

    answers = [
        server.get(path).text
        for path in (
            f"/api/generations/{generation_id}",
            "/api/generations",
            "/api/health",
            "/api/schema",
            "/",
            "/static/generations/app.js",
            f"/api/generations/{generation_id}/variants/0/html",
        )
    ]
    server.stop()
    stored = b"".join(path.read_bytes() for path in tmp_path.rglob("*") if path.is_file())
    assert TEST_API_KEY not in server.read_log()
    assert TEST_API_KEY.encode() not in stored
    for answer in answers:
        assert TEST_API_KEY not in answer
