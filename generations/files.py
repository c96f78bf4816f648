"""The files a generation owns, in one place: deleting a generation removes exactly these.

A feature that stores another file per generation (renders, generated images) lists it in
`generation_files`, and deletion takes it along with no other change.
"""

import logging

from django.core.files.storage import default_storage

from generations.models import Generation

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
    return names


def remove_files(names: list[str]) -> None:
    """Delete stored files; one that cannot go is logged and the rest still go."""
    for name in filter(None, names):
        try:
            default_storage.delete(name)
        except Exception:
            logger.exception("Could not remove the stored file %s", name)
