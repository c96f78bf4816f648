"""A new user's first hour, server side: refusals a person can read, limits the page shares,
a rate limit that never stops the free demo, and an admin that fits a laptop screen."""

import json
import re

import pytest
from django.test import AsyncClient

from generations import access, actions
from generations.access import Requester
from generations.errors import AppError
from generations.images import MAX_PIXELS, MIN_SIDE, decode_screenshot
from generations.models import Generation
from tests.factories import make_generation
from tests.support import TEST_API_KEY, data_url, png_bytes
from tests.test_images import image_bytes

MAX_BYTES = 10 * 1024 * 1024
VOCABULARY = re.compile(
    r'<script id="clonegen-vocabulary" type="application/json">(.*?)</script>', re.S
)


def refused(value) -> AppError:
    with pytest.raises(AppError) as caught:
        decode_screenshot(value, max_bytes=MAX_BYTES)
    return caught.value


# ----------------------------------------------------------------------------- screenshots


def test_a_one_pixel_screenshot_is_refused_with_its_size():
    error = refused(data_url(png_bytes(1, 1)))
    assert error.code == "invalid_image"
    assert error.message == "The screenshot is 1x1 px; it must be at least 32x32 px."


@pytest.mark.parametrize(("width", "height"), [(31, 400), (400, 31)])
def test_either_side_under_the_minimum_is_refused(width, height):
    assert refused(data_url(png_bytes(width, height))).code == "invalid_image"


def test_the_minimum_itself_is_accepted():
    shot = decode_screenshot(data_url(png_bytes(MIN_SIDE, MIN_SIDE)), max_bytes=MAX_BYTES)
    assert (shot.width, shot.height) == (32, 32)


def test_over_the_pixel_limit_says_by_how_much():
    error = refused(data_url(image_bytes("PNG", 9000, 8000, mode="1")))
    assert error.code == "image_too_large"
    assert error.message == (
        "The screenshot is 9000x8000 px (72.0 megapixels); the limit is 64 megapixels."
    )


@pytest.mark.django_db
def test_a_tiny_screenshot_starts_nothing_over_rest(client):
    response = client.post(
        "/api/generations", {"image": data_url(png_bytes(1, 1))}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_image"
    assert "at least 32x32 px" in response.json()["error"]["message"]
    assert Generation.objects.count() == 0


# ----------------------------------------------------------------------------- instructions


@pytest.mark.django_db
def test_over_long_instructions_are_refused_whole_with_their_length(client):
    body = {"image": data_url(png_bytes()), "instructions": "y" * 20_000}
    response = client.post("/api/generations", body, content_type="application/json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_field"
    assert error["message"] == (
        "The instructions are 20000 characters long; the limit is 4000. Shorten them and try again."
    )
    assert Generation.objects.count() == 0


def test_instructions_at_the_limit_are_kept_whole():
    text = "z" * actions.MAX_INSTRUCTIONS_CHARS
    request = actions.parse_generate_request({"image": data_url(png_bytes()), "instructions": text})
    assert request.instructions == text


@pytest.mark.django_db
def test_the_page_gets_the_limits_from_the_server_and_never_cuts_text(client):
    html = client.get("/").content.decode()
    limits = json.loads(VOCABULARY.findall(html)[0])["limits"]
    assert limits == {
        "max_instructions_chars": actions.MAX_INSTRUCTIONS_CHARS,
        "min_image_side": MIN_SIDE,
        "max_image_pixels": MAX_PIXELS,
    }
    textarea = re.search(r"<textarea[^>]*>", html).group(0)
    # A maxlength makes the browser drop pasted text past it without a word.
    assert "maxlength" not in textarea
    assert 'id="instructions-count"' in html


# ----------------------------------------------------------------------------- rate limit


def test_wait_is_worded_as_a_person_says_it():
    assert access.format_wait(45) == "45 s"
    assert access.format_wait(3222) == "54 min"
    assert access.format_wait(7500) == "2 h 5 min"
    assert access.rate_limit_message(30, 3600, 3222) == (
        "You have started 30 generations this hour; try again in 54 min."
    )
    assert access.rate_limit_message(1, 60, 5) == (
        "You have started 1 generation this minute; try again in 5 s."
    )


@pytest.mark.django_db(transaction=True)
async def test_rate_limited_answer_reads_as_a_sentence(settings):
    settings.OPENAI_API_KEY = TEST_API_KEY
    settings.CLONEGEN_RATE_LIMIT = "2/hour"
    key = access.client_key("127.0.0.1")  # the async test client's address
    for _ in range(2):
        await Generation.objects.filter(id=(await _stored_generation()).id).aupdate(client_key=key)
    response = await AsyncClient().post(
        "/api/generations", {"image": data_url(png_bytes())}, content_type="application/json"
    )
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["message"] == "You have started 2 generations this hour; try again in 1 h."
    assert 3500 <= error["retry_after"] <= 3600


async def _stored_generation():
    from channels.db import database_sync_to_async

    return await database_sync_to_async(make_generation)()


@pytest.mark.django_db
def test_the_rate_limit_does_not_bite_in_demo_mode(settings):
    settings.CLONEGEN_RATE_LIMIT = "1/hour"
    requester = Requester.of(None, "127.0.0.9")
    body = {"image": data_url(png_bytes())}

    settings.OPENAI_API_KEY = ""
    for _ in range(3):
        actions.create_generation(body, requester)
    assert Generation.objects.count() == 3

    settings.OPENAI_API_KEY = TEST_API_KEY  # the same requester, now spending real money
    with pytest.raises(AppError) as caught:
        actions.create_generation(body, requester)
    assert caught.value.code == "rate_limited"
