"""The web page at `/`: its form, its script and stylesheet, and the demo-mode banner."""

from html.parser import HTMLParser

import pytest

from demo.pages import DEMO_NOTICE
from tests.support import TEST_API_KEY

pytestmark = pytest.mark.django_db


class Tags(HTMLParser):
    """Every start tag of a page, with its attributes, and the text inside each element id."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text_by_id: dict[str, str] = {}
        self._open_ids: list[str | None] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag not in ("input", "img", "meta", "link", "br"):
            self._open_ids.append(attributes.get("id"))

    def handle_endtag(self, tag):
        if self._open_ids:
            self._open_ids.pop()

    def handle_data(self, data):
        for element_id in self._open_ids:
            if element_id:
                self.text_by_id[element_id] = self.text_by_id.get(element_id, "") + data

    def find(self, tag: str, **attributes) -> list[dict]:
        return [
            attrs
            for name, attrs in self.tags
            if name == tag and all(attrs.get(k) == v for k, v in attributes.items())
        ]


def get_page(client) -> Tags:
    response = client.get("/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    return Tags(response.content.decode())


def test_page_has_the_form_and_the_generate_button(client):
    page = get_page(client)
    buttons = page.find("button", id="generate")
    assert buttons, "the Generate button is missing"
    assert buttons[0].get("type") == "submit"
    assert page.text_by_id["generate"].strip() == "Generate"
    assert page.find("input", type="file", id="image")
    assert page.find("select", id="stack")
    assert page.find("textarea", id="instructions")


def test_page_loads_app_js_as_a_module_and_app_css(client):
    page = get_page(client)
    scripts = [s for s in page.find("script") if s.get("src", "").endswith("generations/app.js")]
    assert scripts, "app.js is not loaded"
    assert scripts[0].get("type") == "module", "app.js must load as an ES module"
    assert any(
        link.get("href", "").endswith("generations/app.css")
        for link in page.find("link", rel="stylesheet")
    )


def test_demo_banner_shows_the_demo_notice_without_a_key(client, settings):
    settings.OPENAI_API_KEY = ""
    page = get_page(client)
    assert page.find("body")[0].get("data-mode") == "demo"
    assert page.find("p", id="demo-banner"), "demo mode must show the banner"
    assert page.text_by_id["demo-banner"].strip() == DEMO_NOTICE


def test_no_demo_banner_with_a_key(client, settings):
    settings.OPENAI_API_KEY = TEST_API_KEY
    response = client.get("/")
    page = Tags(response.content.decode())
    assert page.find("body")[0].get("data-mode") == "live"
    assert not page.find("p", id="demo-banner")
    assert DEMO_NOTICE not in response.content.decode()
    assert TEST_API_KEY not in response.content.decode(), "the API key must never reach the page"


def test_page_states_the_image_size_limit(client, settings):
    settings.CLONEGEN_MAX_IMAGE_MB = 7
    page = get_page(client)
    assert page.find("body")[0].get("data-max-image-mb") == "7"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        pytest.param("/static/generations/app.js", "text/javascript", id="app.js"),
        pytest.param("/static/generations/app.css", "text/css", id="app.css"),
    ],
)
def test_static_files_are_served(client, path, content_type):
    response = client.get(path)
    assert response.status_code == 200, f"{path} answered {response.status_code}"
    assert response["Content-Type"].split(";")[0].strip() == content_type
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert body.strip(), f"{path} is empty"
