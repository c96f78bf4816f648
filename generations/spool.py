"""Last resort for a finished answer the database refused: an append-only JSON Lines file that
start-up replays into the database."""

import json
import logging
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)


def spool_path() -> Path:
    return Path(settings.DATA_DIR) / "spool" / "results.jsonl"


def append(record: dict) -> None:
    """Append one result and fsync it: once this returns, the answer survives a crash."""
    path = spool_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, default=_encode, ensure_ascii=False)
    with open(path, "a", encoding="utf-8") as spool:
        spool.write(line + "\n")
        spool.flush()
        os.fsync(spool.fileno())


def replay(apply: Callable[[dict], None]) -> int:
    """Apply every spooled result, then set the file aside; return how many were applied.

    A record that fails to apply stays in a file of its own for a person to look at.
    """
    path = spool_path()
    if not path.exists():
        return 0
    replaying = path.with_suffix(f".replaying-{os.getpid()}")
    path.rename(replaying)  # new appends go to a fresh file while this one is replayed
    applied = 0
    for line in replaying.read_text(encoding="utf-8").splitlines():
        try:
            apply(json.loads(line))
            applied += 1
        except Exception:
            logger.exception("Could not replay a spooled result; kept in %s", replaying)
            with open(path.with_suffix(".failed"), "a", encoding="utf-8") as failed:
                failed.write(line + "\n")
    replaying.unlink()
    return applied


def _encode(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"Cannot spool {type(value).__name__}")
