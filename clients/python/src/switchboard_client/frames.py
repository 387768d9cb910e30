"""The wire format of PROTOCOL.md section 1: frames, their types and a streaming decoder.

A frame is a 4-byte big-endian length N, a type byte and N - 1 bytes of payload. Messages are
plain dicts with a ``"type"`` key naming the frame type, shaped as in PROTOCOL.md: JSON frames
carry their JSON fields, ``text`` frames ``{"type": "text", "text": str}``, ``ping``/``pong``
``{"type": "ping", "data": bytes}`` and ``file-data`` ``{"type": "file-data", "transfer": int,
"data": bytes}``.
"""

from __future__ import annotations

import json
import struct
from typing import Any, Dict, List, Optional, Tuple

from .errors import ProtocolError

#: A decoded message: the frame type's name under "type", then its fields.
Message = Dict[str, Any]

#: Frame type numbers by name (PROTOCOL.md, "Frame types").
FRAME_TYPES: Dict[str, int] = {
    "text": 0x00,
    "file-data": 0x01,
    "hello": 0x02,
    "welcome": 0x03,
    "message": 0x04,
    "private": 0x05,
    "presence": 0x06,
    "roster": 0x07,
    "notice": 0x08,
    "error": 0x09,
    "ping": 0x0A,
    "pong": 0x0B,
    "join": 0x0C,
    "leave": 0x0D,
    "rooms": 0x0E,
    "nick": 0x0F,
    "history": 0x10,
    "file-offer": 0x11,
    "file-end": 0x12,
    "file-abort": 0x13,
    "search": 0x14,
}
FRAME_NAMES: Dict[int, str] = {number: name for name, number in FRAME_TYPES.items()}

#: What the client accepts from the server before it gives up on the stream. The server's own
#: limit (welcome.maxFrameLength, 1 MiB by default) is smaller; this only guards memory.
DEFAULT_MAX_FRAME_LENGTH = 16 * 1024 * 1024

_HEADER = struct.Struct(">IB")
_LENGTH = struct.Struct(">I")
_TRANSFER = struct.Struct(">I")


def encode_frame(frame_type: int, payload: bytes = b"") -> bytes:
    """One frame: length N = 1 + len(payload), big-endian, then the type byte and the payload."""
    return _HEADER.pack(len(payload) + 1, frame_type) + payload


def encode_json(body: Dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as the server writes it (no spaces, non-ASCII kept as UTF-8)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def encode_message(message: Message) -> bytes:
    """Encodes a message dict (``{"type": "join", "room": "ops"}``) as one frame."""
    kind = message.get("type")
    if kind not in FRAME_TYPES:
        raise ValueError(f"unknown frame type {kind!r}")
    number = FRAME_TYPES[kind]
    if kind == "text":
        return encode_frame(number, str(message.get("text", "")).encode("utf-8"))
    if kind in ("ping", "pong"):
        return encode_frame(number, bytes(message.get("data", b"")))
    if kind == "file-data":
        return encode_frame(number, _TRANSFER.pack(message["transfer"]) + bytes(message["data"]))
    return encode_frame(number, encode_json({k: v for k, v in message.items() if k != "type"}))


def decode_payload(frame_type: int, payload: bytes) -> Optional[Message]:
    """The message a frame carries, or None for a type this client does not know (skip it).

    Raises ProtocolError with INVALID_UTF8, INVALID_JSON or INVALID_MESSAGE for a payload that is
    not what its type requires.
    """
    kind = FRAME_NAMES.get(frame_type)
    if kind is None:
        return None
    if kind in ("ping", "pong"):
        return {"type": kind, "data": bytes(payload)}
    if kind == "file-data":
        if len(payload) < 4:
            raise ProtocolError("INVALID_MESSAGE", "file-data needs 4 bytes of transfer id.")
        (transfer,) = _TRANSFER.unpack_from(payload)
        return {"type": kind, "transfer": transfer, "data": bytes(payload[4:])}
    try:
        text = bytes(payload).decode("utf-8")
    except UnicodeDecodeError as error:
        raise ProtocolError("INVALID_UTF8", f"{kind} payload is not valid UTF-8.") from error
    if kind == "text":
        return {"type": kind, "text": text}
    if text == "":
        return {"type": kind}
    try:
        body = json.loads(text)
    except ValueError as error:
        raise ProtocolError("INVALID_JSON", f"{kind} payload is not valid JSON.") from error
    if not isinstance(body, dict):
        raise ProtocolError("INVALID_MESSAGE", f"{kind} payload is not a JSON object.")
    body.pop("type", None)
    return {"type": kind, **body}


class FrameDecoder:
    """Turns a byte stream into frames, whatever the chunking (one byte at a time included).

    ``feed(data)`` returns the ``(type, payload)`` pairs completed by ``data``. A length of 0 or
    above ``max_frame_length`` raises ProtocolError (FRAME_EMPTY, FRAME_TOO_LARGE) as soon as
    the 4 length bytes are in: the stream cannot be trusted after that.
    """

    def __init__(self, max_frame_length: int = DEFAULT_MAX_FRAME_LENGTH) -> None:
        self.max_frame_length = max_frame_length
        self._buffer = bytearray()

    def feed(self, data: bytes) -> List[Tuple[int, bytes]]:
        self._buffer += data
        frames: List[Tuple[int, bytes]] = []
        offset = 0
        buffer = self._buffer
        while len(buffer) - offset >= 4:
            (length,) = _LENGTH.unpack_from(buffer, offset)
            if length == 0:
                raise ProtocolError("FRAME_EMPTY", "The server sent a frame of length 0.")
            if length > self.max_frame_length:
                raise ProtocolError("FRAME_TOO_LARGE", f"The server sent a frame of {length} bytes; the limit is {self.max_frame_length}.")
            if len(buffer) - offset - 4 < length:
                break
            start = offset + 4
            frames.append((buffer[start], bytes(buffer[start + 1 : start + length])))
            offset = start + length
        if offset:
            del buffer[:offset]
        return frames

    @property
    def pending(self) -> int:
        """Bytes of an unfinished frame held so far."""
        return len(self._buffer)
