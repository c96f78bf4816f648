"""Bench pages: answers whose every streamed chunk carries the time it was sent (bench/load.py)."""

import re

from demo.pages import escaped

# In bench mode each streamed chunk has these placeholders replaced as it is sent: the stamp by
# the wall-clock emission time ("%.6f", 17 characters until the year 2286), the stream mark by
# the stream's serial number. Both keep the chunk's length, so pages keep their chunk count.
BENCH_STAMP = "@" * 17
BENCH_STREAM = "~" * 8
BENCH_STAMP_PATTERN = re.compile(r'data-t="(\d{10}\.\d{6})"')
BENCH_STREAM_PATTERN = re.compile(r'data-stream="(\d{8})"')
_LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt "
    "ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation. "
)


def bench_page(model: str, *, chunks: int = 240, chunk_chars: int = 100) -> str:
    """Return an answer of exactly `chunks` * `chunk_chars` characters, prose around an HTML
    page, with one emission stamp placeholder in every `chunk_chars` slice (so every streamed
    chunk carries the time it was sent) and the stream mark in the first."""
    if chunks < 3:
        raise ValueError("a bench page needs at least 3 chunks")
    first = (
        "Page:\n```html\n<!DOCTYPE html>\n<html>"
        f'<head data-stream="{BENCH_STREAM}" data-t="{BENCH_STAMP}">'
    )
    pieces = [
        _bench_fill(first, "\n", chunk_chars),
        _bench_fill(
            f'<title data-t="{BENCH_STAMP}">{escaped(model)} ',
            "</title></head><body>\n",
            chunk_chars,
        ),
    ]
    for number in range(2, chunks - 1):
        opening = f'<p data-t="{BENCH_STAMP}">{number:04d} '
        pieces.append(_bench_fill(opening, "</p>\n", chunk_chars))
    last_close = "</p></body>\n</html>\n```\nDone.\n"
    pieces.append(_bench_fill(f'<p data-t="{BENCH_STAMP}">', last_close, chunk_chars))
    return "".join(pieces)


def _bench_fill(opening: str, closing: str, size: int) -> str:
    room = size - len(opening) - len(closing)
    if room < 0:
        raise ValueError(f"chunk_chars={size} is too small for a bench page")
    return opening + (_LOREM * (1 + room // len(_LOREM)))[:room] + closing
