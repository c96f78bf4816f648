"""What "Download" gives for a variant: its page as `index.html`, or, when images were generated
for it, a zip of `index.html` and those images with relative paths, so the page works offline
and never points at an expiring address (contract §11)."""

from pathlib import Path

from django.conf import settings

from generations import placeholder_images
from generations.models import Generation, Variant


def variant_download(generation: Generation, variant: Variant) -> tuple[str, bytes, str]:
    """Return (file name, content, content type) for the variant's page to keep."""
    html = variant.shown_html or ""
    files = _generated_files(generation, variant)
    if not files:
        return "index.html", html.encode(), "text/html; charset=utf-8"
    prefix = placeholder_images.image_url(generation.id, "")
    content = placeholder_images.page_zip(html, files, prefix)
    return f"clonegen-{str(generation.id)[:8]}-{variant.index}.zip", content, "application/zip"


def _generated_files(generation: Generation, variant: Variant) -> dict[str, bytes]:
    root = Path(settings.MEDIA_ROOT)
    files = {}
    for image in variant.images or ():
        url = image.get("url") or ""
        if image.get("status") != "generated" or not url:
            continue
        name = url.rsplit("/", 1)[-1]
        path = placeholder_images.stored_image(root, generation.id, name)
        if path is not None:
            files[name] = path.read_bytes()
    return files
