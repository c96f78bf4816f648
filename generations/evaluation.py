"""Render a variant and score it against its screenshot: what the pipeline and score_page run.

`evaluate` blocks its thread (a management command, a worker); `aevaluate` is for an event
loop: the browser works on its own thread and the scoring (numpy, about half a CPU second) runs
on a small pool bounded like the browser's pages, so neither blocks the loop.
"""

import asyncio
import concurrent.futures
from dataclasses import dataclass

from generations import rendering, scoring
from generations.browser import SharedBrowser, render_concurrency


@dataclass(frozen=True)
class Evaluation:
    render: rendering.Render
    score: dict  # {"visual": 0-1, components...}: see generations.scoring.score


_scoring_pool = concurrent.futures.ThreadPoolExecutor(
    max_workers=render_concurrency(), thread_name_prefix="clonegen-score"
)


def evaluate(
    html: str, screenshot: bytes, browser: SharedBrowser | None = None, time_limit: float = 30.0
) -> Evaluation:
    """Render `html` and score it against `screenshot` (image bytes); blocks the calling thread.

    Raises scoring.UnreadableImage before rendering if the screenshot is not an image,
    browser.BrowserUnavailable without Chromium, TimeoutError for a page that never settles.
    """
    shot = scoring.load_image(screenshot)
    render = rendering.render_page(html, browser, time_limit=time_limit)
    return Evaluation(render, scoring.score(shot, render.png, render.text_boxes))


async def aevaluate(
    html: str, screenshot: bytes, browser: SharedBrowser | None = None, time_limit: float = 30.0
) -> Evaluation:
    """The same as `evaluate`, awaited without blocking the event loop."""
    loop = asyncio.get_running_loop()
    shot = await loop.run_in_executor(_scoring_pool, scoring.load_image, screenshot)
    render = await rendering.arender_page(html, browser, time_limit=time_limit)
    score = await loop.run_in_executor(
        _scoring_pool, scoring.score, shot, render.png, render.text_boxes
    )
    return Evaluation(render, score)
