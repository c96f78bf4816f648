"""LiveVariant: the offsets that make a snapshot and the next chunk meet without a gap."""

from generations.live import LiveVariant


def streaming_variant() -> LiveVariant:
    variant = LiveVariant(index=0, chain=("m-one", "m-two"))
    variant.begin_attempt("m-one")
    return variant


def test_append_keeps_the_text_and_its_length():
    variant = streaming_variant()
    variant.append("<html>")
    variant.append("é…")
    assert variant.text() == "<html>é…"
    assert variant.length == len("<html>é…")
    assert variant.first_token_at is not None


def test_take_unpublished_returns_each_piece_once_at_its_offset():
    variant = streaming_variant()
    variant.append("abc")
    variant.append("de")
    assert variant.take_unpublished() == (0, "abcde")
    assert variant.take_unpublished() == (5, "")
    variant.append("fg")
    assert variant.take_unpublished() == (5, "fg")


def test_published_text_ends_where_the_next_chunk_starts():
    variant = streaming_variant()
    variant.append("abc")
    variant.take_unpublished()
    variant.append("def")  # streamed, not yet sent
    snapshot = variant.published_text()
    assert snapshot == "abc"
    offset, delta = variant.take_unpublished()
    assert (offset, delta) == (len(snapshot), "def")
    assert variant.published_text() == snapshot + delta


def test_begin_attempt_starts_the_text_over_and_counts_the_attempt():
    variant = streaming_variant()
    variant.append("broken stream")
    variant.take_unpublished()
    variant.begin_attempt("m-two")
    assert (variant.attempt, variant.model, variant.status) == (2, "m-two", "streaming")
    assert variant.text() == variant.published_text() == ""
    assert (variant.length, variant.published_length, variant.first_token_at) == (0, 0, None)
    variant.append("again")
    assert variant.take_unpublished() == (0, "again")


def test_requests_are_counted_across_attempts():
    variant = streaming_variant()
    variant.count_request()
    variant.begin_attempt("m-two")
    variant.count_request()
    variant.count_request()
    assert variant.requests == 3  # every request of the run is billed to the variant
