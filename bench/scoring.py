"""The visual scorer on the labelled set, and what a render and a score cost on this machine.

    .venv/bin/python bench/scoring.py            # the table for docs/scoring.md
    .venv/bin/python bench/scoring.py --cost     # also CPU per variant and peak memory

Renders every candidate of tests/scoring_set with the shared browser (Debian's Chromium, as the
pipeline does), scores it against its reference's screenshot and prints a Markdown table of
`visual` per reference and candidate kind, then each component. With --cost, for every render
and every score it measures CPU seconds, not wall time (other processes share the cores):

- render: this process's CPU (getrusage, all threads: the browser's event loop, the thumbnail)
  plus the CPU of every process below it — Playwright's driver and Chromium's browser, GPU,
  network and renderer processes — read from /proc as utime+stime+cutime+cstime, so renderers
  that exit when a page closes still count once their parent reaps them;
- score: this process's CPU around `scoring.score`.

Memory is sampled every 50 ms during the run: this process's peak RSS (VmHWM), and the summed
RSS and PSS (proportional set size: shared pages split between the processes sharing them) of
this process with everything below it. Nothing here is a test.
"""

import argparse
import os
import resource
import statistics
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from generations.browser import SharedBrowser  # noqa: E402
from generations.rendering import render_page  # noqa: E402
from generations.scoring import score  # noqa: E402
from tests.scoring_set import KINDS, REFERENCES, screenshot_of  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
COMPONENTS = ("structure", "color", "layout", "text", "coverage")


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def tree_cpu() -> float:
    """CPU seconds of every process below this one, reaped children included."""
    total = 0
    for pid in descendants(os.getpid()):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / TICKS


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def memory_kib(pid: int, field: str, source: str = "status") -> int:
    try:
        for line in Path(f"/proc/{pid}/{source}").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class MemorySampler(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.peak_rss = self.peak_pss = 0
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(0.05):
            pids = [os.getpid(), *descendants(os.getpid())]
            self.peak_rss = max(self.peak_rss, sum(memory_kib(p, "VmRSS") for p in pids))
            pss = sum(memory_kib(p, "Pss", "smaps_rollup") for p in pids)
            self.peak_pss = max(self.peak_pss, pss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cost", action="store_true", help="measure CPU and memory too")
    args = parser.parse_args()
    sampler = MemorySampler()
    if args.cost:
        sampler.start()
    browser = SharedBrowser(concurrency=1)
    render_page("<p>warm-up: the first launch is not a variant's cost</p>", browser)
    renders, render_cpu, score_cpu, total_cpu = {}, [], [], []
    for reference in REFERENCES:
        for kind in KINDS:
            if kind == "unrelated":
                continue
            before = own_cpu() + tree_cpu()
            renders[reference.name, kind] = render_page(reference.html(kind), browser)
            render_cpu.append(own_cpu() + tree_cpu() - before)
    table = {}
    for index, reference in enumerate(REFERENCES):
        shot = screenshot_of(reference, renders[reference.name, "identical"].png)
        following = REFERENCES[(index + 1) % len(REFERENCES)].name
        for kind in KINDS:
            render = renders[
                following if kind == "unrelated" else reference.name,
                "identical" if kind == "unrelated" else kind,
            ]
            before = time.process_time()
            table[reference.name, kind] = score(shot, render.png, render.text_boxes)
            score_cpu.append(time.process_time() - before)
    browser.close()
    sampler.done.set()
    print_table(table)
    print_naive(renders)
    if args.cost:
        for render, scored in zip(render_cpu, score_cpu, strict=False):
            total_cpu.append(render + scored)
        print_cost(render_cpu, score_cpu, total_cpu, sampler)


def naive(screenshot: bytes, render: bytes) -> float:
    """What the issue warns about: grayscale SSIM plus mean colour, no alignment."""
    import io

    import numpy as np
    from PIL import Image
    from skimage.metrics import structural_similarity

    shot = Image.open(io.BytesIO(screenshot)).convert("RGB")
    page = Image.open(io.BytesIO(render)).convert("RGB")
    page = page.crop(
        (0, 0, page.width, min(page.height, round(shot.height * page.width / shot.width)))
    )
    width = 512
    a = np.asarray(shot.resize((width, round(shot.height * width / shot.width))), float) / 255
    b = np.asarray(page.resize((width, a.shape[0])), float) / 255
    ssim = structural_similarity(a.mean(axis=2), b.mean(axis=2), data_range=1.0)
    colour = 1 - np.abs(a.mean(axis=(0, 1)) - b.mean(axis=(0, 1))).mean()
    return float((ssim + colour) / 2)


def print_naive(renders: dict) -> None:
    print()
    print("Naive baseline (grayscale SSIM + mean colour, no alignment):")
    print()
    print("| reference | " + " | ".join(KINDS) + " | ranks right |")
    print("|---" * (len(KINDS) + 2) + "|")
    for index, reference in enumerate(REFERENCES):
        shot = screenshot_of(reference, renders[reference.name, "identical"].png)
        following = REFERENCES[(index + 1) % len(REFERENCES)].name
        visual = {
            kind: naive(
                shot,
                renders[following, "identical"].png
                if kind == "unrelated"
                else renders[reference.name, kind].png,
            )
            for kind in KINDS
        }
        right = (
            visual["identical"] > visual["close"] > visual["different"]
            and visual["shifted"] > visual["different"]
            and visual["resized"] > visual["different"]
            and visual["close"] > visual["unrelated"]
        )
        cells = " | ".join(f"{visual[kind]:.3f}" for kind in KINDS)
        print(f"| {reference.name} | {cells} | {'yes' if right else 'NO'} |")


def print_table(table: dict) -> None:
    print("| reference (screenshot) | " + " | ".join(KINDS) + " | ranks right |")
    print("|---" * (len(KINDS) + 2) + "|")
    for reference in REFERENCES:
        visual = {kind: table[reference.name, kind]["visual"] for kind in KINDS}
        right = (
            visual["identical"] >= 0.9
            and visual["identical"] > visual["close"] > visual["different"]
            and visual["shifted"] > visual["different"]
            and visual["resized"] > visual["different"]
            and visual["close"] > visual["unrelated"]
        )
        cells = " | ".join(f"{visual[kind]:.3f}" for kind in KINDS)
        verdict = "yes" if right else "NO"
        print(f"| {reference.name} ({reference.screenshot}) | {cells} | {verdict} |")
    print()
    print("| reference | candidate | " + " | ".join(COMPONENTS) + " | offset_px |")
    print("|---" * (len(COMPONENTS) + 3) + "|")
    for reference in REFERENCES:
        for kind in KINDS:
            result = table[reference.name, kind]
            cells = " | ".join(
                "-" if result[name] is None else f"{result[name]:.3f}" for name in COMPONENTS
            )
            print(f"| {reference.name} | {kind} | {cells} | {result['offset_px']} |")


def print_cost(render_cpu, score_cpu, total_cpu, sampler) -> None:
    def line(name, values):
        print(f"| {name} | {statistics.median(values):.2f} | {max(values):.2f} | {len(values)} |")

    print()
    print(
        f"CPU seconds per variant on {os.cpu_count()} cores (load average at the end:"
        f" {os.getloadavg()[0]:.1f})"
    )
    print()
    print("| step | median | max | n |")
    print("|---|---|---|---|")
    line("render (this process + Chromium and driver)", render_cpu)
    line("score", score_cpu)
    line("render + score", total_cpu)
    print()
    print(f"peak RSS of this process (VmHWM): {memory_kib(os.getpid(), 'VmHWM') / 1024:.0f} MiB")
    print(f"peak summed RSS, this process and all below it: {sampler.peak_rss / 1024:.0f} MiB")
    print(f"peak summed PSS, the same processes: {sampler.peak_pss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
