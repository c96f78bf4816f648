"""`manage.py score_page`: render an HTML page and score it against a screenshot (contract §9)."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from generations.browser import BrowserUnavailable
from generations.evaluation import evaluate
from generations.scoring import UnreadableImage


class Command(BaseCommand):
    help = (
        "Render an HTML page in headless Chromium (1280 px wide) and print, as one JSON object,"
        " its visual score against a screenshot: the same renderer and scorer as the pipeline."
    )

    def add_arguments(self, parser):
        parser.add_argument("--screenshot", required=True, type=Path, help="PNG, JPEG or WebP")
        parser.add_argument("--html", required=True, type=Path, help="the page to render")
        parser.add_argument("--save-render", type=Path, help="also write the render (PNG) here")

    def handle(self, *args, screenshot: Path, html: Path, save_render: Path | None, **options):
        shot = read(screenshot, "screenshot", binary=True)
        page = read(html, "HTML", binary=False)
        try:
            result = evaluate(page, shot)
        except UnreadableImage as error:
            raise CommandError(f"{screenshot}: {error}") from error
        except BrowserUnavailable as error:
            raise CommandError(f"cannot render: {error}") from error
        except TimeoutError as error:
            raise CommandError(f"{html}: the page did not finish rendering in time") from error
        if save_render:
            save_render.write_bytes(result.render.png)
        summary = {
            **result.score,
            "render": {
                "width": result.render.width,
                "height": result.render.height,
                "page_height": result.render.page_height,
                "text_boxes": len(result.render.text_boxes),
            },
        }
        self.stdout.write(json.dumps(summary))


def read(path: Path, what: str, binary: bool) -> bytes | str:
    try:
        return path.read_bytes() if binary else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"cannot read the {what} {path}: {error}") from error
