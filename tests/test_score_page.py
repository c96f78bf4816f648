"""`manage.py score_page` (contract §9): one JSON object with "visual", or a message and exit 1."""

import io
import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from tests.scoring_set import HERE
from tests.support import REPO
from tests.ui_support import CHROMIUM, MISSING_CHROMIUM


def score_page(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))},
        "DJANGO_SETTINGS_MODULE": "clonegen.settings",
        "DJANGO_SECRET_KEY": "score-page-test-key",
        "DJANGO_DEBUG": "0",
        "DJANGO_HTTPS": "0",
        "CLONEGEN_DATA_DIR": str(tmp_path),
    }
    return subprocess.run(
        [sys.executable, "manage.py", "score_page", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.ui
def test_prints_one_json_object_with_the_visual_score(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(MISSING_CHROMIUM)
    page = HERE / "signin" / "reference.html"
    render = tmp_path / "render.png"
    ui = REPO / "docs" / "ui.png"
    first = score_page(
        tmp_path, "--screenshot", str(ui), "--html", str(page), "--save-render", str(render)
    )
    assert first.returncode == 0, first.stderr
    # The page's own render as the screenshot: a perfect match.
    second = score_page(tmp_path, "--screenshot", str(render), "--html", str(page))
    assert second.returncode == 0, second.stderr
    other, same = json.loads(first.stdout), json.loads(second.stdout)
    assert same["visual"] >= 0.99
    assert 0 <= other["visual"] < 0.6  # clonegen's own UI is not a sign-in page
    assert {"structure", "color", "layout", "text", "coverage"} <= set(same)
    with Image.open(io.BytesIO(render.read_bytes())) as image:
        assert image.width == 1280


@pytest.mark.parametrize(
    ("screenshot", "html", "message"),
    [
        ("page.html", "page.html", "not a readable image"),
        ("missing.png", "page.html", "cannot read the screenshot"),
        ("shot.png", "missing.html", "cannot read the HTML"),
        ("shot.png", "binary.html", "cannot read the HTML"),
    ],
)
def test_unreadable_input_is_a_message_and_an_error(tmp_path, screenshot, html, message):
    (tmp_path / "page.html").write_text("<p>hello</p>")
    (tmp_path / "binary.html").write_bytes(b"\xff\xfe\x00\x81")
    Image.new("RGB", (64, 64), "white").save(tmp_path / "shot.png")
    result = score_page(
        tmp_path, "--screenshot", str(tmp_path / screenshot), "--html", str(tmp_path / html)
    )
    assert result.returncode != 0
    assert message in result.stderr
    assert result.stdout == ""
