"""The protocol's byte vectors (packages/protocol/test/vectors.json) through this client's codec,
and the error vectors through a real gateway."""

from __future__ import annotations

import json
import socket
from typing import Any, Dict

import pytest

from switchboard_client import FrameDecoder, ProtocolError, decode_payload, encode_message
from conftest import REPO_ROOT

VECTORS = json.loads((REPO_ROOT / "packages" / "protocol" / "test" / "vectors.json").read_text("utf-8"))
BINARY_TYPES = ("ping", "pong", "file-data")


def as_message(vector: Dict[str, Any]) -> Dict[str, Any]:
    """The vector's message with its hex "data" as bytes, as the codec represents it."""
    message = dict(vector["message"])
    if message["type"] in BINARY_TYPES:
        message["data"] = bytes.fromhex(message["data"])
    return message


FRAMES = VECTORS["frames"]


@pytest.mark.parametrize("vector", [v for v in FRAMES if v["direction"] == "client"], ids=lambda v: v["name"])
def test_encodes_client_frames_byte_for_byte(vector: Dict[str, Any]) -> None:
    assert encode_message(as_message(vector)).hex() == vector["hex"]


@pytest.mark.parametrize("vector", FRAMES, ids=lambda v: v["name"])
def test_decodes_every_frame_whole_and_one_byte_at_a_time(vector: Dict[str, Any]) -> None:
    data = bytes.fromhex(vector["hex"])
    whole = FrameDecoder().feed(data)
    assert [decode_payload(t, p) for t, p in whole] == [as_message(vector)]
    decoder = FrameDecoder()
    pieces = [frame for i in range(len(data)) for frame in decoder.feed(data[i : i + 1])]
    assert pieces == whole and decoder.pending == 0


def test_decodes_every_vector_from_one_buffer() -> None:
    stream = b"".join(bytes.fromhex(v["hex"]) for v in FRAMES)
    frames = FrameDecoder().feed(stream)
    assert [decode_payload(t, p) for t, p in frames] == [as_message(v) for v in FRAMES]


@pytest.mark.parametrize("vector", [v for v in VECTORS["errors"] if v["code"] in ("FRAME_EMPTY", "FRAME_TOO_LARGE")], ids=lambda v: v["name"])
def test_refuses_bad_lengths_on_the_header_alone(vector: Dict[str, Any]) -> None:
    with pytest.raises(ProtocolError) as raised:
        FrameDecoder(max_frame_length=1048576).feed(bytes.fromhex(vector["hex"]))
    assert raised.value.code == vector["code"]


def test_skips_unknown_types_and_reports_bad_payloads() -> None:
    assert decode_payload(0x7F, b"anything") is None
    for frame_type, payload, code in ((0x00, b"\xff", "INVALID_UTF8"), (0x04, b"{", "INVALID_JSON"), (0x04, b"[1]", "INVALID_MESSAGE"), (0x01, b"\x00\xaa", "INVALID_MESSAGE")):
        with pytest.raises(ProtocolError) as raised:
            decode_payload(frame_type, payload)
        assert raised.value.code == code


@pytest.mark.parametrize("vector", VECTORS["errors"], ids=lambda v: v["name"])
def test_the_gateway_answers_each_error_vector_with_its_code(gateway: Any, vector: Dict[str, Any]) -> None:
    with socket.create_connection(("127.0.0.1", gateway.tcp_port), timeout=10) as sock:
        sock.sendall(bytes.fromhex(vector["hex"]))
        decoder = FrameDecoder()
        while True:
            data = sock.recv(65536)
            assert data, f"closed before an error frame for {vector['name']}"
            errors = [decode_payload(t, p) for t, p in decoder.feed(data) if t == 0x09]
            if errors:
                assert errors[0]["code"] == vector["code"]
                return
