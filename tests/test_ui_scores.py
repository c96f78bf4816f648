"""Renders and scores in a real browser (contract §9): each panel's visual score badge, the
panels ordered by score, the original over a variant's render (overlay and difference), a
render that failed, and the model leaderboard at /stats. Debian's Chromium driven by Playwright
against real daphne processes that render (CLONEGEN_RENDERS=1).

Screenshots land in test-artifacts/ (git-ignored): scores-1280.png, scores-1920.png,
scores-390.png, scores-1280-compare.png, scores-compare-overlay.png,
scores-compare-difference.png, scores-popover.png, render-failed-1280.png, stats-1280.png,
stats-1920.png, stats-390.png.
"""

import json
import re
import time

import pytest

from demo.pages import sample_page
from generations.tailwind import PLAIN, vendored_path
from tests.support import DEFAULT_MODELS, data_url, png_bytes
from tests.ui_support import (
    COMPLETED_PANELS,
    evaluate_static_module,
    save_screenshot,
    upload_and_generate,
)

pytestmark = [pytest.mark.ui, pytest.mark.e2e]

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect
expect.set_options(timeout=20_000)

# Rendering four pages costs a few seconds of CPU on a loaded 2-core machine.
SCORED_PANELS = (
    "(n) => document.querySelectorAll('.panel .score[data-state=done]:not([hidden])').length === n"
)
VISUAL = re.compile(r"^Visual [01]\.\d\d$")
# The panels as a reader sees them: top to bottom, then left to right.
VISUAL_ORDER = """() => [...document.querySelectorAll('.panel')]
  .map((p) => { const r = p.getBoundingClientRect();
    return {index: Number(p.dataset.index), top: Math.round(r.top), left: Math.round(r.left)}; })
  .sort((a, b) => a.top - b.top || a.left - b.left)
  .map((p) => p.index)"""


# ------------------------------------------------------------------------------- fixtures


@pytest.fixture
def sample_screenshot(browser, tmp_path):
    """A screenshot of a landing page like the stand-in's sample page (styled by the vendored
    Tailwind): the demo's last variant writes a page of the same layout, the others pictures of
    the screenshot at falling sharpness."""
    tailwind = vendored_path(PLAIN)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.route(
            "https://cdn.tailwindcss.com/**",
            lambda route: route.fulfill(path=tailwind, content_type="text/javascript"),
        )
        page.set_content(sample_page(DEFAULT_MODELS[0]), wait_until="networkidle")
        path = tmp_path / "original.png"
        page.screenshot(path=str(path))
    finally:
        context.close()
    return path


# ------------------------------------------------------------------------------- helpers


def assert_no_console_errors(page) -> None:
    assert page.console_errors == [], page.console_errors


def scores_by_index(page) -> dict[int, float]:
    pairs = page.evaluate(
        "() => [...window.clonegen.state.panels.values()].map((p) => [p.index, p.score?.visual])"
    )
    return dict(pairs)


def scored_generation(server, generation_id: str, timeout: float = 60) -> dict:
    """Poll the REST API until every completed variant's render has settled."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = server.get(f"/api/generations/{generation_id}").json()["data"]
        settled = data["status"] not in ("started", "running") and all(
            v["render_status"] != "pending" for v in data["variants"] if v["status"] == "completed"
        )
        if settled:
            return data
        time.sleep(0.2)  # a REST poll: there is no event to await from outside the server
    raise AssertionError(f"{generation_id}: renders still pending after {timeout}s")


# ------------------------------------------------------------------------------- tests


def test_scores_appear_order_the_panels_and_the_original_lies_over_each_render(
    daphne, open_page, sample_screenshot
):
    # Demo mode: the in-process stand-in writes the four pages; this server renders them.
    server = daphne(DJANGO_HTTPS="0", OPENAI_API_KEY="", CLONEGEN_RENDERS="1")
    page = open_page(server.base_url, "/", width=1920, height=1080)
    received = []
    page.on(
        "websocket",
        lambda ws: ws.on("framereceived", lambda payload: received.append(json.loads(payload))),
    )
    generation_id = upload_and_generate(page, sample_screenshot)
    page.wait_for_function(COMPLETED_PANELS, arg=4)

    # Every panel gets its score, after the generation itself has finished.
    page.wait_for_function(SCORED_PANELS, arg=4, timeout=60_000)
    badges = page.locator(".panel .score-badge")
    expect(badges).to_have_text([VISUAL] * 4)
    # The scores came as frames, after the generation had finished: the page kept listening.
    types = [frame["type"] for frame in received]
    assert types.count("variant.scored") == 4, types
    assert types.index("generation.finished") < len(types) - 1 - types[::-1].index("variant.scored")
    stored = {
        v["index"]: v
        for v in server.get(f"/api/generations/{generation_id}").json()["data"]["variants"]
    }
    shown = scores_by_index(page)
    for index, variant in stored.items():
        assert variant["render_status"] == "done"
        assert shown[index] == pytest.approx(variant["score"]["visual"])
        expect(badges.nth(index)).to_have_text(f"Visual {variant['score']['visual']:.2f}")
    # The demo's pictures of the screenshot, sharper for the first model than the second, and
    # for the second than the third (demo/mirror.py), score in that order; the scores differ
    # visibly.
    assert shown[0] > shown[1] > shown[2], shown
    assert max(shown.values()) - min(shown.values()) > 0.2, shown

    # The components on hover (the tooltip) and on click (the popover).
    first = page.locator('.panel[data-index="0"] .score-badge')
    title = first.get_attribute("title")
    for part in ("Structure", "Colour", "Layout", "Text", "Coverage", "Offset"):
        assert part in title, title
    first.click()
    parts = page.locator('.panel[data-index="0"] .score-parts')
    expect(parts).to_be_visible()
    expect(parts).to_contain_text("Structure")
    save_screenshot(page, "scores-popover.png")
    first.click()
    expect(parts).to_be_hidden()
    save_screenshot(page, "scores-1920.png")

    # Ordered by score: highest first; pressed again, back to their own order.
    by_score = sorted(shown, key=lambda index: (-shown[index], index))
    page.get_by_role("button", name="Order by score").click()
    expect(page.get_by_role("button", name="Order by score")).to_have_attribute(
        "aria-pressed", "true"
    )
    assert page.evaluate(VISUAL_ORDER) == by_score
    page.set_viewport_size({"width": 1280, "height": 900})
    assert page.evaluate(VISUAL_ORDER) == by_score  # two by two, still in order
    page.evaluate("window.scrollTo(0, 0)")
    save_screenshot(page, "scores-1280.png")
    # The compare layout (the original and the four pages at once) keeps the badges and order.
    page.click("#layout-compare")
    expect(page.locator(".panel .score-badge").first).to_be_visible()
    assert page.evaluate(VISUAL_ORDER) == by_score
    save_screenshot(page, "scores-1280-compare.png")
    page.click("#layout-compare")
    page.get_by_role("button", name="Order by score").click()
    assert page.evaluate(VISUAL_ORDER) == [0, 1, 2, 3]

    # The original over the render of a variant, faded, then as a difference.
    panel = page.locator('.panel[data-index="1"]')
    panel.get_by_role("button", name="Compare").click()
    render = panel.locator("img.compare-render")
    original = panel.locator("img.compare-original")
    expect(render).to_have_attribute(
        "src", f"/api/generations/{generation_id}/variants/1/render.png"
    )
    expect(original).to_have_attribute("src", f"/g/{generation_id}/screenshot")
    expect(panel.locator("iframe")).to_be_hidden()
    page.wait_for_function(
        "(imgs) => imgs.every((i) => i.complete && i.naturalWidth > 0)",
        arg=[render.element_handle(), original.element_handle()],
    )
    assert render.evaluate("(i) => i.naturalWidth") == 1280  # the server's 1280 px render
    same_scale = "(i) => i.getBoundingClientRect().width"
    assert render.evaluate(same_scale) == pytest.approx(original.evaluate(same_scale))
    assert original.evaluate("(i) => getComputedStyle(i).opacity") == "0.5"
    panel.locator(".compare-slider").fill("80")
    assert original.evaluate("(i) => getComputedStyle(i).opacity") == "0.8"
    panel.evaluate("(el) => el.scrollIntoView({block: 'start'})")
    save_screenshot(page, "scores-compare-overlay.png")
    panel.get_by_role("button", name="Difference").click()
    expect(panel.get_by_role("button", name="Difference")).to_have_attribute("aria-pressed", "true")
    assert original.evaluate("(i) => getComputedStyle(i).mixBlendMode") == "difference"
    assert original.evaluate("(i) => getComputedStyle(i).opacity") == "1"
    expect(panel.locator(".compare-slider")).to_be_disabled()
    save_screenshot(page, "scores-compare-difference.png")
    panel.get_by_role("button", name="Preview").click()
    expect(panel.locator("iframe")).to_be_visible()

    # A phone: stacked, nothing sideways, the badges still there.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scroll"
    page.locator('.panel[data-index="0"]').evaluate("(el) => el.scrollIntoView({block: 'start'})")
    expect(page.locator('.panel[data-index="0"] .score-badge')).to_be_visible()
    save_screenshot(page, "scores-390.png")

    # Another machine, later: the scores come with the page (no waiting for frames).
    other = open_page(server.base_url, f"/g/{generation_id}")
    other.wait_for_function(SCORED_PANELS, arg=4)
    expect(other.locator(".panel .score-badge")).to_have_text([VISUAL] * 4)
    assert_no_console_errors(page)
    assert_no_console_errors(other)


def test_a_render_that_failed_says_why_and_offers_no_compare(daphne, open_page, tmp_path):
    server = daphne(
        DJANGO_HTTPS="0",
        OPENAI_API_KEY="",
        CLONEGEN_RENDERS="1",
        CLONEGEN_CHROMIUM=str(tmp_path / "no-such-chromium"),
    )
    shot = tmp_path / "shot.png"
    shot.write_bytes(png_bytes(1280, 800, "#dbe7f3"))
    page = open_page(server.base_url, "/")
    upload_and_generate(page, shot)
    page.wait_for_function(COMPLETED_PANELS, arg=4)
    failed = page.locator(".panel .score[data-state=failed] .score-badge")
    expect(failed).to_have_count(4)
    expect(failed.first).to_contain_text("Render failed: ")
    expect(failed.first).to_have_attribute("title", re.compile("browser", re.IGNORECASE))
    expect(page.locator(".panel").first.get_by_role("button", name="Compare")).to_be_disabled()
    page.evaluate("window.scrollTo(0, 0)")
    save_screenshot(page, "render-failed-1280.png")
    assert_no_console_errors(page)


def test_the_leaderboard_charts_each_model(daphne, open_page):
    # Live mode against the stand-in: demo generations never count in the model stats.
    server = daphne(DJANGO_HTTPS="0", CLONEGEN_RENDERS="1")
    created = server.post("/api/generations", json={"image": data_url(png_bytes(1280, 800))})
    assert created.status_code == 202, created.text
    scored_generation(server, created.json()["data"]["id"])
    stats = {row["model"]: row for row in server.get("/api/models/stats").json()["data"]}
    assert set(stats) == set(DEFAULT_MODELS)
    assert all(row["median_visual_score"] is not None for row in stats.values())

    page = open_page(server.base_url, "/history")
    page.get_by_role("link", name="Models").click()
    page.wait_for_url("**/stats")
    expect(page.get_by_role("link", name="Models")).to_have_attribute("aria-current", "page")
    leaders = page.locator(".leaderboard .leader")
    expect(leaders).to_have_count(4)
    shown = leaders.evaluate_all("(els) => els.map((e) => e.dataset.model)")
    best_first = sorted(stats, key=lambda m: (-stats[m]["median_visual_score"], m))
    assert [stats[m]["median_visual_score"] for m in shown] == [
        stats[m]["median_visual_score"] for m in best_first
    ]
    for rank, model in enumerate(shown, start=1):
        leader = page.locator(f'.leader[data-model="{model}"]')
        expect(leader.locator(".leader-rank")).to_have_text(str(rank))
        expect(leader.locator(".measure")).to_have_count(4)
        visual = leader.locator('[data-measure="visual"] .chart-value')
        expect(visual).to_have_text(f"{stats[model]['median_visual_score']:.2f}")
        expect(leader.locator('[data-measure="completed"] .chart-value')).to_have_text("100 %")
        # Each measure with a value draws its bar; the visual one as long as the score says.
        expect(leader.locator(".chart-bar")).to_have_count(
            sum(
                v is not None
                for v in (
                    stats[model]["median_visual_score"],
                    stats[model]["completed_share"],
                    stats[model]["median_duration_ms"],
                    float(stats[model]["total_cost_usd"]) or None,
                )
            )
        )
        ratio = leader.locator('[data-measure="visual"]').evaluate(
            "(g) => g.querySelector('.chart-bar').getAttribute('width')"
            " / g.querySelector('.chart-track').getAttribute('width')"
        )
        assert ratio == pytest.approx(max(stats[model]["median_visual_score"], 2 / 180), abs=0.01)
    save_screenshot(page, "stats-1280.png")
    page.set_viewport_size({"width": 1920, "height": 1080})
    save_screenshot(page, "stats-1920.png")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scroll"
    save_screenshot(page, "stats-390.png")
    assert_no_console_errors(page)


@pytest.mark.django_db
def test_the_stats_page_has_no_inline_scripts_or_styles(client):
    html = client.get("/stats", secure=True).content.decode()
    assert 'src="/static/generations/stats.js"' in html
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)
    for attrs in re.findall(r"<script([^>]*)>", html):
        assert "src=" in attrs or 'type="application/json"' in attrs, attrs


def test_the_badge_words_each_state_and_the_order_puts_unscored_last(browser):
    """The score module alone (no server): every state of the badge, and the order by score."""
    result = evaluate_static_module(
        browser,
        """async () => {
              const { ScoreBadge, panelOrder } = await import("/static/generations/scores.js");
              const badge = new ScoreBadge();
              document.body.append(badge.root);
              const seen = [];
              const look = (args) => {
                badge.show(args);
                seen.push([badge.root.hidden, badge.root.dataset.state ?? null,
                           badge.summary.textContent, badge.root.dataset.level ?? null]);
              };
              look({ completed: false, renderStatus: "pending", score: null });
              look({ completed: true, renderStatus: "pending", score: null });
              look({ completed: true, renderStatus: "failed", renderError: "No browser" });
              look({ completed: true, renderStatus: "late", score: null });
              look({ completed: true, renderStatus: "done", score: { visual: 0.873, structure: 0.9,
                     color: 0.8, layout: 0.7, text: null, coverage: 1, offset_px: 48 } });
              look({ completed: true, renderStatus: "done", score: { visual: 0.31 } });
              const panels = [0.5, null, 0.9, 0.5].map((visual, index) => (
                { index, score: visual === null ? null : { visual } }));
              const order = (byScore) => [...panelOrder(panels, byScore)]
                .sort((a, b) => a[1] - b[1]).map(([panel]) => panel.index);
              badge.show({ completed: true, renderStatus: "done", score: { visual: 0.873,
                           structure: 0.9, color: 0.8, layout: 0.7, coverage: 1, offset_px: 48 } });
              return { seen, title: badge.summary.title, byScore: order(true), own: order(false) };
            }""",
    )
    assert result["seen"] == [
        [True, None, "", None],
        [False, "pending", "Rendering…", "none"],
        [False, "failed", "Render failed: No browser", "none"],
        [False, "late", "Not scored yet", "none"],
        [False, "done", "Visual 0.87", "high"],
        [False, "done", "Visual 0.31", "low"],
    ]
    for part in ("Structure 0.90", "Colour 0.80", "Layout 0.70", "Coverage 1.00", "Offset 48 px"):
        assert part in result["title"], result["title"]
    assert result["byScore"] == [2, 0, 3, 1]  # highest first, ties by index, unscored last
    assert result["own"] == [0, 1, 2, 3]
