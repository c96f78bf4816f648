"""Crafted backups: an import refuses what the API would refuse, an export never stops halfway,
and whatever got stored is served as an image and nothing else."""

import base64
import io
import json
import re
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError

from generations import transfer
from generations.models import Generation
from tests.factories import make_generation
from tests.support import png_bytes
from tests.test_transfer import export, import_text, wipe

pytestmark = pytest.mark.django_db

HTML = b"<!DOCTYPE html><script>fetch('/api/generations')</script>"


def exported_record(**generation_fields) -> dict:
    """The export of one fresh generation, with `generation_fields` changed; the database is
    left empty, as on the machine the backup is restored to."""
    make_generation(("completed", "failed", "completed", "completed"))
    record = json.loads(export())
    wipe()
    record["generation"].update(generation_fields)
    return record


def refused(record: dict, reason: str) -> None:
    """Importing `record` fails on its line, saying `reason`, and stores nothing at all."""
    with pytest.raises(CommandError, match=rf"line 1: .*{reason}"):
        import_text(json.dumps(record) + "\n")
    assert not Generation.objects.exists()
    files = default_storage.listdir("screenshots")[1]
    assert not [name for name in files if name.startswith(str(record["generation"]["id"]))]


# --------------------------------------------------------------------------- E: file names


@pytest.mark.parametrize(
    "name", ["/etc/passwd", "../../etc/passwd", "screenshots/../../x.png", "screenshots/other.png"]
)
@pytest.mark.parametrize("with_bytes", [True, False])
def test_import_refuses_a_screenshot_named_outside_its_place(name, with_bytes):
    record = exported_record(screenshot=name)
    if not with_bytes:
        record["screenshot_base64"] = None
    refused(record, "`screenshot` must be named screenshots/")


def test_export_leaves_out_a_bad_record_reports_it_and_keeps_the_rest(tmp_path, caplog):
    good = make_generation()
    bad = make_generation()
    Generation.objects.filter(id=bad.id).update(screenshot="/etc/passwd")  # an old import
    output = tmp_path / "backup.jsonl"

    with pytest.raises(CommandError, match=f"left out 1 generation.*{bad.id}"):
        call_command("export_generations", "--output", str(output), stderr=io.StringIO())

    lines = output.read_text().splitlines()
    assert [json.loads(line)["generation"]["id"] for line in lines] == [str(good.id)]
    assert str(bad.id) in caplog.text
    with pytest.raises(CommandError, match="left out 1"):
        export()  # standard output too


def test_an_export_that_fails_midway_leaves_the_previous_backup_untouched(tmp_path, monkeypatch):
    make_generation()
    make_generation()
    output = tmp_path / "backup.jsonl"
    output.write_text("yesterday's complete backup\n")
    real_encode = transfer.encode_line
    calls = []

    def encode_then_fail(generation):
        calls.append(generation.id)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return real_encode(generation)

    monkeypatch.setattr(transfer, "encode_line", encode_then_fail)
    with pytest.raises(RuntimeError):
        call_command("export_generations", "--output", str(output), stderr=io.StringIO())

    assert output.read_text() == "yesterday's complete backup\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup.jsonl"]  # no partial file


@pytest.mark.django_db(transaction=True)
def test_admin_export_skips_a_bad_record_and_finishes(admin_client):
    good = make_generation()
    bad = make_generation()
    Generation.objects.filter(id=bad.id).update(screenshot="/etc/passwd")

    response = admin_client.post(
        "/admin/generations/generation/",
        {"action": "export_selected", "_selected_action": [str(good.id), str(bad.id)]},
    )

    content = b"".join(response.streaming_content).decode()
    assert [json.loads(line)["generation"]["id"] for line in content.splitlines()] == [str(good.id)]


@pytest.mark.django_db(transaction=True)
async def test_admin_export_under_asgi_skips_a_bad_record_and_finishes(async_client):
    from django.contrib.auth import get_user_model

    admin = await database_sync_to_async(get_user_model().objects.create_superuser)("root")
    await async_client.aforce_login(admin)
    good = await database_sync_to_async(make_generation)()
    bad = await database_sync_to_async(make_generation)()
    await Generation.objects.filter(id=bad.id).aupdate(screenshot="/etc/passwd")

    response = await async_client.post(
        "/admin/generations/generation/",
        {"action": "export_selected", "_selected_action": [str(good.id), str(bad.id)]},
    )

    content = b"".join([chunk async for chunk in response.streaming_content]).decode()
    assert [json.loads(line)["generation"]["id"] for line in content.splitlines()] == [str(good.id)]


# --------------------------------------------------------------------------- F: field values


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"stack": "evil"}, "`stack`"),
        ({"status": "bogus"}, "`status`"),
        ({"chosen_index": 9}, "`chosen_index`"),
        ({"chosen_index": 1}, "`chosen_index`"),  # variant 1 failed: not a choice the API allows
        ({"instructions": "x" * 4001}, "`instructions`"),
        ({"instructions": "x" * 60_000_000}, "`instructions`"),
        ({"instructions": "x\ud800y"}, "`instructions`"),
        ({"duration_ms": -5}, "`duration_ms`"),
        ({"prompt_version": ""}, "`prompt_version`"),
        ({"client_key": "k" * 65}, "`client_key`"),
        ({"screenshot_width": 100_000, "screenshot_height": 100_000}, "pixels"),
    ],
    ids=lambda value: re.sub(r"\W+", "_", str(value))[:40],
)
def test_import_refuses_what_the_api_would_refuse(fields, reason):
    refused(exported_record(**fields), reason)


@pytest.mark.parametrize(
    ("variant_fields", "reason"),
    [
        ({"status": "exploded"}, "`status`"),
        ({"index": 1}, "same `index`"),
        ({"text": "x" * 1_000_001}, "`text`"),
        ({"attempts": -1}, "`attempts`"),
        ({"model_chain": ""}, "`model_chain`"),
    ],
    ids=lambda value: re.sub(r"\W+", "_", str(value))[:40],
)
def test_import_refuses_bad_variants(variant_fields, reason):
    record = exported_record()
    record["variants"][0].update(variant_fields)
    refused(record, reason)


def test_a_deeply_nested_line_is_refused_not_crashed_on():
    refused_line = '{"format": "clonegen.generation", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(CommandError, match=r"line 1: .*nested"):
        import_text(refused_line + "\n")


@pytest.mark.django_db(transaction=True)
async def test_a_run_that_cannot_start_ends_failed_instead_of_running_forever(live_models, connect):
    """A backup without its screenshot file imports (the record is sound), but a retry cannot
    send the models anything: the run must end, not hang `running` under a live heartbeat."""
    record = await database_sync_to_async(exported_record)()
    record["screenshot_base64"] = None
    await database_sync_to_async(import_text)(json.dumps(record) + "\n")
    generation_id = record["generation"]["id"]

    communicator = await connect()
    await communicator.send_json_to({"type": "retry", "generation_id": generation_id})
    frame = await communicator.receive_json_from(timeout=10)
    while frame["type"] != "generation.finished":
        frame = await communicator.receive_json_from(timeout=10)
    await communicator.disconnect()

    assert frame["status"] == "partial"  # the three completed variants stay completed
    generation = await Generation.objects.prefetch_related("variants").aget(id=generation_id)
    assert generation.status == "partial"
    failed = [v for v in generation.variants.all() if v.status == "failed"]
    assert [(v.index, v.error_code) for v in failed] == [(1, "internal_error")]
    assert live_models.requests == []


# --------------------------------------------------------------------------- G: image types


@pytest.mark.parametrize("mime_type", ["text/html", "application/javascript", "image/svg+xml"])
def test_import_refuses_a_screenshot_type_that_is_not_an_image(mime_type):
    record = exported_record(screenshot_type=mime_type)
    record["screenshot_base64"] = base64.b64encode(HTML).decode()
    refused(record, "`screenshot_type` must be one of")


def test_import_checks_the_screenshot_bytes_by_decoding_them():
    record = exported_record()
    record["screenshot_base64"] = base64.b64encode(HTML).decode()
    refused(record, "`screenshot_base64`: The image could not be decoded")

    record = exported_record(screenshot_type="image/jpeg")
    record["generation"]["screenshot"] = record["generation"]["screenshot"][:-3] + "jpg"
    refused(record, "differ from its record")  # PNG bytes labelled JPEG


def test_a_screenshot_is_served_as_the_image_it_is_sandboxed(client):
    generation = make_generation()
    Generation.objects.filter(id=generation.id).update(screenshot_type="text/html")

    response = client.get(f"/g/{generation.id}/screenshot")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox"
    assert response.content == png_bytes()


def test_a_stored_file_that_is_not_an_image_is_never_served(client):
    generation = make_generation()
    path = Path(default_storage.path(generation.screenshot.name))
    path.write_bytes(HTML)

    response = client.get(f"/g/{generation.id}/screenshot")

    assert response.status_code == 404
    assert b"<script>" not in response.content
