"""`generation.snapshot` frames: the stored state, overlaid with this process's live text.

A live variant's text is the prefix already relayed to followers, so the next chunk a follower
receives starts exactly where the snapshot ends.
"""

import json
import uuid

from channels.db import database_sync_to_async

from generations import selectors
from generations.live import LiveVariant
from generations.models import ACTIVE_VARIANT_STATUSES, Generation, RenderStatus, Variant
from generations.runner import runner


async def snapshot_frame(generation_id: uuid.UUID) -> dict:
    """Return the snapshot frame of a generation (raises AppError not_found)."""
    return snapshot_of(await database_sync_to_async(selectors.generation_get)(generation_id))


def snapshot_of(generation: Generation) -> dict:
    """Build the snapshot of a stored generation, overlaid with this process's live text.

    Synchronous on purpose: the live state cannot move while the frame is assembled.
    """
    live = runner.live_variants(generation.id)
    return fit_to_transport(
        {
            "type": "generation.snapshot",
            "generation_id": str(generation.id),
            "status": generation.status,
            "variants": [
                _live_variant(live[v.index]) if _streams_here(live, v) else _stored_variant(v)
                for v in generation.variants.all()
            ],
        }
    )


# daphne's message and frame limit (the Makefile's and README's serve command), less room for
# the envelope: a larger frame closes the socket.
TRANSPORT_LIMIT_BYTES = 16 * 1024 * 1024 - 64 * 1024


def fit_to_transport(snapshot: dict, limit: int = TRANSPORT_LIMIT_BYTES) -> dict:
    """Return the snapshot, or one that fits `limit` bytes once encoded as the socket sends it.

    Answers are capped (CLONEGEN_MAX_OUTPUT_CHARS), but four of them with their HTML can still
    pass 16 MiB in non-ASCII text. Then the largest ended variants give up their `html`, then
    their `text` (null, named in `"omitted"`): an ended variant gets no more chunks, so the
    offset rule is untouched, and the client reads what was left out over REST.
    """
    size = _encoded_size(snapshot)
    if size <= limit:
        return snapshot
    ended = [v for v in snapshot["variants"] if v["status"] not in ACTIVE_VARIANT_STATUSES]
    for field in ("html", "text"):
        for variant in sorted(ended, key=lambda v: -len(v[field] or "")):
            if size <= limit:
                return snapshot
            if variant[field] is None:
                continue
            variant[field] = None
            variant.setdefault("omitted", []).append(field)
            size = _encoded_size(snapshot)
    return snapshot


def _encoded_size(frame: dict) -> int:
    return len(json.dumps(frame, ensure_ascii=False).encode())


def _stored_variant(variant: Variant) -> dict:
    return {
        "index": variant.index,
        "model": variant.model or variant.requested_model,
        "status": variant.status,
        "text": variant.text,
        "html": variant.shown_html,
        "score": variant.score,
        "render_status": variant.render_status,
        "render_error": variant.render_error,
        "images": variant.images,
        "finish_reason": variant.finish_reason or None,
        "error": _error(variant),
    }


def _streams_here(live: dict[int, LiveVariant], variant: Variant) -> bool:
    """True while this process streams the variant, or its end is not stored yet: its text is
    then the relayed prefix. Once the end is stored, the row is complete (it is committed
    before the end is announced) and carries what post-processing added."""
    running = live.get(variant.index)
    return running is not None and (
        running.status in ACTIVE_VARIANT_STATUSES or variant.status in ACTIVE_VARIANT_STATUSES
    )


def _live_variant(variant: LiveVariant) -> dict:
    return {
        "index": variant.index,
        "model": variant.model or variant.chain[0],
        "status": variant.status,
        "text": variant.published_text(),
        "html": variant.html,
        "finish_reason": None,
        "error": None,
        "score": None,
        "render_status": RenderStatus.PENDING,
        "render_error": "",
        "images": [],
    }


def _error(variant: Variant) -> dict | None:
    if not variant.error_code:
        return None
    return {"code": variant.error_code, "message": variant.error_message}


def generation_started_frame(generation: Generation) -> dict:
    return {
        "type": "generation.started",
        "generation_id": str(generation.id),
        "variants": [
            {"index": v.index, "model": v.requested_model} for v in generation.variants.all()
        ],
    }
