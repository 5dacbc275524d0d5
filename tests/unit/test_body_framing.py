"""streamchat.relay.body_framing: body bytes out of chunked, Content-Length and close-delimited
framing, however the bytes are split across reads."""

from __future__ import annotations

import httpx2
import pytest

from streamchat.relay.body_framing import BrokenFraming, Chunked, Length, UntilClose, framing_for

BODY = b'data: {"a":1}\n\ndata: {"b":"\xc3\xa9"}\n\ndata: [DONE]\n\n'
CHUNKED = (
    b"e\r\n" + BODY[:14] + b"\r\n"
    b"1A;name=value\r\n" + BODY[14:40] + b"\r\n"
    b"%x\r\n" % len(BODY[40:]) + BODY[40:] + b"\r\n"
    b"0\r\nX-Trailer: yes\r\n\r\n"
)


def feed_in_pieces(decoder, data: bytes, size: int) -> bytes:
    out = b"".join(decoder.feed(data[i : i + size]) for i in range(0, len(data), size))
    return out


@pytest.mark.parametrize("size", [1, 2, 3, 7, 16, len(CHUNKED)])
def test_chunked_body_split_anywhere(size):
    decoder = Chunked()
    assert feed_in_pieces(decoder, CHUNKED, size) == BODY
    assert decoder.done and not decoder.extra
    decoder.end_of_input()  # closing after the end is fine


def test_chunked_boundary_and_extra_bytes():
    decoder = Chunked()
    assert decoder.feed(CHUNKED[:19]) == BODY[:14]
    assert decoder.between_chunks
    decoder.feed(CHUNKED[19:25])
    assert not decoder.between_chunks  # inside the second chunk
    decoder.feed(CHUNKED[25:] + b"HTTP/1.1 200 OK\r\n")
    assert decoder.done and decoder.extra


@pytest.mark.parametrize(
    "data",
    [
        b"zz\r\nab\r\n",  # not hex
        b"+5\r\nhello\r\n",  # int() would take it; HTTP does not
        b"0x5\r\nhello\r\n",
        b"5\r\nhelloXY",  # data not followed by CRLF
        b"1" * 9000,  # a size line that never ends
    ],
)
def test_chunked_garbage_is_refused(data):
    with pytest.raises(BrokenFraming):
        Chunked().feed(data)


def test_chunked_cut_short_is_an_error():
    decoder = Chunked()
    decoder.feed(CHUNKED[:30])
    with pytest.raises(BrokenFraming):
        decoder.end_of_input()


def test_length_and_until_close():
    decoder = Length(len(BODY))
    assert feed_in_pieces(decoder, BODY + b"extra", 9) == BODY
    assert decoder.done and decoder.extra
    short = Length(10)
    short.feed(b"12345")
    with pytest.raises(BrokenFraming):
        short.end_of_input()
    until_close = UntilClose()
    assert until_close.feed(BODY) == BODY and not until_close.done
    until_close.end_of_input()
    assert until_close.done


def test_framing_is_chosen_from_the_headers():
    assert type(framing_for(httpx2.Headers({"transfer-encoding": "chunked"}))) is Chunked
    assert type(framing_for(httpx2.Headers({"content-length": "12"}))) is Length
    assert type(framing_for(httpx2.Headers({}))) is UntilClose
    with pytest.raises(BrokenFraming):
        framing_for(httpx2.Headers({"content-length": "-1"}))
