"""Backup and move: generations as JSON Lines, one self-contained record per generation.

A record is one JSON object on one line:

    {"format": "clonegen.generation", "version": 1,
     "generation": {<every Generation field>},
     "variants": [{<every Variant field>}, ...],
     "screenshot_base64": "<the stored file's bytes>" or null}

Values keep their exact form: timestamps in ISO 8601 UTC with microseconds, decimals as strings,
null distinct from "". `owner` is the owner's username (or null); `screenshot` is the stored
file's name. A variant's surrogate `id` is left out: within a generation a variant is known by
its `index`, and the target database numbers its own rows. The thumbnail is left out too: it
is made again from the screenshot on first request.

`demo` (made in demo mode) came after the first exports; a record without it was made in demo
mode if its variants' text is the stand-in's (generations.provenance), and a demo generation's
variants carry no cost.
"""

import base64
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from generations import provenance, services
from generations.errors import AppError
from generations.models import Generation, Variant
from generations.payloads import parse_json
from generations.record_checks import check_record

logger = logging.getLogger(__name__)

FORMAT = "clonegen.generation"
VERSION = 1
CONTENT_TYPE = "application/jsonl"
# Generations per database round trip: bounds memory whatever the size of the history.
CHUNK_SIZE = 100
# Oldest first, ties broken by id, so two exports of the same data are byte-for-byte equal.
EXPORT_ORDER = ("created_at", "id")
# Written as their own keys rather than raw column values.
GENERATION_SPECIAL = ("owner", "screenshot")
# Derived from the screenshot, so neither written nor read.
GENERATION_DERIVED = ("thumbnail",)
# The lineage: generation ids, restored as ids (the export's order puts parents first).
LINEAGE_FIELDS = ("parent", "root")
VARIANT_SKIPPED = ("id", "generation")


class TransferError(Exception):
    """A record that cannot be imported; says which line and why."""


@dataclass
class ImportResult:
    imported: int = 0
    skipped: int = 0

    def __str__(self) -> str:
        return f"imported {self.imported}, skipped {self.skipped}"


# --------------------------------------------------------------------------------- export


def generations_to_export(*, since: datetime | None = None, ids=None) -> QuerySet[Generation]:
    """The generations an export covers: all, or those created at or after `since`, or `ids`."""
    generations = Generation.objects.all()
    if since is not None:
        generations = generations.filter(created_at__gte=since)
    if ids is not None:
        generations = generations.filter(id__in=ids)
    return generations


def export_lines(
    generations: QuerySet[Generation],
    chunk_size: int = CHUNK_SIZE,
    skipped: list | None = None,
) -> Iterator[str]:
    """Yield one JSON line (with its newline) per generation, streaming from the database.

    A generation that cannot be exported (its screenshot name points outside the media folder,
    say) is left out and logged, its id added to `skipped`: one bad row never cuts a backup
    short halfway, nor a download already under way.
    """
    for generation in _with_variants(generations).iterator(chunk_size=chunk_size):
        try:
            line = encode_line(generation)
        except (SuspiciousOperation, OSError, ValueError) as error:
            logger.error("Export leaves out generation %s: %s", generation.id, error)
            if skipped is not None:
                skipped.append(generation.id)
            continue
        finally:
            # Prefetched variants point back at their generation: a cycle only the cyclic GC
            # frees, late, with page-sized texts inside. Dropping them keeps memory to a chunk.
            generation._prefetched_objects_cache.clear()
        yield line


async def aexport_lines(
    generations: QuerySet[Generation], chunk_size: int = CHUNK_SIZE
) -> AsyncIterator[str]:
    """`export_lines` for an ASGI response, which would otherwise read a sync iterator whole.

    Each chunk is read in one sync call, so no database cursor stays open between awaits, and
    through `database_sync_to_async`, which hands the thread's connection back afterwards: the
    response is read after the request ended, and a connection kept by that thread would be
    one fewer in the pool for good.
    """
    ordered = generations.prefetch_related(None).order_by(*EXPORT_ORDER)
    ids = await database_sync_to_async(list)(ordered.values_list("id", flat=True))
    for start in range(0, len(ids), chunk_size):
        chunk = Generation.objects.filter(id__in=ids[start : start + chunk_size])
        yield await database_sync_to_async(lambda chunk=chunk: "".join(export_lines(chunk)))()


def encode_line(generation: Generation) -> str:
    # ASCII only: any stray character (a lone surrogate, say) still survives the file.
    return json.dumps(encode_record(generation), ensure_ascii=True, separators=(",", ":")) + "\n"


def encode_record(generation: Generation) -> dict:
    """The record of a generation fetched with its owner and variants."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "generation": _encode_generation(generation),
        "variants": [_encode_variant(variant) for variant in generation.variants.all()],
        "screenshot_base64": _screenshot_base64(generation),
    }


def _with_variants(generations: QuerySet[Generation]) -> QuerySet[Generation]:
    return (
        generations.order_by(*EXPORT_ORDER)
        .select_related("owner")
        .prefetch_related(None)  # callers may have prefetched a slimmer variant set
        .prefetch_related(Prefetch("variants", queryset=Variant.objects.order_by("index")))
    )


def _encode_generation(generation: Generation) -> dict:
    fields = {}
    for field in Generation._meta.concrete_fields:
        if field.name == "owner":
            fields["owner"] = generation.owner.get_username() if generation.owner else None
        elif field.name == "screenshot":
            fields["screenshot"] = generation.screenshot.name
        elif field.name in GENERATION_DERIVED:
            continue
        else:
            fields[field.name] = _encode_value(field.value_from_object(generation))
    return fields


def _encode_variant(variant: Variant) -> dict:
    return {
        field.name: _encode_value(field.value_from_object(variant))
        for field in Variant._meta.concrete_fields
        if field.name not in VARIANT_SKIPPED
    }


def _encode_value(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    return value


def _screenshot_base64(generation: Generation) -> str | None:
    """The stored file's bytes; None if the file is gone, so one lost file spoils no backup."""
    name = generation.screenshot.name
    if not name:
        return None
    try:
        with generation.screenshot.open("rb") as stored:
            return base64.b64encode(stored.read()).decode("ascii")
    except FileNotFoundError:
        logger.warning("Exporting %s without its screenshot: %s is missing", generation.id, name)
        return None


def export_filename() -> str:
    return f"clonegen-generations-{timezone.now():%Y%m%d-%H%M%S}.jsonl"


# --------------------------------------------------------------------------------- import


def import_lines(lines: Iterable[str], result: ImportResult | None = None) -> ImportResult:
    """Import every record of `lines`, each in its own transaction; an id already stored is
    skipped. Raises TransferError at the first bad line; `result` then holds the counts so far.
    """
    result = result if result is not None else ImportResult()
    owners = OwnerCache()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            generation, variants, screenshot = decode_record(_parse_line(line), owners)
            stored = services.generation_import(
                generation=generation, variants=variants, screenshot=screenshot
            )
        except Exception as error:
            raise TransferError(f"line {number}: {error}") from error
        if stored:
            result.imported += 1
        else:
            result.skipped += 1
    return result


def _parse_line(line: str):
    try:
        return parse_json(line)
    except AppError as error:
        raise ValueError(error.message) from None


class OwnerCache:
    """Usernames to users of this database; an unknown name maps to None (no owner)."""

    def __init__(self) -> None:
        self._users: dict[str, object] = {}

    def get(self, username: str | None):
        if username is None:
            return None
        if username not in self._users:
            user_model = get_user_model()
            self._users[username] = user_model._default_manager.filter(
                **{user_model.USERNAME_FIELD: username}
            ).first()
        return self._users[username]


def decode_record(
    record: object, owners: OwnerCache
) -> tuple[Generation, list[Variant], bytes | None]:
    """Unsaved instances carrying the record's exact values, and the screenshot bytes."""
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} record")
    if record.get("version") != VERSION:
        raise ValueError(f"unsupported version {record.get('version')!r} (expected {VERSION})")
    fields = _require(record, "generation", dict)
    if "id" not in fields:
        raise ValueError("the generation has no `id`")  # idempotency rests on it
    generation = Generation(
        owner=owners.get(fields.get("owner")),
        **_decode_fields(
            Generation, fields, skipped=GENERATION_SPECIAL + GENERATION_DERIVED + LINEAGE_FIELDS
        ),
    )
    generation.screenshot.name = fields.get("screenshot", "")
    _restore_lineage(generation, fields)
    variants = [
        Variant(generation=generation, **_decode_fields(Variant, variant, skipped=VARIANT_SKIPPED))
        for variant in _require(record, "variants", list)
    ]
    if "demo" not in fields:  # an export older than the flag
        generation.demo = provenance.looks_like_demo(variant.text for variant in variants)
    if generation.demo:
        for variant in variants:
            variant.cost_usd = None
    encoded = record.get("screenshot_base64")
    screenshot = None if encoded is None else base64.b64decode(encoded, validate=True)
    check_record(generation, variants, screenshot)
    return generation, variants, screenshot


def _restore_lineage(generation: Generation, fields: dict) -> None:
    """Set `parent` and `root` from the record (a record from before lineages is its own root);
    an ancestor must already be stored, as it is when the file keeps the export's order."""
    for name in LINEAGE_FIELDS:
        value = fields.get(name)
        setattr(generation, f"{name}_id", None if value is None else uuid.UUID(str(value)))
    if generation.root_id is None:
        generation.root_id = generation.id
    ancestors = {generation.parent_id, generation.root_id} - {None, generation.id}
    missing = ancestors - set(
        Generation.objects.filter(id__in=ancestors).values_list("id", flat=True)
    )
    if missing:
        raise ValueError(
            f"its lineage needs {', '.join(sorted(map(str, missing)))}, which is not stored: "
            "import the lines of its parents first"
        )


def _require(record: dict, key: str, kind: type):
    value = record.get(key)
    if not isinstance(value, kind):
        raise ValueError(f"`{key}` must be a JSON {'object' if kind is dict else 'array'}")
    return value


def _decode_fields(model, fields: object, *, skipped: tuple[str, ...]) -> dict:
    """Column values from their JSON form (the `skipped` keys are the caller's); a field this
    schema lacks is an error rather than a silent loss."""
    if not isinstance(fields, dict):
        raise ValueError(f"a {model.__name__} must be a JSON object")
    known = {f.name: f for f in model._meta.concrete_fields if f.name not in skipped}
    unknown = sorted(set(fields) - set(known) - set(skipped))
    if unknown:
        raise ValueError(f"{model.__name__} has no field(s) {', '.join(unknown)}")
    return {name: field.to_python(fields[name]) for name, field in known.items() if name in fields}
