"""The finished-result save path alone: N generations x 4 variants finishing within a window,
saved the round-2 way (per variant: the raw result, then the post-processed HTML, each its own
statement, batched per thread hop) or by group commit (every result waiting in one transaction,
the HTML in the same statement), on the runner's results thread, while the event loop is kept busy.

    .venv/bin/python bench/save_path.py --n 25 50 --busy 0.5

A load run (`bench/load.py`) measures the whole server; on a machine other work keeps busy,
its save figures mostly measure that work. This isolates the one thing group commit changes:
how long a result waits, from "the model finished" to "committed", when many finish together.
`--busy` is the share of the event loop's time spent on other work (sockets, relays) in
slices of 1 ms: the results thread competes with it for the GIL, as in the server.
SQLite in a temporary folder; nothing else is touched.
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("CLONEGEN_DATA_DIR", tempfile.mkdtemp(prefix="clonegen-save-bench-"))
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clonegen.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from generations import services  # noqa: E402
from generations.database import BatchedCalls, GroupCommit, _results_thread  # noqa: E402
from generations.models import Variant  # noqa: E402
from tests.factories import make_generation  # noqa: E402


def result_for(generation_id, index: int) -> dict:
    page = f"<!DOCTYPE html>\n<html><body><p>{'x' * 20000}</p></body></html>"
    return {
        "generation_id": str(generation_id),
        "index": index,
        "model": "gpt-4.1-mini",
        "text": page,
        "raw_html": page,
        "finish_reason": "stop",
        "prompt_tokens": 1000,
        "completion_tokens": 6000,
        "requests": 1,
        "first_token_at": timezone.now(),
        "finished_at": timezone.now(),
        "duration_ms": 4000,
    }


def save_html(*, generation_id, index: int, html: str) -> None:
    """Round 2's second statement per variant."""
    Variant.objects.filter(generation_id=generation_id, index=index).update(html=html)


async def busy_loop(share: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        until = time.perf_counter() + 0.001
        while time.perf_counter() < until:
            pass
        await asyncio.sleep(0.001 * (1 - share) / share if share < 1 else 0)


async def trial(n: int, mode: str, busy: float, window: float) -> list[float]:
    generations = await asyncio.to_thread(
        lambda: [make_generation(("streaming",) * 4) for _ in range(n)]
    )
    results = [result_for(g.id, index) for g in generations for index in range(4)]
    calls = BatchedCalls(_results_thread) if mode == "per-variant" else GroupCommit(_results_thread)

    async def finish(result: dict, delay: float) -> float:
        await asyncio.sleep(delay)
        started = time.perf_counter()
        if mode == "per-variant":
            await calls.call(services.variant_save_result, **result)
            html = result["raw_html"] + "\n"
            await calls.call(save_html, generation_id=result["generation_id"],
                             index=result["index"], html=html)  # fmt: skip
        else:
            await calls.save(**result, html=result["raw_html"] + "\n")
        return time.perf_counter() - started

    stop = asyncio.Event()
    spinner = asyncio.ensure_future(busy_loop(busy, stop)) if busy else None
    waits = await asyncio.gather(
        *(finish(r, window * i / len(results)) for i, r in enumerate(results))
    )
    stop.set()
    if spinner:
        await spinner
    return waits


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, nargs="+", default=[25, 50])
    parser.add_argument("--busy", type=float, default=0.5, help="event loop share in use")
    parser.add_argument("--window", type=float, default=0.3, help="seconds the finishes span")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    print(f"busy {args.busy}, finishes spread over {args.window} s, {args.repeat} trials each")
    print("| N | results | mode | wait p50 ms | wait p99 ms | max ms |")
    print("| --: | --: | --- | --: | --: | --: |")
    for n in args.n:
        for mode in ("per-variant", "group commit"):
            waits = []
            for _ in range(args.repeat):
                waits += asyncio.run(trial(n, mode, args.busy, args.window))
            print(
                f"| {n} | {n * 4} | {mode} | {statistics.median(waits) * 1e3:.0f} "
                f"| {pct(waits, 0.99) * 1e3:.0f} | {max(waits) * 1e3:.0f} |"
            )


if __name__ == "__main__":
    main()
