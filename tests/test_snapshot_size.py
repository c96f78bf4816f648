"""No snapshot over the socket's transport limit (contract §13): the largest ended variants give
up their HTML, then their text, and say so; a streaming variant's text is never touched."""

import json

from generations.snapshots import TRANSPORT_LIMIT_BYTES, fit_to_transport


def _snapshot(*variants: dict) -> dict:
    return {
        "type": "generation.snapshot",
        "generation_id": "g",
        "status": "running",
        "variants": list(variants),
    }


def _variant(index: int, status: str, text: str, html: str | None) -> dict:
    return {
        "index": index,
        "model": "m",
        "status": status,
        "text": text,
        "html": html,
        "finish_reason": None,
        "error": None,
    }


def _size(frame: dict) -> int:
    return len(json.dumps(frame, ensure_ascii=False).encode())


def test_a_snapshot_under_the_limit_is_sent_whole():
    frame = _snapshot(_variant(0, "completed", "a" * 100, "b" * 100))
    assert fit_to_transport(frame, limit=10_000) == frame
    assert "omitted" not in frame["variants"][0]


def test_the_largest_ended_variant_gives_up_its_html_first():
    frame = _snapshot(
        _variant(0, "completed", "t" * 1000, "h" * 3000),
        _variant(1, "completed", "t" * 1000, "h" * 500),
        _variant(2, "streaming", "s" * 2000, None),
    )
    fitted = fit_to_transport(frame, limit=6500)

    assert _size(fitted) <= 6500
    first, second, streaming = fitted["variants"]
    assert first["html"] is None
    assert first["omitted"] == ["html"]
    assert second["html"] == "h" * 500
    assert "omitted" not in second
    assert streaming["text"] == "s" * 2000  # the offset rule needs it whole


def test_text_goes_after_every_html_and_never_a_streaming_one():
    frame = _snapshot(
        _variant(0, "completed", "é" * 3000, "h" * 3000),
        _variant(1, "streaming", "s" * 1000, None),
    )
    fitted = fit_to_transport(frame, limit=2500)

    ended, streaming = fitted["variants"]
    assert ended["text"] is None
    assert ended["html"] is None
    assert ended["omitted"] == ["html", "text"]
    assert streaming["text"] == "s" * 1000
    assert _size(fitted) <= 2500


def test_four_capped_answers_in_the_widest_characters_fit_one_frame(settings):
    # The worst case the cap allows: four ended answers and their HTML in 4-byte characters.
    cap = settings.CLONEGEN_MAX_OUTPUT_CHARS
    wide = "😀" * cap
    frame = _snapshot(*(_variant(i, "completed", wide, wide) for i in range(4)))
    fitted = fit_to_transport(frame)

    assert _size(fitted) <= TRANSPORT_LIMIT_BYTES
    assert all("omitted" in v for v in fitted["variants"][:3])
