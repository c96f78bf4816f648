"""The SSE parser, fed byte reads split the ways a network splits them."""

import pytest

from generations.sse import sse_payloads


async def _reads(chunks, consumed: list[bytes] | None = None):
    for chunk in chunks:
        if consumed is not None:
            consumed.append(chunk)
        yield chunk


async def parse(*chunks: bytes, consumed: list[bytes] | None = None) -> list[dict]:
    return [payload async for payload in sse_payloads(_reads(chunks, consumed))]


async def test_events_split_anywhere_across_reads_arrive_whole():
    body = b'data: {"n": 1}\n\ndata: {"n": 2, "text": "a\\nb"}\n\n'
    for cut in range(1, len(body)):
        assert await parse(body[:cut], body[cut:]) == [{"n": 1}, {"n": 2, "text": "a\nb"}]


async def test_one_byte_per_read():
    body = b'data: {"n": 1}\r\n\r\ndata: {"n": 2}\r\n\r\n'
    assert await parse(*(body[i : i + 1] for i in range(len(body)))) == [{"n": 1}, {"n": 2}]


async def test_crlf_split_between_reads_is_one_line_end():
    # A CR at the end of a read is not yet a blank line: its LF may follow in the next read.
    assert await parse(b'data: {"n": 1}\r', b"\n\r", b"\ndata: {", b'"n": 2}\r\n\r\n') == [
        {"n": 1},
        {"n": 2},
    ]


async def test_multi_line_data_is_joined_with_newlines():
    assert await parse(b'data: {"a":\ndata: 1,\ndata:"b": 2}\n\n') == [{"a": 1, "b": 2}]


async def test_comments_event_id_and_retry_lines_carry_nothing():
    body = b': keep-alive\n\nevent: message\nid: 7\nretry: 100\ndata: {"n": 1}\n\n:ping\n\n'
    assert await parse(body) == [{"n": 1}]


async def test_data_without_the_space_after_the_colon():
    assert await parse(b'data:{"n": 1}\n\n') == [{"n": 1}]


async def test_done_ends_the_payloads_and_the_rest_is_drained_unparsed():
    consumed: list[bytes] = []
    reads = (b'data: {"n": 1}\n\ndata: [DONE]\n\n', b"data: not json\n\n", b"trailing")
    assert await parse(*reads, consumed=consumed) == [{"n": 1}]
    assert consumed == list(reads), "the body is read to its end, so the connection is reusable"


async def test_done_split_across_reads():
    assert await parse(b'data: {"n": 1}\n\ndata: [DO', b"NE]\n", b"\ndata: {}\n\n") == [{"n": 1}]


async def test_last_event_without_a_trailing_blank_line_is_kept():
    assert await parse(b'data: {"n": 1}\n\ndata: {"n": 2}') == [{"n": 1}, {"n": 2}]
    assert await parse(b'data: {"n": 1}\n') == [{"n": 1}]


async def test_an_empty_body_has_no_payloads():
    assert await parse() == []
    assert await parse(b"", b"\n\n") == []


@pytest.mark.parametrize("payload", [b"[1, 2]", b'"text"', b"3", b"null"])
async def test_a_payload_that_is_not_a_json_object_is_refused(payload):
    with pytest.raises(ValueError, match="not a JSON object"):
        await parse(b"data: " + payload + b"\n\n")


@pytest.mark.parametrize("payload", [b'{"n": 1', b"{n: 1}", b'{"n": 1}}', b"\xff"])
async def test_malformed_json_is_a_value_error(payload):
    # jiter's message names the line and column where the JSON broke.
    with pytest.raises(ValueError, match="at line 1 column"):
        await parse(b'data: {"n": 0}\n\ndata: ' + payload + b"\n\n")


async def test_payloads_before_a_malformed_one_are_yielded_first():
    payloads = sse_payloads(_reads([b'data: {"n": 1}\n\n', b"data: {\n\n"]))
    assert await anext(payloads) == {"n": 1}
    with pytest.raises(ValueError, match="EOF while parsing"):
        await anext(payloads)
