"""Honest records in a real browser: a generation page's Delete (with its confirmation) and a
demo generation's labels. Debian's Chromium driven by Playwright against real daphne."""

import time

import pytest

from tests.support import data_url, png_bytes
from tests.ui_support import save_screenshot

pytestmark = [pytest.mark.ui, pytest.mark.e2e]

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect
expect.set_options(timeout=15_000)

COMPLETED_PANELS = "(n) => document.querySelectorAll('.panel[data-status=completed]').length === n"


def finished_generation(server) -> dict:
    """A generation made over REST and run to its end (polled: no browser involved)."""
    created = server.post("/api/generations", json={"image": data_url(png_bytes(640, 400))})
    assert created.status_code == 202, created.text
    generation_id = created.json()["data"]["id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        data = server.get(f"/api/generations/{generation_id}").json()["data"]
        if data["status"] not in ("started", "running"):
            return data
        time.sleep(0.1)  # a REST poll: there is no event to await from outside the server
    raise AssertionError(f"{generation_id} still running")


def test_delete_asks_first_then_removes_the_generation(daphne, open_page):
    server = daphne(DJANGO_HTTPS="0")
    generation = finished_generation(server)
    generation_id = generation["id"]
    page = open_page(server.base_url, f"/g/{generation_id}")
    page.wait_for_function(COMPLETED_PANELS, arg=4)
    dialog = page.locator("#delete-dialog")
    expect(page.locator("#demo-badge")).to_be_hidden()  # a live run

    # Asked, then kept: nothing happens.
    page.get_by_role("button", name="Delete").click()
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Delete this generation?")
    save_screenshot(page, "delete-dialog.png")
    dialog.get_by_role("button", name="Keep it").click()
    expect(dialog).to_be_hidden()
    assert server.get(f"/api/generations/{generation_id}").status_code == 200

    # Asked, then confirmed: gone, and the page goes back to the history.
    page.get_by_role("button", name="Delete").click()
    dialog.get_by_role("button", name="Delete").click()
    page.wait_for_url(f"{server.base_url}/history")
    expect(page.locator(f'.history-item[data-id="{generation_id}"]')).to_have_count(0)
    assert server.get(f"/api/generations/{generation_id}").status_code == 404
    assert server.get(f"/g/{generation_id}/screenshot").status_code == 404
    assert page.console_errors == []


def test_a_running_generation_offers_no_delete(daphne, standin, open_page):
    standin.chunks_per_second = 5  # long enough to look at it while it runs
    server = daphne(DJANGO_HTTPS="0")
    created = server.post("/api/generations", json={"image": data_url(png_bytes())})
    generation_id = created.json()["data"]["id"]
    page = open_page(server.base_url, f"/g/{generation_id}")
    expect(page.locator(".panel")).to_have_count(4)

    expect(page.locator("#cancel")).to_be_visible()
    expect(page.locator("#delete")).to_be_hidden()
    page.locator("#cancel").click()
    expect(page.locator("#overall")).to_contain_text("cancelled")
    expect(page.locator("#delete")).to_be_visible()


def test_a_demo_generation_is_labelled_as_the_stand_ins(daphne, open_page):
    server = daphne(DJANGO_HTTPS="0", OPENAI_API_KEY="")  # demo mode
    generation = finished_generation(server)
    assert generation["demo"] is True
    page = open_page(server.base_url, f"/g/{generation['id']}")
    page.wait_for_function(COMPLETED_PANELS, arg=4)

    expect(page.locator("#demo-badge")).to_be_visible()
    expect(page.locator(".panel .model")).to_have_text(["Demo stand-in"] * 4)
    for index, variant in enumerate(generation["variants"]):
        panel = page.locator(f'.panel[data-index="{index}"]')
        expect(panel.locator(".requested")).to_contain_text(f"stand-in for {variant['model']}")
        expect(panel.locator(".choose")).to_have_text("Use this one")  # nothing chosen yet
    save_screenshot(page, "demo-generation.png")

    page.goto(server.base_url + "/history")
    row = page.locator(f'.history-item[data-id="{generation["id"]}"]')
    expect(row.locator(".demo-badge")).to_have_text("Demo")
    expect(row.locator(".history-models")).to_contain_text("stand-in for")
    expect(row.locator(".chosen-mark")).to_have_count(0)
    save_screenshot(page, "demo-history.png")
    assert page.console_errors == []
