"""Refresh the README's screenshot, docs/ui.png: a real daphne in demo mode, driven by Chromium.

`make screenshots` runs it (`python -m tests.screenshots`); the tests never write into docs/.
"""

import argparse
import sys
import tempfile
from pathlib import Path

from tests.support import REPO, DaphneProcess, png_bytes
from tests.ui_support import (
    CHROMIUM,
    COMPLETED_PANELS,
    MISSING_CHROMIUM,
    launched_chromium,
    upload_and_generate,
)

DOCS_SCREENSHOT = REPO / "docs" / "ui.png"
# Tall enough for the four finished panels under the form, as the README shows them.
VIEWPORT = {"width": 1280, "height": 1320}


def take(base_url: str, workdir: Path, target: Path) -> None:
    """Generate from a plain screenshot, wait for the four panels to finish, and save the page."""
    from playwright.sync_api import expect

    upload = workdir / "screenshot.png"
    upload.write_bytes(png_bytes(1280, 800, "#8fb3d9"))
    with launched_chromium() as chromium:
        context = chromium.new_context(viewport=VIEWPORT)
        context.set_default_timeout(60_000)
        page = context.new_page()
        page.goto(base_url + "/")
        upload_and_generate(page, upload)
        page.wait_for_function(COMPLETED_PANELS, arg=4)
        # The generation ends just after its last variant: shoot its final state, not "running".
        expect(page.locator("#overall")).to_contain_text("completed")
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(target))
        context.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.screenshots", description=__doc__)
    parser.add_argument("--output", type=Path, default=DOCS_SCREENSHOT)
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        sys.exit(MISSING_CHROMIUM)
    with tempfile.TemporaryDirectory(prefix="clonegen-screenshots-") as workdir:
        data = Path(workdir)
        # No OPENAI_API_KEY reaches the process (DaphneProcess drops it): demo mode.
        server = DaphneProcess(data, {"DATABASE_URL": f"sqlite:///{data / 'clonegen.sqlite3'}"})
        server.migrate()
        server.start()
        try:
            take(server.base_url, data, args.output)
        finally:
            server.stop()
    print(f"wrote {args.output}")  # noqa: T201


if __name__ == "__main__":
    main()
