"""Generated images (contract §11): find a page's placeholder <img> tags, fill each from its alt
text through the OpenAI images API, store the files with the generation, point the HTML at them.

Over 350 lines: finding, sizing, generating, storing and serving an image share one naming
rule and one folder layout, which this module alone owns.
"""

import asyncio
import base64
import binascii
import hashlib
import html
import io
import logging
import os
import re
import shutil
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import openai
from PIL import Image, UnidentifiedImageError

from generations.image_models import ImageModel, image_model, nearest_size

logger = logging.getLogger(__name__)

PLACEHOLDER_HOSTS = (
    "placehold.co",
    "via.placeholder.com",
    "dummyimage.com",
    "picsum.photos",
    "source.unsplash.com",
)
GENERATED = "generated"
FAILED = "failed"
SKIPPED = "skipped"
# An image call takes seconds to tens of seconds; one that hangs must not hold a variant forever.
IMAGE_TIMEOUT_SECONDS = 120.0
DEFAULT_CONCURRENCY = 4
# A generated file's name: 32 hex digits of the alt text's SHA-256, then its type.
IMAGE_NAME = re.compile(r"^[0-9a-f]{32}\.png$")
_SIZE_IN_URL = re.compile(r"(?<![\d.])(\d{1,5})x(\d{1,5})(?!\d)")
_PICSUM_SIZE = re.compile(r"/(\d{1,5})(?:/(\d{1,5}))?(?:\.[a-z]{3,4})?/?$", re.IGNORECASE)
_LEADING_NUMBER = re.compile(r"^\s*(\d{1,5})(?:\.\d+)?\s*(?:px)?\s*$", re.IGNORECASE)
_API_KEY = re.compile(r"sk-[A-Za-z0-9_\-]{8,}")


# --------------------------------------------------------------------------- finding them


@dataclass(frozen=True)
class Placeholder:
    """One placeholder <img>: where its start tag is in the page, its attributes, its size."""

    start: int
    end: int
    attrs: tuple[tuple[str, str | None], ...]
    self_closing: bool
    alt: str
    width: int | None
    height: int | None


def is_placeholder_src(src: str | None) -> bool:
    """Return True for a missing or blank src, or one on a placeholder image service."""
    if src is None or not src.strip():
        return True
    try:
        host = (urlsplit(src.strip()).hostname or "").lower()
    except ValueError:
        return False
    return any(host == name or host.endswith("." + name) for name in PLACEHOLDER_HOSTS)


def size_in_src(src: str | None) -> tuple[int | None, int | None]:
    """Return the size a placeholder URL asks for (placehold.co/600x400, picsum.photos/600/400)."""
    if not src:
        return None, None
    try:
        parts = urlsplit(src.strip())
    except ValueError:
        return None, None
    match = _SIZE_IN_URL.search(parts.path)
    if match:
        return int(match[1]), int(match[2])
    match = _PICSUM_SIZE.search(parts.path)
    if match and (parts.hostname or "").endswith(PLACEHOLDER_HOSTS):
        width = int(match[1])
        return width, int(match[2]) if match[2] else width
    return None, None


def _dimension(value: str | None) -> int | None:
    match = _LEADING_NUMBER.match(value or "")
    return int(match[1]) or None if match else None


class _ImgFinder(HTMLParser):
    """Collect every <img> start tag with its offsets; script and style content is skipped by
    the parser itself, so an '<img' inside a script string is never touched."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[Placeholder] = []
        self._line_starts = [0]
        for match in re.finditer("\n", page):
            self._line_starts.append(match.end())

    def handle_starttag(self, tag, attrs) -> None:
        self._image(tag, attrs, self_closing=False)

    def handle_startendtag(self, tag, attrs) -> None:
        self._image(tag, attrs, self_closing=True)

    def _image(self, tag: str, attrs: list[tuple[str, str | None]], self_closing: bool) -> None:
        if tag != "img":
            return
        values = {name: value for name, value in reversed(attrs)}  # the first one wins
        src, alt = values.get("src"), (values.get("alt") or "").strip()
        if not alt or not is_placeholder_src(src):
            return
        line, column = self.getpos()
        start = self._line_starts[line - 1] + column
        text = self.get_starttag_text() or ""
        width, height = _dimension(values.get("width")), _dimension(values.get("height"))
        if width is None and height is None:
            width, height = size_in_src(src)
        self.found.append(
            Placeholder(
                start=start,
                end=start + len(text),
                attrs=tuple(attrs),
                self_closing=self_closing,
                alt=alt,
                width=width,
                height=height,
            )
        )


def find_placeholders(page: str) -> list[Placeholder]:
    """Return the page's placeholder <img> tags that have alt text, in document order."""
    finder = _ImgFinder(page)
    finder.feed(page)
    finder.close()
    return finder.found


def _rebuilt_tag(placeholder: Placeholder, url: str) -> str:
    parts = ["<img", f' src="{html.escape(url)}"']
    for name, value in placeholder.attrs:
        # srcset would win over src in the browser and still point at the placeholder service.
        if name in ("src", "srcset"):
            continue
        parts.append(f" {name}" if value is None else f' {name}="{html.escape(value)}"')
    parts.append(" />" if placeholder.self_closing else ">")
    return "".join(parts)


def rewrite_sources(page: str, urls: Mapping[str, str]) -> str:
    """Return `page` with each placeholder whose alt is in `urls` pointing to that URL.

    Only those start tags change; every other byte of the page stays as it was.
    """
    pieces, position = [], 0
    for placeholder in find_placeholders(page):
        url = urls.get(placeholder.alt)
        if url is None:
            continue
        pieces.append(page[position : placeholder.start])
        pieces.append(_rebuilt_tag(placeholder, url))
        position = placeholder.end
    pieces.append(page[position:])
    return "".join(pieces)


# --------------------------------------------------------------------------- storing them


def image_name(alt: str) -> str:
    """Return the file name of the image generated for `alt` (the same alt, the same file)."""
    return hashlib.sha256(alt.encode()).hexdigest()[:32] + ".png"


def image_dir(root: Path, generation_id: object) -> Path:
    """Return the folder holding one generation's images."""
    return Path(root) / "images" / str(generation_id)


def stored_image(root: Path, generation_id: object, name: str) -> Path | None:
    """Return the path of a stored image, or None for an unknown or malformed name."""
    if not IMAGE_NAME.match(name):
        return None
    path = image_dir(root, generation_id) / name
    return path if path.is_file() else None


def delete_images(root: Path, generation_id: object) -> None:
    """Remove one generation's images (contract §13: deleting a generation removes them)."""
    shutil.rmtree(image_dir(root, generation_id), ignore_errors=True)


def image_url(generation_id: object, name: str) -> str:
    """Return the clonegen URL an image is served at."""
    return f"/api/generations/{generation_id}/images/{name}"


def _write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_bytes(content)
    # A reader (another variant, the file view) sees the whole file or none of it.
    os.replace(partial, path)


def _as_png(encoded: str) -> bytes:
    """Decode the API's base64 image and re-encode it as PNG, refusing anything that is not one.

    Re-encoding means the stored file's type is known whatever output format the model chose.
    """
    try:
        raw = base64.b64decode(encoded, validate=True)
        with Image.open(io.BytesIO(raw)) as picture:
            picture.load()
            if picture.format == "PNG":
                return raw
            out = io.BytesIO()
            picture.save(out, format="PNG")
            return out.getvalue()
    except (binascii.Error, UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageFailed("the images API answered something that is not an image") from exc


# --------------------------------------------------------------------------- generating them


class ImageFailed(Exception):
    """One image could not be made; its message says why (shown to users, so no secrets)."""


@dataclass(frozen=True)
class Outcome:
    """What became of one alt text: a stored file (name) or the reason there is none."""

    name: str | None
    error: str | None
    cost_usd: Decimal | None = None


@dataclass(frozen=True)
class VariantImages:
    """The result for one variant: its rewritten html, its images (contract §11), their cost."""

    html: str
    images: list[dict]
    cost_usd: Decimal | None


def _redacted(message: str) -> str:
    return _API_KEY.sub("[redacted]", message)


def _failure_message(exc: Exception) -> str:
    if isinstance(exc, ImageFailed):
        return str(exc)
    if isinstance(exc, openai.APIStatusError):
        detail = exc.body.get("message") if isinstance(exc.body, dict) else None
        return _redacted(f"images API answered {exc.status_code}: {detail or exc.message}")
    if isinstance(exc, openai.APITimeoutError):
        return "images API timed out"
    if isinstance(exc, openai.APIConnectionError):
        return "images API unreachable"
    return _redacted(f"{type(exc).__name__}: {exc}")


class ImageGenerator:
    """Fills placeholders for the variants of one generation.

    One instance per generation: an alt text is generated at most once across its variants
    (concurrent requests for it share one call, and a file already stored, by another process
    say, is reused), calls run at most `concurrency` at a time.
    """

    def __init__(
        self,
        *,
        generation_id: object,
        client: openai.AsyncOpenAI,
        model: str,
        per_variant: int,
        root: Path,
        concurrency: int = DEFAULT_CONCURRENCY,
        url_for: Callable[[object, str], str] = image_url,
    ) -> None:
        self.generation_id = generation_id
        self.client = client
        self.model: ImageModel = image_model(model)
        self.per_variant = per_variant
        self.folder = image_dir(root, generation_id)
        self.url_for = url_for
        self._semaphore = asyncio.Semaphore(concurrency)
        self._outcomes: dict[str, asyncio.Task[Outcome]] = {}

    async def process(self, page: str) -> VariantImages:
        """Fill the placeholders of one variant's post-processed html; never raises for an image.

        Distinct alt texts beyond `per_variant` keep their placeholder and are listed as skipped.
        The cost counts only the calls this variant made (a shared image is paid for once).
        """
        alts = list(dict.fromkeys(p.alt for p in find_placeholders(page)))
        wanted, over = alts[: self.per_variant], alts[self.per_variant :]
        fresh = [alt for alt in wanted if alt not in self._outcomes]
        for alt in fresh:
            self._outcomes[alt] = asyncio.ensure_future(self._make(alt, page))
        # Shielded: a variant that is cancelled must not cancel a call another variant awaits.
        outcomes = await asyncio.gather(*(asyncio.shield(self._outcomes[alt]) for alt in wanted))
        images, urls, cost = [], {}, None
        for alt, outcome in zip(wanted, outcomes, strict=True):
            url = self.url_for(self.generation_id, outcome.name) if outcome.name else None
            if url:
                urls[alt] = url
            status = GENERATED if url else FAILED
            images.append({"alt": alt, "url": url, "status": status, "error": outcome.error})
            if alt in fresh and outcome.cost_usd is not None:
                cost = (cost or Decimal(0)) + outcome.cost_usd
        reason = f"more than CLONEGEN_IMAGES_PER_VARIANT ({self.per_variant}) images"
        images += [{"alt": a, "url": None, "status": SKIPPED, "error": reason} for a in over]
        return VariantImages(html=rewrite_sources(page, urls), images=images, cost_usd=cost)

    async def _make(self, alt: str, page: str) -> Outcome:
        name = image_name(alt)
        path = self.folder / name
        if path.is_file():
            return Outcome(name=name, error=None)
        placeholder = next(p for p in find_placeholders(page) if p.alt == alt)
        width, height = nearest_size(self.model, placeholder.width, placeholder.height)
        try:
            async with self._semaphore:
                content, cost = await self._generate(alt, f"{width}x{height}")
            await asyncio.to_thread(_write_atomically, path, content)
        except Exception as exc:  # every failure is recorded on the image, never raised
            reason = _failure_message(exc)
            logger.warning("Image for generation %s failed: %s", self.generation_id, reason)
            return Outcome(name=None, error=reason)
        return Outcome(name=name, error=None, cost_usd=cost)

    async def _generate(self, alt: str, size: str) -> tuple[bytes, Decimal | None]:
        # GPT image models always answer base64 (the SDK: response_format is only for the
        # retired DALL·E models and is refused by these), so it is not sent.
        response = await self.client.images.generate(
            model=self.model.name,
            prompt=alt,
            size=size,
            n=1,
            quality=self.model.quality,
            output_format="png",
            timeout=IMAGE_TIMEOUT_SECONDS,
        )
        if not response.data or not response.data[0].b64_json:
            raise ImageFailed("the images API answered without an image")
        content = await asyncio.to_thread(_as_png, response.data[0].b64_json)
        usage = response.usage
        cost = self.model.cost_usd(
            usage.input_tokens if usage else None, usage.output_tokens if usage else None
        )
        return content, cost


# --------------------------------------------------------------------------- downloading them


def page_zip(page: str, files: Mapping[str, bytes], url_prefix: str) -> bytes:
    """Return a zip of `index.html` and its images, the page pointing to them by relative path.

    `files` maps image file names to their content; `url_prefix` is the URL they are served
    under (for example `/api/generations/<id>/images/`). Each `url_prefix + name` in the page
    becomes `images/<name>`, so the unzipped folder opens offline.
    """
    for name in files:
        page = page.replace(url_prefix + name, "images/" + name)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.html", page)
        for name, content in sorted(files.items()):
            # PNGs are compressed already: stored, not deflated again.
            archive.writestr(f"images/{name}", content, compress_type=zipfile.ZIP_STORED)
    return out.getvalue()


# --------------------------------------------------------------------------- wiring


def generator_for(generation_id: object) -> ImageGenerator:
    """Return the ImageGenerator for one generation, from settings and this loop's client."""
    from django.conf import settings

    from generations import model_client

    return ImageGenerator(
        generation_id=generation_id,
        client=model_client.client(),
        model=settings.CLONEGEN_IMAGE_MODEL,
        per_variant=settings.CLONEGEN_IMAGES_PER_VARIANT,
        root=Path(settings.MEDIA_ROOT),
    )


def image_response(root: Path, generation_id: object, name: str):
    """Return a FileResponse for a stored image, or raise Http404.

    A name is derived from its alt text and a file, once written, never changes: browsers may
    keep it for a year. `private`, because with CLONEGEN_REQUIRE_LOGIN an image is a user's.
    """
    from django.http import FileResponse, Http404

    path = stored_image(root, generation_id, name)
    if path is None:
        raise Http404("No such image.")
    response = FileResponse(path.open("rb"), content_type="image/png")
    response["Cache-Control"] = "private, max-age=31536000, immutable"
    return response
