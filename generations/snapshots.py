"""`generation.snapshot` frames: the stored state, overlaid with this process's live text.

A live variant's text is the prefix already relayed to followers, so the next chunk a follower
receives starts exactly where the snapshot ends.
"""

import uuid

from channels.db import database_sync_to_async

from generations import selectors
from generations.live import LiveVariant
from generations.models import Generation, Variant
from generations.runner import runner


async def snapshot_frame(generation_id: uuid.UUID) -> dict:
    """Return the snapshot frame of a generation (raises AppError not_found)."""
    return snapshot_of(await database_sync_to_async(selectors.generation_get)(generation_id))


def snapshot_of(generation: Generation) -> dict:
    """Build the snapshot of a stored generation, overlaid with this process's live text.

    Synchronous on purpose: the live state cannot move while the frame is assembled.
    """
    live = runner.live_variants(generation.id)
    return {
        "type": "generation.snapshot",
        "generation_id": str(generation.id),
        "status": generation.status,
        "variants": [
            _live_variant(live[v.index]) if v.index in live else _stored_variant(v)
            for v in generation.variants.all()
        ],
    }


def _stored_variant(variant: Variant) -> dict:
    return {
        "index": variant.index,
        "model": variant.model or variant.requested_model,
        "status": variant.status,
        "text": variant.text,
        "html": variant.shown_html,
        "finish_reason": variant.finish_reason or None,
        "error": _error(variant),
    }


def _live_variant(variant: LiveVariant) -> dict:
    return {
        "index": variant.index,
        "model": variant.model or variant.chain[0],
        "status": variant.status,
        "text": variant.published_text(),
        "html": variant.html,
        "finish_reason": None,
        "error": None,
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
