"""export_generations / import_generations: exact round trips, idempotency, SQLite ⇄ PostgreSQL."""

import base64
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError

from generations.models import Generation, Variant
from tests.factories import make_generation
from tests.services_up import skip_unless_reachable
from tests.support import POSTGRES_URL, REDIS_URL, REPO, fresh_postgres_database

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 12, 22, 10, 0, 0, 123456, tzinfo=UTC)


def rich_generation(owner=None, created_at: datetime = T0, **fields) -> Generation:
    """A generation whose values test every distinction a round trip could blur."""
    generation = make_generation(
        ("completed", "failed", "completed", "interrupted"),
        created_at=created_at,
        owner=owner,
        client_key="c" * 64,
        instructions='Make it blue — «exactly» 🎨\r\nline two\ttab \\ "quoted"',
        chosen_index=2,
        run_started_at=created_at + timedelta(microseconds=1),
        finished_at=created_at + timedelta(seconds=3, microseconds=500000),
        duration_ms=3499,
        runner_id="host:42:abcdef12",
        heartbeat_at=created_at + timedelta(seconds=2),
        **fields,
    )
    variant = Variant.objects.filter(generation=generation)
    variant.filter(index=0).update(
        cost_usd=Decimal("0.010000"),
        prompt_tokens=1200,
        completion_tokens=3400,
        max_tokens=16384,
        started_at=created_at,
        first_token_at=created_at + timedelta(milliseconds=800),
        finished_at=created_at + timedelta(seconds=2, microseconds=999999),
        duration_ms=2999,
        attempts=2,
        model="gpt-4o",  # the fallback produced it
    )
    variant.filter(index=1).update(
        error_code="timeout", error_message="The model did not finish.", text="", attempts=3
    )
    # An empty answer ("") is a result; NULL is none: the two must not merge.
    variant.filter(index=2).update(raw_html="", html="", text="", cost_usd=Decimal("0"))
    variant.filter(index=3).update(text="partial ✓ <div>", cost_usd=Decimal("123456.000001"))
    return Generation.objects.get(id=generation.id)


def snapshot() -> dict:
    """Every stored value and screenshot byte, keyed so row order and variant ids do not count."""
    generations = {row["id"]: row for row in Generation.objects.values()}
    variants = {
        (row["generation_id"], row["index"]): {k: v for k, v in row.items() if k != "id"}
        for row in Variant.objects.values()
    }
    files = {}
    for generation in Generation.objects.all():
        with generation.screenshot.open("rb") as stored:
            files[generation.screenshot.name] = stored.read()
    return {"generations": generations, "variants": variants, "files": files}


def wipe() -> None:
    """Remove the generations and their files, as on a fresh machine."""
    for generation in Generation.objects.all():
        generation.screenshot.delete(save=False)
    Generation.objects.all().delete()


def export(*args: str) -> str:
    out = io.StringIO()
    call_command("export_generations", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def import_text(text: str) -> str:
    out = io.StringIO()
    call_command("import_generations", "-", stdin=io.StringIO(text), stdout=out)
    return out.getvalue().strip()


# ---------------------------------------------------------------------------------- in process


def test_round_trip_restores_every_field_and_screenshot_byte():
    alice = get_user_model().objects.create_user("alice")
    rich_generation(owner=alice)
    rich_generation(created_at=T0 + timedelta(days=1))
    make_generation(("pending",) * 4, status="running")
    before = snapshot()
    exported = export()
    wipe()
    assert not any(default_storage.exists(name) for name in before["files"])

    assert import_text(exported) == "imported 3, skipped 0"

    assert snapshot() == before
    assert export() == exported


def test_record_format():
    rich_generation(owner=get_user_model().objects.create_user("alice"))

    record = json.loads(export())

    assert set(record) == {"format", "version", "generation", "variants", "screenshot_base64"}
    assert (record["format"], record["version"]) == ("clonegen.generation", 1)
    stored = Generation.objects.get()
    fields = record["generation"]
    assert fields["owner"] == "alice"
    assert fields["created_at"] == "2025-12-22T10:00:00.123456+00:00"
    assert fields["screenshot"] == f"screenshots/{stored.id}.png"
    assert fields["screenshot_type"] == "image/png"
    with stored.screenshot.open("rb") as png:
        assert base64.b64decode(record["screenshot_base64"]) == png.read()
    assert [v["index"] for v in record["variants"]] == [0, 1, 2, 3]
    assert record["variants"][0]["cost_usd"] == "0.010000"
    assert (record["variants"][1]["raw_html"], record["variants"][2]["raw_html"]) == (None, "")
    assert "id" not in record["variants"][0]


def test_import_is_idempotent_by_id():
    rich_generation()
    rich_generation()
    exported = export()
    wipe()
    assert import_text(exported) == "imported 2, skipped 0"
    before = snapshot()

    assert import_text(exported) == "imported 0, skipped 2"
    assert snapshot() == before


def test_an_unknown_owner_becomes_none_and_a_known_one_is_linked():
    rich_generation(owner=get_user_model().objects.create_user("alice"))
    rich_generation(owner=get_user_model().objects.create_user("bob"))
    exported = export()
    wipe()
    get_user_model().objects.filter(username="bob").delete()

    import_text(exported)

    owners = set(Generation.objects.values_list("owner__username", flat=True))
    assert owners == {"alice", None}


def test_since_and_ids_select_what_is_exported(tmp_path):
    old = rich_generation(created_at=T0)
    new = rich_generation(created_at=T0 + timedelta(days=2))
    other = rich_generation(created_at=T0 + timedelta(days=3))

    def ids(text: str) -> list[str]:
        return [json.loads(line)["generation"]["id"] for line in text.splitlines()]

    assert ids(export()) == [str(old.id), str(new.id), str(other.id)]  # oldest first
    assert ids(export("--since", "2025-12-24")) == [str(new.id), str(other.id)]
    assert ids(export("--since", "2025-12-24T10:00:00.123456Z")) == [str(new.id), str(other.id)]
    assert ids(export("--since", "2025-12-24T10:00:00.123457+00:00")) == [str(other.id)]
    assert ids(export("--since", "2025-12-24T11:00:00.123457+01:00")) == [str(other.id)]
    assert ids(export("--ids", str(other.id), str(old.id))) == [str(old.id), str(other.id)]
    output = tmp_path / "backup.jsonl"
    call_command("export_generations", "--output", str(output), stderr=io.StringIO())
    assert output.read_text() == export()
    with pytest.raises(CommandError):
        export("--ids", "not-a-uuid")
    with pytest.raises(CommandError):
        export("--since", "yesterday")


def test_import_from_a_file_reports_to_stdout(tmp_path):
    rich_generation()
    path = tmp_path / "backup.jsonl"
    path.write_text(export())
    wipe()
    out = io.StringIO()

    call_command("import_generations", str(path), stdout=out)

    assert out.getvalue() == "imported 1, skipped 0\n"


def test_a_bad_line_stops_the_import_after_the_good_ones():
    first, second = rich_generation(), rich_generation(created_at=T0 + timedelta(days=1))
    lines = export().splitlines()
    wipe()
    broken = json.loads(lines[1])
    broken["generation"]["no_such_field"] = 1
    text = "\n".join([lines[0], "", json.dumps(broken), "{not json"]) + "\n"

    with pytest.raises(CommandError, match=r"line 3: .*no_such_field.*imported 1, skipped 0"):
        import_text(text)

    assert list(Generation.objects.values_list("id", flat=True)) == [first.id]
    assert not Generation.objects.filter(id=second.id).exists()
    assert not default_storage.exists(f"screenshots/{second.id}.png")


@pytest.mark.parametrize(
    "line",
    [
        '{"format": "something else"}',
        '{"format": "clonegen.generation", "version": 2}',
        '{"format": "clonegen.generation", "version": 1, "generation": {}, "variants": []}',
        "[1, 2]",
    ],
)
def test_records_that_are_not_ours_are_refused(line):
    with pytest.raises(CommandError, match="line 1"):
        import_text(line + "\n")
    assert not Generation.objects.exists()


def test_a_failed_insert_leaves_no_file_behind():
    generation = rich_generation()
    record = json.loads(export())
    wipe()
    record["variants"].append(dict(record["variants"][0]))  # a duplicate index breaks the insert

    with pytest.raises(CommandError, match="line 1"):
        import_text(json.dumps(record) + "\n")

    assert not Generation.objects.exists()
    assert not default_storage.exists(f"screenshots/{generation.id}.png")


def test_a_lost_screenshot_file_still_exports_the_record(caplog):
    generation = rich_generation()
    name = generation.screenshot.name
    default_storage.delete(name)

    record = json.loads(export())
    assert record["screenshot_base64"] is None
    assert f"{name} is missing" in caplog.text
    Generation.objects.all().delete()
    assert import_text(json.dumps(record) + "\n") == "imported 1, skipped 0"

    assert Generation.objects.get().screenshot.name == name


def test_an_orphan_file_at_the_path_is_replaced_not_renamed():
    generation = rich_generation()
    before = snapshot()
    exported = export()
    wipe()
    default_storage.save(f"screenshots/{generation.id}.png", io.BytesIO(b"left over"))

    import_text(exported)

    assert snapshot() == before


# ---------------------------------------------------------------------------------- databases


def manage(env: dict, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def side_env(data_dir: Path, database_url: str) -> dict:
    """A separate clonegen installation: its own database and data folder."""
    data_dir.mkdir()
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "CLONEGEN_", "DATABASE_URL", "REDIS_URL", "DJANGO_"))
    }
    return {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "clonegen.settings",
        "DJANGO_SECRET_KEY": "x",
        "DJANGO_DEBUG": "0",
        "DJANGO_HTTPS": "0",
        "CLONEGEN_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
    }


def migrate_all(*envs: dict) -> None:
    """`manage.py migrate` on every side at once: each takes seconds, mostly start-up."""
    runs = [
        subprocess.Popen(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v0"],
            cwd=REPO,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for env in envs
    ]
    for run in runs:
        _, errors = run.communicate(timeout=120)
        assert run.returncode == 0, errors


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_round_trip_sqlite_to_postgresql_to_sqlite(tmp_path):
    # Owners are left out: a fresh installation has no users to link them to (tested above).
    rich_generation()
    rich_generation(created_at=T0 + timedelta(days=1))
    original = export()
    skip_unless_reachable(POSTGRES_URL, REDIS_URL)
    with fresh_postgres_database(POSTGRES_URL) as postgres_url:
        first = side_env(tmp_path / "first", f"sqlite:///{tmp_path / 'first.sqlite3'}")
        middle = side_env(tmp_path / "middle", postgres_url)
        last = side_env(tmp_path / "last", f"sqlite:///{tmp_path / 'last.sqlite3'}")
        migrate_all(first, middle, last)

        assert manage(first, "import_generations", "-", stdin=original) == (
            "imported 2, skipped 0\n"
        )
        from_sqlite = manage(first, "export_generations")
        assert manage(middle, "import_generations", "-", stdin=from_sqlite) == (
            "imported 2, skipped 0\n"
        )
        from_postgres = manage(middle, "export_generations")
    backup = tmp_path / "from-postgres.jsonl"
    backup.write_text(from_postgres)
    assert manage(last, "import_generations", str(backup)) == "imported 2, skipped 0\n"
    final = tmp_path / "final.jsonl"
    manage(last, "export_generations", "--output", str(final))

    assert from_sqlite == original
    assert from_postgres == original
    assert final.read_text() == original
    for line in original.splitlines():
        record = json.loads(line)
        restored = tmp_path / "last" / "media" / record["generation"]["screenshot"]
        assert restored.read_bytes() == base64.b64decode(record["screenshot_base64"])
