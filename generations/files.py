"""The files a generation owns, in one place: deleting a generation removes exactly these.

A feature that stores another file per generation (renders, generated images) lists it in
`generation_files`, and deletion takes it along with no other change.
"""

import contextlib
import logging
import os

from django.core.files.storage import default_storage

from generations.models import Generation
from generations.renders import render_folder

logger = logging.getLogger(__name__)


def generation_files(generation: Generation) -> list[str]:
    """The storage names of the generation's files that nothing else still refers to."""
    names = []
    screenshot = generation.screenshot.name
    # A screenshot another generation refers to (a re-run of it, say) stays with that one.
    if screenshot and not (
        Generation.objects.exclude(id=generation.id).filter(screenshot=screenshot).exists()
    ):
        names.append(screenshot)
    if generation.thumbnail.name:
        names.append(generation.thumbnail.name)
    # Derived per variant after the save: server renders and generated images.
    for folder in (render_folder(generation.id), f"images/{generation.id}"):
        names.extend(f"{folder}/{name}" for name in _files_in(folder))
    return names


def _files_in(folder: str) -> list[str]:
    try:
        return default_storage.listdir(folder)[1]
    except FileNotFoundError:
        return []


def remove_files(names: list[str]) -> None:
    """Delete stored files; one that cannot go is logged and the rest still go."""
    for name in filter(None, names):
        try:
            default_storage.delete(name)
        except Exception:
            logger.exception("Could not remove the stored file %s", name)
    # A generation's own folders (renders/<id>, images/<id>) go too once empty.
    for folder in {name.rsplit("/", 1)[0] for name in names if name and name.count("/") > 1}:
        with contextlib.suppress(OSError, NotImplementedError):
            os.rmdir(default_storage.path(folder))
