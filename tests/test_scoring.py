"""The visual scorer: its ranking on the labelled set (tests/scoring_set) and its edge cases."""

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from generations import scoring
from tests.scoring_set import REFERENCES
from tests.ui_support import CHROMIUM, MISSING_CHROMIUM


def page_image(height: int = 800, offset: int = 0, width: int = 1280, seed: int = 1) -> Image.Image:
    """A page-like picture: a header bar, blocks and lines of 'text', pushed down by `offset`."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, offset, width, offset + 60), fill=(30, 41, 59))
    y = offset + 100
    while y < height - 40:
        if rng.random() < 0.3:
            fill = tuple(int(c) for c in rng.integers(0, 255, 3))
            draw.rectangle((80, y, 600, y + 120), fill=fill)
            y += 160
        else:
            x = 80
            while x < 1100:
                word = int(rng.integers(30, 110))
                draw.rectangle((x, y, x + word, y + 12), fill=(50, 50, 50))
                x += word + 12
            y += 28
    return image


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_same_picture_scores_one_with_every_component():
    picture = page_image()
    result = scoring.score(png(picture), png(picture), [(80, 100, 1000, 12)])
    assert set(result) >= {"visual", "structure", "color", "layout", "text", "coverage"}
    assert result["visual"] == pytest.approx(1.0, abs=0.01)


def test_a_screenshot_of_the_top_is_compared_with_the_top_of_the_render():
    page = page_image(height=2400)
    top = page.crop((0, 0, 1280, 800))
    assert scoring.score(top, page)["visual"] > 0.95
    # A screenshot at twice the pixel density is the same page.
    assert scoring.score(top.resize((2560, 1600)), page)["visual"] > 0.9


def test_a_page_pushed_down_is_aligned_back_and_beats_another_page():
    shot = page_image()
    pushed = page_image(height=848, offset=48)
    other = page_image(seed=7)
    shifted, different = scoring.score(shot, pushed), scoring.score(shot, other)
    assert shifted["offset_px"] == pytest.approx(48, abs=3)
    assert shifted["visual"] > 0.85
    assert shifted["visual"] > different["visual"] + 0.15


def test_a_blank_render_scores_low():
    result = scoring.score(page_image(), Image.new("RGB", (1280, 800), "white"), [])
    assert result["visual"] < 0.3
    assert result["text"] == 0


def test_without_text_boxes_the_text_component_is_left_out():
    picture = page_image()
    assert scoring.score(picture, picture)["text"] is None


@pytest.mark.parametrize("data", [b"", b"<html>not an image</html>", b"\x89PNG\r\n\x1a\n broken"])
def test_unreadable_images_raise(data):
    with pytest.raises(scoring.UnreadableImage, match="not a readable image"):
        scoring.score(data, png(page_image()))


@pytest.fixture(scope="module")
def scores():
    if not CHROMIUM.exists():
        pytest.skip(MISSING_CHROMIUM)
    from generations.browser import SharedBrowser
    from tests.scoring_set import score_set

    browser = SharedBrowser(concurrency=2)
    try:
        yield score_set(browser)
    finally:
        browser.close()


@pytest.mark.ui
@pytest.mark.parametrize("reference", [reference.name for reference in REFERENCES])
def test_the_scorer_ranks_as_a_person_would(scores, reference):
    visual = {kind: result["visual"] for kind, result in scores[reference].items()}
    assert visual["identical"] >= 0.9, visual
    assert visual["identical"] > visual["close"] > visual["different"], visual
    assert visual["shifted"] > visual["different"], visual
    assert visual["resized"] > visual["different"], visual
    assert visual["close"] > visual["unrelated"], visual
    assert all(0 <= value <= 1 for value in visual.values()), visual
