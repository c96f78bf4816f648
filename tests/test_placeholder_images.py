"""Generated images (contract §11): finding placeholders, filling them through a real images
endpoint on loopback, storing the files, rewriting the html, and the zip download."""

import asyncio
import base64
import io
import zipfile
from decimal import Decimal

import pytest
from PIL import Image

from generations.image_models import DEFAULT_IMAGE_MODEL, image_model, nearest_size
from generations.placeholder_images import (
    FAILED,
    GENERATED,
    SKIPPED,
    ImageGenerator,
    find_placeholders,
    image_name,
    page_zip,
    rewrite_sources,
    stored_image,
)
from tests.fake_openai import TEST_KEY, client_for, serving


@pytest.fixture
async def fake_openai():
    async with serving() as server:
        yield server


PAGE = """<!DOCTYPE html>
<html><body>
<img src="https://placehold.co/600x400" alt="A red bicycle by a canal" class="hero">
<img src="" alt="Portrait of a smiling baker" width="300" height="600">
<img alt="Team photo">
<img src="https://picsum.photos/seed/x/800/200" alt="Wide mountain panorama"/>
<img src="https://example.com/logo.png" alt="Company logo">
<img src="https://placehold.co/100x100" alt="">
<script>var t = '<img src="" alt="in a script">';</script>
<img src="https://via.placeholder.com/150" alt="A red bicycle by a canal">
</body></html>
"""


def test_finds_placeholders_with_alt_text_and_their_declared_size():
    found = [(p.alt, p.width, p.height) for p in find_placeholders(PAGE)]
    assert found == [
        ("A red bicycle by a canal", 600, 400),
        ("Portrait of a smiling baker", 300, 600),
        ("Team photo", None, None),
        ("Wide mountain panorama", 800, 200),
        ("A red bicycle by a canal", 150, 150),
    ]


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("https://dummyimage.com/640x360/000/fff", (640, 360)),
        ("//source.unsplash.com/random/1200x800?city", (1200, 800)),
        ("https://picsum.photos/id/237/200/300", (200, 300)),
        ("https://picsum.photos/500", (500, 500)),
        ("https://fastly.picsum.photos/seed/a/300/100.jpg", (300, 100)),
        ("https://placehold.co/image.png", (None, None)),
    ],
)
def test_reads_the_size_a_placeholder_url_asks_for(src, expected):
    (placeholder,) = find_placeholders(f'<img src="{src}" alt="x">')
    assert (placeholder.width, placeholder.height) == expected


def test_nearest_accepted_size_follows_the_aspect_ratio():
    model = image_model(DEFAULT_IMAGE_MODEL)
    assert nearest_size(model, 600, 400) == (1536, 1024)
    assert nearest_size(model, 300, 600) == (1024, 1536)
    assert nearest_size(model, 500, 480) == (1024, 1024)
    assert nearest_size(model, None, None) == (1024, 1024)
    assert nearest_size(model, 900, None) == (1024, 1024)


def test_rewriting_changes_only_the_placeholder_tags():
    page = rewrite_sources(PAGE, {"A red bicycle by a canal": "/api/x/a.png", "Team photo": "/t"})
    assert page.count('src="/api/x/a.png"') == 2
    assert '<img src="/t" alt="Team photo">' in page
    assert '<img src="/api/x/a.png" alt="A red bicycle by a canal" class="hero">' in page
    assert '\'<img src="" alt="in a script">\'' in page  # script content untouched
    # Everything but the three rewritten tags is byte for byte the same.
    rest = [line for line in page.splitlines() if 'src="/' not in line]
    assert rest == [
        line
        for line in PAGE.splitlines()
        if line
        not in (
            '<img src="https://placehold.co/600x400" alt="A red bicycle by a canal" class="hero">',
            '<img alt="Team photo">',
            '<img src="https://via.placeholder.com/150" alt="A red bicycle by a canal">',
        )
    ]


def test_rewriting_drops_a_placeholder_srcset_and_escapes_attributes():
    page = '<p><IMG SRC="" srcset="https://placehold.co/1x1 2x" alt="Fish &amp; chips" hidden></p>'
    assert rewrite_sources(page, {"Fish & chips": "/i.png"}) == (
        '<p><img src="/i.png" alt="Fish &amp; chips" hidden></p>'
    )


def _generator(server, tmp_path, **overrides):
    options = {
        "generation_id": "gen-1",
        "client": client_for(server.base_url),
        "model": DEFAULT_IMAGE_MODEL,
        "per_variant": 8,
        "root": tmp_path,
    }
    return ImageGenerator(**(options | overrides))


async def test_placeholders_become_stored_images_and_the_html_points_to_them(fake_openai, tmp_path):
    result = await _generator(fake_openai, tmp_path).process(PAGE)

    alts = [image["alt"] for image in result.images]
    assert alts == [
        "A red bicycle by a canal",
        "Portrait of a smiling baker",
        "Team photo",
        "Wide mountain panorama",
    ]
    assert {image["status"] for image in result.images} == {GENERATED}
    # One call per distinct alt text, each at the accepted size nearest the placeholder's shape.
    sizes = {request["prompt"]: request["size"] for request in fake_openai.image_requests}
    assert sizes == {
        "A red bicycle by a canal": "1536x1024",
        "Portrait of a smiling baker": "1024x1536",
        "Team photo": "1024x1024",
        "Wide mountain panorama": "1536x1024",
    }
    request = fake_openai.image_requests[0]
    assert request["model"] == DEFAULT_IMAGE_MODEL
    assert request["n"] == 1
    assert "response_format" not in request
    for image in result.images:
        name = image["url"].rsplit("/", 1)[1]
        assert image["url"] == f"/api/generations/gen-1/images/{name}"
        assert result.html.count(f'src="{image["url"]}"') >= 1
        with Image.open(stored_image(tmp_path, "gen-1", name)) as picture:
            assert picture.format == "PNG"
    assert "placehold.co/600x400" not in result.html
    assert 'src="https://placehold.co/100x100" alt=""' in result.html  # no alt text: left alone
    assert 'src="https://example.com/logo.png"' in result.html
    # 4 calls at 10 input and 200 output tokens: 4 x (10 x $5 + 200 x $30) / 1M.
    assert result.cost_usd == Decimal("0.024200")


async def test_identical_alt_texts_are_generated_once_per_generation(fake_openai, tmp_path):
    generator = _generator(fake_openai, tmp_path)
    first, second = await asyncio.gather(generator.process(PAGE), generator.process(PAGE))

    assert len(fake_openai.image_requests) == 4
    assert [i["url"] for i in first.images] == [i["url"] for i in second.images]
    # The images are paid for once, by whichever variant asked first.
    costs = sorted([first.cost_usd or Decimal(0), second.cost_usd or Decimal(0)])
    assert costs == [Decimal(0), Decimal("0.024200")]


async def test_an_image_already_stored_is_reused_without_a_call(fake_openai, tmp_path):
    await _generator(fake_openai, tmp_path).process('<img src="" alt="Team photo">')
    again = await _generator(fake_openai, tmp_path).process('<img src="" alt="Team photo">')

    assert len(fake_openai.image_requests) == 1
    assert again.images[0]["status"] == GENERATED
    assert again.cost_usd is None


async def test_at_most_the_configured_number_per_variant(fake_openai, tmp_path):
    page = "".join(f'<img src="" alt="Picture {n}">' for n in range(5))
    result = await _generator(fake_openai, tmp_path, per_variant=3).process(page)

    assert [i["status"] for i in result.images] == [GENERATED] * 3 + [SKIPPED] * 2
    assert len(fake_openai.image_requests) == 3
    assert result.html.count('src=""') == 2
    assert "CLONEGEN_IMAGES_PER_VARIANT" in result.images[3]["error"]


async def test_calls_run_with_bounded_concurrency(fake_openai, tmp_path):
    fake_openai.release.clear()
    page = "".join(f'<img src="" alt="Picture {n}">' for n in range(6))
    work = asyncio.ensure_future(_generator(fake_openai, tmp_path, concurrency=2).process(page))
    while fake_openai.in_flight < 2:
        await asyncio.sleep(0.01)
    fake_openai.release.set()
    result = await work

    assert fake_openai.most_in_flight == 2
    assert [i["status"] for i in result.images] == [GENERATED] * 6


async def test_a_failed_image_keeps_its_placeholder_and_says_why(fake_openai, tmp_path):
    fake_openai.refuse["Team photo"] = (400, f"Your request was rejected, key {TEST_KEY}")
    fake_openai.answer_b64["Wide mountain panorama"] = base64.b64encode(b"not a png").decode()

    result = await _generator(fake_openai, tmp_path).process(PAGE)

    by_alt = {image["alt"]: image for image in result.images}
    assert by_alt["Team photo"]["status"] == FAILED
    assert by_alt["Team photo"]["url"] is None
    assert "400" in by_alt["Team photo"]["error"]
    assert "rejected" in by_alt["Team photo"]["error"]
    assert TEST_KEY not in by_alt["Team photo"]["error"]
    assert by_alt["Wide mountain panorama"]["status"] == FAILED
    assert "not an image" in by_alt["Wide mountain panorama"]["error"]
    assert '<img alt="Team photo">' in result.html
    assert 'src="https://picsum.photos/seed/x/800/200"' in result.html
    assert by_alt["A red bicycle by a canal"]["status"] == GENERATED
    assert len(list((tmp_path / "images" / "gen-1").iterdir())) == 2


async def test_an_unreachable_images_endpoint_fails_each_image_not_the_variant(tmp_path):
    import socket

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    generator = ImageGenerator(
        generation_id="gen-1",
        client=client_for(f"http://127.0.0.1:{port}/v1"),
        model=DEFAULT_IMAGE_MODEL,
        per_variant=8,
        root=tmp_path,
    )
    result = await generator.process('<img src="" alt="Team photo">')

    assert result.images == [
        {"alt": "Team photo", "url": None, "status": FAILED, "error": "images API unreachable"}
    ]
    assert result.html == '<img src="" alt="Team photo">'


def test_stored_image_refuses_names_that_are_not_ours(tmp_path):
    folder = tmp_path / "images" / "gen-1"
    folder.mkdir(parents=True)
    (folder / image_name("a")).write_bytes(b"png")
    assert stored_image(tmp_path, "gen-1", image_name("a")) == folder / image_name("a")
    assert stored_image(tmp_path, "gen-1", "../../etc/passwd") is None
    assert stored_image(tmp_path, "gen-1", image_name("b")) is None


def test_zip_holds_the_page_and_its_images_with_relative_paths():
    prefix = "/api/generations/gen-1/images/"
    first, second = image_name("a"), image_name("b")
    page = f'<img src="{prefix}{first}"><img src="{prefix}{second}"><img src="/other.png">'

    archive = zipfile.ZipFile(io.BytesIO(page_zip(page, {first: b"A", second: b"B"}, prefix)))

    assert sorted(archive.namelist()) == sorted(
        ["images/" + first, "images/" + second, "index.html"]
    )
    index = archive.read("index.html").decode()
    assert index == f'<img src="images/{first}"><img src="images/{second}"><img src="/other.png">'
    assert archive.read("images/" + first) == b"A"


def test_a_stored_image_is_served_as_png_with_long_caching(tmp_path):
    from django.http import Http404

    from generations.placeholder_images import image_response

    folder = tmp_path / "images" / "gen-1"
    folder.mkdir(parents=True)
    (folder / image_name("a")).write_bytes(b"\x89PNG...")

    response = image_response(tmp_path, "gen-1", image_name("a"))

    assert response["Content-Type"] == "image/png"
    assert "max-age=31536000" in response["Cache-Control"]
    assert b"".join(response.streaming_content) == b"\x89PNG..."
    with pytest.raises(Http404):
        image_response(tmp_path, "gen-1", "../secret.png")


async def test_an_image_in_another_format_is_stored_as_png(fake_openai, tmp_path):
    jpeg = io.BytesIO()
    Image.new("RGB", (32, 16), (200, 30, 30)).save(jpeg, format="JPEG")
    fake_openai.answer_b64["Team photo"] = base64.b64encode(jpeg.getvalue()).decode()

    result = await _generator(fake_openai, tmp_path).process('<img src="" alt="Team photo">')

    name = result.images[0]["url"].rsplit("/", 1)[1]
    with Image.open(stored_image(tmp_path, "gen-1", name)) as picture:
        assert (picture.format, picture.size) == ("PNG", (32, 16))


async def test_deleting_a_generations_images_removes_its_folder_only(fake_openai, tmp_path):
    from generations.placeholder_images import delete_images

    await _generator(fake_openai, tmp_path).process('<img src="" alt="Team photo">')
    await _generator(fake_openai, tmp_path, generation_id="gen-2").process(
        '<img src="" alt="Team photo">'
    )

    delete_images(tmp_path, "gen-1")

    assert not (tmp_path / "images" / "gen-1").exists()
    assert stored_image(tmp_path, "gen-2", image_name("Team photo")) is not None
