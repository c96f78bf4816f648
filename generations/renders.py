"""Where a variant's server render is stored: `renders/<generation id>/<index>.png` and its
thumbnail beside it, under the data folder (generations.files deletes the folder with the
generation)."""

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from generations.rendering import Render


def render_folder(generation_id) -> str:
    return f"renders/{generation_id}"


def render_name(generation_id, index: int, *, thumbnail: bool = False) -> str:
    suffix = "-thumb" if thumbnail else ""
    return f"{render_folder(generation_id)}/{int(index)}{suffix}.png"


def store_render(*, generation_id, index: int, render: Render) -> None:
    """Write the render and its thumbnail, replacing an earlier render of the same variant."""
    for thumbnail, content in ((False, render.png), (True, render.thumbnail)):
        name = render_name(generation_id, index, thumbnail=thumbnail)
        if default_storage.exists(name):
            default_storage.delete(name)
        default_storage.save(name, ContentFile(content))
