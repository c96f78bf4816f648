"""History thumbnails: made with the generation, made on first request for older ones, served
small with their real type, and used by the history instead of the full screenshot."""

import io
import uuid

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from PIL import Image

from generations import actions, thumbnails
from generations.access import Requester
from generations.models import Generation
from tests.factories import make_generation
from tests.support import data_url, png_bytes, screenshot_bytes

pytestmark = pytest.mark.django_db


def image_of(content: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(content))
    image.load()
    return image


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1280, 8000), (320, 240)),  # a tall page: its top, in the thumbnail's proportions
        ((1920, 1080), (320, 180)),  # wide: whole, scaled
        ((100, 50), (100, 50)),  # small: never enlarged
        ((200, 2000), (200, 150)),  # narrow and tall: its top, unscaled
    ],
)
def test_a_thumbnail_is_the_top_of_the_screenshot(size, expected):
    image = image_of(thumbnails.make_thumbnail(png_bytes(*size, "#3366aa")))
    assert image.format == "WEBP"
    assert image.size == expected


def test_the_top_is_what_is_kept():
    screenshot = Image.new("RGB", (1280, 4000), "white")
    screenshot.paste((200, 0, 0), (0, 0, 1280, 400))  # a red header
    out = io.BytesIO()
    screenshot.save(out, format="PNG")

    thumbnail = image_of(thumbnails.make_thumbnail(out.getvalue()))

    pixel = thumbnail.convert("RGB").getpixel((160, 10))
    assert max(abs(got - red) for got, red in zip(pixel, (200, 0, 0), strict=True)) < 40


def test_an_unreadable_screenshot_is_a_thumbnail_error():
    with pytest.raises(thumbnails.ThumbnailError):
        thumbnails.make_thumbnail(b"not an image")


def test_a_new_generation_is_stored_with_a_small_thumbnail(client):
    big = screenshot_bytes()  # about 3 MB of noise: the worst case for a small image
    generation = actions.create_generation(
        {"image": data_url(big)}, Requester.of(None, "127.0.0.1")
    )

    assert generation.thumbnail.name == f"thumbnails/{generation.id}.webp"
    response = client.get(f"/g/{generation.id}/thumbnail")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "max-age=31536000" in response["Cache-Control"]
    assert "sandbox" in response["Content-Security-Policy"]
    assert len(response.content) < 100_000 < len(big)
    assert response.content == generation.thumbnail.open("rb").read()
    assert image_of(response.content).width == thumbnails.THUMBNAIL_WIDTH
    assert client.get(f"/g/{generation.id}/thumbnail/").status_code == 200


def test_an_older_generation_gets_its_thumbnail_on_first_request(client):
    generation = make_generation()  # stored without one, as before thumbnails existed
    assert not generation.thumbnail

    first = client.get(f"/g/{generation.id}/thumbnail")

    assert first.status_code == 200
    assert image_of(first.content).format == "WEBP"
    stored = Generation.objects.get(id=generation.id)
    assert stored.thumbnail.name == f"thumbnails/{generation.id}.webp"
    assert client.get(f"/g/{generation.id}/thumbnail").content == first.content


def test_a_lost_thumbnail_file_is_made_again(client):
    generation = make_generation()
    client.get(f"/g/{generation.id}/thumbnail")
    generation.refresh_from_db()
    generation.thumbnail.delete(save=False)  # the file only; the row still names it

    response = client.get(f"/g/{generation.id}/thumbnail")

    assert response.status_code == 200
    generation.refresh_from_db()
    assert generation.thumbnail.storage.exists(generation.thumbnail.name)


def test_no_screenshot_no_thumbnail(client):
    generation = make_generation()
    generation.screenshot.delete(save=False)
    assert client.get(f"/g/{generation.id}/thumbnail").status_code == 404
    assert client.get(f"/g/{uuid.uuid4()}/thumbnail").status_code == 404


def test_someone_elses_thumbnail_is_404(settings):
    settings.CLONEGEN_REQUIRE_LOGIN = True
    ada, bob = User.objects.create_user("ada"), User.objects.create_user("bob")
    generation = make_generation(owner=ada)
    as_bob = Client()
    as_bob.force_login(bob)
    assert as_bob.get(f"/g/{generation.id}/thumbnail").status_code == 404
    as_ada = Client()
    as_ada.force_login(ada)
    assert as_ada.get(f"/g/{generation.id}/thumbnail").status_code == 200


def test_the_history_shows_thumbnails_not_screenshots(client):
    generation = make_generation()
    page = client.get("/history").content.decode()
    assert f'src="/g/{generation.id}/thumbnail"' in page
    assert f"/g/{generation.id}/screenshot" not in page


def test_the_command_makes_the_missing_ones_only():
    older, without_file = make_generation(), make_generation()
    without_file.screenshot.delete(save=False)
    has_one = actions.create_generation({"image": data_url(png_bytes())}, Requester.of(None, ""))
    before = has_one.thumbnail.open("rb").read()
    out, err = io.StringIO(), io.StringIO()

    call_command("make_thumbnails", stdout=out, stderr=err)

    assert out.getvalue().strip() == "made 1 thumbnail(s), 1 failed"
    assert f"{without_file.id}: no thumbnail" in err.getvalue()
    assert Generation.objects.get(id=older.id).thumbnail.name == f"thumbnails/{older.id}.webp"
    assert Generation.objects.get(id=has_one.id).thumbnail.open("rb").read() == before
    out = io.StringIO()
    call_command("make_thumbnails", stdout=out, stderr=io.StringIO())
    assert out.getvalue().strip() == "made 0 thumbnail(s), 1 failed"
