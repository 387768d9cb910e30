"""A client for Switchboard's framed protocol (PROTOCOL.md), standard library only.

``Client`` is blocking (a reader thread answers heartbeats and queues events); ``AsyncClient``
is the same member for asyncio, over TCP or (with the ``websocket`` extra) the WebSocket bridge.
"""

from .aio import AsyncClient, connect as connect_async
from .client import Client
from .errors import ConnectionClosed, ProtocolError, RequestTimeout, ServerError, SwitchboardError
from .frames import FRAME_NAMES, FRAME_TYPES, FrameDecoder, Message, decode_payload, encode_frame, encode_message
from .session import FILE_CHUNK_BYTES, PROTOCOL_VERSION

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "Client",
    "ConnectionClosed",
    "FILE_CHUNK_BYTES",
    "FRAME_NAMES",
    "FRAME_TYPES",
    "FrameDecoder",
    "Message",
    "PROTOCOL_VERSION",
    "ProtocolError",
    "RequestTimeout",
    "ServerError",
    "SwitchboardError",
    "connect_async",
    "decode_payload",
    "encode_frame",
    "encode_message",
]
