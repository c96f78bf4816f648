"""Versions in a real browser: edit a finished variant, follow the new generation live, and
walk back to its parent through the lineage, all in one page that never reloads (Debian's
Chromium, real daphne, the stand-in)."""

import re

import pytest

from tests import test_ui
from tests.test_ui import (
    COMPLETED_PANELS,
    assert_no_console_errors,
    assert_shows_stored_result,
    save_screenshot,
    serve,
    stored_generation,
    upload_and_generate,
)

pytestmark = pytest.mark.ui

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect
# The browser tests' screenshot file, shared rather than copied (open_page is in conftest).
screenshot_file = test_ui.screenshot_file

# A full page load would lose it: set once, it proves every later step happened in place.
MARK_PAGE = "window.__samePage = 'yes'"
SAME_PAGE = "window.__samePage"


def assert_in_place(page, generation_id: str) -> None:
    """The page shows `generation_id` (address, bar, card) without having been reloaded."""
    assert page.evaluate(SAME_PAGE) == "yes", "the page was loaded again"
    assert page.url.endswith(f"/g/{generation_id}")
    expect(page.locator("#generation-id")).to_have_text(generation_id)
    expect(page.locator("#lineage")).to_have_attribute("data-generation-id", generation_id)


# Stored statuses come with the page's data at once; the pages themselves with the snapshot.
PREVIEWS_OF = (
    "(id) => [...document.querySelectorAll('.panel iframe')]"
    ".filter((f) => (f.getAttribute('src') ?? '').includes(id)).length === 4"
)


def assert_shows_generation(page, server, generation_id: str) -> None:
    page.wait_for_function(PREVIEWS_OF, arg=generation_id)
    assert_shows_stored_result(page, stored_generation(server, generation_id))


@pytest.mark.e2e
def test_edit_a_variant_follow_it_live_and_walk_back_to_the_parent(
    daphne, standin, open_page, screenshot_file
):
    standin.chunks_per_second = 200  # the edit's panels visibly stream
    server = serve(daphne)
    page = open_page(server.base_url, "/", height=1320)
    page.evaluate(MARK_PAGE)
    parent_id = upload_and_generate(page, screenshot_file)
    # Started from the form, it shows its Versions card at once, no reload needed.
    chain = page.locator("#lineage-chain li")
    expect(chain).to_have_count(1)
    expect(chain.nth(0)).to_contain_text(f"This version {parent_id[:8]}")
    expect(chain.nth(0)).to_contain_text("the first clone")
    page.wait_for_function(COMPLETED_PANELS, arg=4)
    expect(chain.nth(0).locator(".badge")).to_have_text("completed")
    assert_in_place(page, parent_id)
    for index in range(4):  # the previews drawn, so the screenshot shows them
        preview = page.frame_locator(f'.panel[data-index="{index}"] iframe')
        expect(preview.locator("h1")).to_be_visible()
    save_screenshot(page, "lineage-started.png")

    panel = page.locator('.panel[data-index="1"]')
    panel.get_by_role("button", name="Edit").click()
    panel.get_by_label("What should change in variant 2?").fill("make the header blue")
    panel.scroll_into_view_if_needed()
    save_screenshot(page, "lineage-edit-box.png")
    page.evaluate("window.__statuses = {}")  # only the edit's panels from here
    panel.get_by_role("button", name="Make this change").click()
    page.wait_for_url(re.compile(r"/g/(?!" + parent_id + r")[0-9a-f-]+$"))
    edit_id = page.url.rsplit("/", 1)[-1]

    # The page switches to the edit in place and follows it live: its panels stream, then finish.
    expect(page.locator(".panel")).to_have_count(4)
    page.wait_for_function(COMPLETED_PANELS, arg=4)
    seen = page.evaluate("window.__statuses")
    assert any("streaming" in statuses for statuses in seen.values()), seen
    assert_in_place(page, edit_id)
    expect(chain).to_have_count(2)
    expect(chain.nth(0)).to_contain_text(f"Original {parent_id[:8]}")
    expect(chain.nth(1)).to_contain_text("This version")
    expect(chain.nth(1)).to_contain_text("edit of variant 2: “make the header blue”")
    expect(chain.nth(1).locator(".badge")).to_have_text("completed")  # kept in step, live
    edit = stored_generation(server, edit_id)
    assert (edit["kind"], edit["parent"], edit["root_id"]) == (
        "edit",
        {"id": parent_id, "index": 1},
        parent_id,
    )
    assert "make the header blue" in standin.requests[-1]["messages"][1]["content"][1]["text"]
    page.evaluate("window.scrollTo(0, 0)")
    save_screenshot(page, "lineage-edit.png")

    # Back to the parent through the lineage, in place; it lists the edit as made from it, and
    # the panels, screenshot and details are the parent's.
    chain.nth(0).get_by_role("link").click()
    page.wait_for_url(f"**/g/{parent_id}")
    assert_in_place(page, parent_id)
    expect(page.locator('#lineage-chain li[aria-current="page"]')).to_contain_text("This version")
    children = page.locator("#lineage-children li")
    expect(children).to_have_count(1)
    expect(children).to_contain_text("from variant 2: “make the header blue”")
    expect(page.locator("#source-instructions")).to_have_text("—")
    expect(page.locator("#source-link")).to_have_attribute("href", f"/g/{parent_id}/screenshot")
    assert_shows_generation(page, server, parent_id)
    save_screenshot(page, "lineage-parent.png")

    # The browser's Back returns to the edit, in place; Forward to the parent again.
    page.go_back()
    page.wait_for_url(f"**/g/{edit_id}")
    assert_in_place(page, edit_id)
    expect(chain).to_have_count(2)
    expect(chain.nth(1)).to_contain_text("This version")
    expect(page.locator("#source-instructions")).to_have_text("make the header blue")
    assert_shows_generation(page, server, edit_id)
    save_screenshot(page, "lineage-back.png")
    page.go_forward()
    page.wait_for_url(f"**/g/{parent_id}")
    assert_in_place(page, parent_id)
    assert_shows_generation(page, server, parent_id)

    children.get_by_role("link").click()
    page.wait_for_url(f"**/g/{edit_id}")
    assert_in_place(page, edit_id)
    assert_no_console_errors(page)


@pytest.mark.e2e
def test_clone_a_page_by_its_address(daphne, standin, open_page):
    """The form takes an address instead of a screenshot: clonegen's own history page, on
    loopback, with the private flag on (a test-only setting)."""
    server = daphne(DJANGO_HTTPS="0", CLONEGEN_URL_ALLOW_PRIVATE="1")
    page = open_page(server.base_url, "/")
    address = f"{server.base_url}/history"
    page.get_by_label("…or a page's address").fill(address)
    page.click("#generate")
    page.wait_for_url("**/g/*")
    generation_id = page.url.rsplit("/", 1)[-1]
    expect(page.locator("#lineage-source")).to_contain_text(f"Captured from {address}")
    expect(page.locator("#source-info")).to_contain_text("1280 \N{MULTIPLICATION SIGN}")
    page.wait_for_function(COMPLETED_PANELS, arg=4)
    stored = stored_generation(server, generation_id)
    assert stored["source_url"] == address
    save_screenshot(page, "lineage-url.png")
    assert_no_console_errors(page)


@pytest.mark.e2e
def test_a_forbidden_address_is_refused_on_the_form(daphne, open_page):
    server = serve(daphne)  # the private flag off: loopback is refused
    page = open_page(server.base_url, "/")
    page.get_by_label("…or a page's address").fill(f"{server.base_url}/history")
    page.click("#generate")
    expect(page.locator("#message")).to_contain_text("url_forbidden")
    expect(page.locator("#generate")).to_be_enabled()
    assert page.url == f"{server.base_url}/"
