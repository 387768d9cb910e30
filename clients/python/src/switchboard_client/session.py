"""The protocol without I/O: what to send, what a received frame means, which request it answers.

Both clients (the blocking ``Client`` and the asyncio ``AsyncClient``) wrap one ``Session``:
they move bytes, the session keeps the state. Every request carries a fresh ``ref``
(PROTOCOL.md section 3, "Request refs"), so a reply or an error settles exactly the request it
answers however many are out.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from .errors import ConnectionClosed, ProtocolError, ServerError, SwitchboardError
from .frames import DEFAULT_MAX_FRAME_LENGTH, FrameDecoder, Message, decode_payload, encode_message

PROTOCOL_VERSION = 1
#: Bytes of file data per file-data frame, as Switchboard's own clients send (PROTOCOL.md section 7).
FILE_CHUNK_BYTES = 64 * 1024
#: Entries per ``history`` request while catching a room up (the server's most).
CATCH_UP_PAGE = 500

#: Called as ``progress(done_bytes, total_bytes)`` while a file goes out or comes in.
Progress = Callable[[int, int], None]
#: Called as ``progress(offer, received_bytes)`` while a file offered to us comes in.
ReceiveProgress = Callable[[Message, int], None]

# Error codes the server sends about files when the frame that caused them had no ref (file-data).
_FILE_ERROR_CODES = ("FILE_", "TOO_MANY_TRANSFERS")


class Request:
    """One request on the wire, waiting for the replies that carry its ref.

    ``expects`` lists the reply types in the order they come; an entry may be a tuple of
    alternatives. ``replies`` holds them once ``done``; ``error`` is set when it failed.
    """

    def __init__(self, kind: str, ref: str, expects: Sequence[Union[str, Tuple[str, ...]]]) -> None:
        self.kind = kind
        self.ref = ref
        self.expects: List[Union[str, Tuple[str, ...]]] = list(expects)
        self.replies: List[Message] = []
        self.error: Optional[SwitchboardError] = None
        self.done = False
        self._callbacks: List[Callable[["Request"], object]] = []

    def add_done_callback(self, callback: Callable[["Request"], object]) -> None:
        if self.done:
            callback(self)
        else:
            self._callbacks.append(callback)

    def result(self) -> List[Message]:
        """The replies, or raises the error that ended the request."""
        if self.error is not None:
            raise self.error
        return self.replies

    def _take(self, message: Message) -> bool:
        wanted = self.expects[len(self.replies)]
        if message["type"] != wanted and message["type"] not in wanted:
            return False
        self.replies.append(message)
        if len(self.replies) == len(self.expects):
            self._finish()
        return True

    def _finish(self, error: Optional[SwitchboardError] = None) -> None:
        if self.done:
            return
        self.done = True
        self.error = error
        for callback in self._callbacks:
            callback(self)
        self._callbacks.clear()


class _Incoming:
    """A file offered to us, collected in memory until its file-end."""

    def __init__(self, offer: Message) -> None:
        self.offer = offer
        self.data = bytearray()
        self.digest = hashlib.sha256()


class Session:
    """State of one member across connections: identity, rooms, requests, files in flight.

    Feed it what the socket reads (``receive``); send what its methods return.
    """

    def __init__(self, *, hello: bool = True, on_file_progress: Optional[ReceiveProgress] = None, max_frame_length: int = DEFAULT_MAX_FRAME_LENGTH) -> None:
        self.uses_hello = hello
        self.on_file_progress = on_file_progress
        self.max_frame_length = max_frame_length
        #: The last welcome, and what it said.
        self.welcome: Optional[Message] = None
        self.name: Optional[str] = None
        self.id: Optional[str] = None
        #: The resume token of the newest welcome (tokens may change on every hello).
        self.token: Optional[str] = None
        #: Rooms we are in, the current one last.
        self.rooms: List[str] = []
        #: Room -> the highest message id seen there. Ids increase within one room only (rooms
        #: may take them on different Redis shards, PROTOCOL.md section 6): a reconnect resumes
        #: each room from its own.
        self.last_ids: Dict[str, int] = {}
        #: The highest id seen in any room or private message. Deprecated: ids of two rooms do
        #: not compare on a gateway cluster with per-room ids; use ``last_ids``.
        self.last_id: Optional[int] = None
        self.close_reason: Optional[SwitchboardError] = None
        self._refs = 0
        self._transfers = 0
        self._decoder = FrameDecoder(max_frame_length)
        self._requests: Dict[str, Request] = {}
        self._pings: Dict[bytes, Request] = {}
        self._incoming: Dict[int, _Incoming] = {}
        self._sending: Dict[int, Request] = {}

    @property
    def room(self) -> Optional[str]:
        """The current room: where ``say`` without a room goes."""
        return self.rooms[-1] if self.rooms else None

    # ------------------------------------------------------------------------------------------
    # Requests
    # ------------------------------------------------------------------------------------------

    def request(self, message: Message, expects: Sequence[Union[str, Tuple[str, ...]]]) -> Tuple[Request, bytes]:
        """A request with a fresh ref, and the frame to send for it."""
        self._refs += 1
        ref = f"r{self._refs}"
        pending = Request(str(message["type"]), ref, expects)
        self._requests[ref] = pending
        pending.add_done_callback(lambda done: self._requests.pop(done.ref, None))
        return pending, encode_message({**message, "ref": ref})

    def hello(self, *, name: Optional[str] = None, password: Optional[str] = None, token: Optional[str] = None, room: Optional[str] = None, since: Optional[int] = None) -> Tuple[Request, bytes]:
        """hello (PROTOCOL.md section 3); done on welcome."""
        body: Message = {"type": "hello", "v": PROTOCOL_VERSION}
        for key, value in (("name", name), ("room", room), ("since", since), ("password", password), ("token", token)):
            if value is not None:
                body[key] = value
        return self.request(body, ["welcome"])

    def resume(self) -> Tuple[Request, bytes]:
        """The hello that resumes this member after a reconnect: the newest token, the first of
        our rooms and ``since`` that room's own last id (the others are joined again and caught
        up from theirs after welcome)."""
        if self.token is None:
            raise SwitchboardError("NO_TOKEN", "No welcome has given this client a resume token yet.")
        first = self.rooms[0] if self.rooms else None
        return self.hello(token=self.token, room=first, since=self.last_ids.get(first) if first is not None else None)

    def ping(self) -> Tuple[Request, bytes]:
        """A ping whose payload is a fresh ref; done on the pong that repeats it."""
        self._refs += 1
        data = f"r{self._refs}".encode("ascii")
        pending = Request("ping", data.decode("ascii"), ["pong"])
        self._pings[data] = pending
        pending.add_done_callback(lambda _: self._pings.pop(data, None))
        return pending, encode_message({"type": "ping", "data": data})

    def next_transfer(self) -> int:
        """A transfer id for a file we offer, unique among our open transfers."""
        self._transfers = self._transfers % 0xFFFFFFFF + 1
        return self._transfers

    def file_started(self, transfer: int, end: Request) -> None:
        """Marks a transfer of ours as open: an unattributed file error fails ``end``."""
        self._sending[transfer] = end

    def file_finished(self, transfer: int) -> None:
        self._sending.pop(transfer, None)

    def sending_failed(self, transfer: int) -> Optional[SwitchboardError]:
        """The error that ended an outgoing transfer early, if one has."""
        pending = self._sending.get(transfer)
        return pending.error if pending is not None and pending.done else None

    # ------------------------------------------------------------------------------------------
    # Receiving
    # ------------------------------------------------------------------------------------------

    def receive(self, data: bytes) -> Tuple[List[Message], List[bytes]]:
        """Takes bytes read from the connection. Returns the events for the user and the frames
        to send back at once (pongs). Raises ProtocolError when the stream cannot be trusted."""
        events: List[Message] = []
        replies: List[bytes] = []
        for frame_type, payload in self._decoder.feed(data):
            try:
                message = decode_payload(frame_type, payload)
            except ProtocolError:
                continue  # a frame we cannot read is skipped by length, like an unknown type
            if message is not None:
                self._dispatch(message, events, replies)
        return events, replies

    def connection_lost(self, reason: Optional[SwitchboardError] = None) -> SwitchboardError:
        """Ends everything that waits on this connection; returns why it closed."""
        if reason is not None and self.close_reason is None:
            self.close_reason = reason
        why = self.close_reason or ConnectionClosed("CLOSED", "The connection is closed.")
        for pending in list(self._requests.values()) + list(self._pings.values()):
            pending._finish(why)
        self._incoming.clear()
        self._sending.clear()
        return why

    def connection_made(self) -> None:
        """A fresh connection (first or after a reconnect): a new decoder, no close reason."""
        self._decoder = FrameDecoder(self.max_frame_length)
        self.close_reason = None

    def _dispatch(self, message: Message, events: List[Message], replies: List[bytes]) -> None:
        kind = message["type"]
        if kind == "ping":
            replies.append(encode_message({"type": "pong", "data": message["data"]}))
            return
        if kind == "pong":
            pending = self._pings.get(message["data"])
            if pending is not None:
                pending._take(message)
            return
        self._track(message)
        if kind == "error":
            self._on_error(message)
        elif kind == "file-data":
            self._on_file_data(message, events)
            return
        elif kind == "file-end" and message.get("ref") is None:
            self._on_file_end(message, events)
            return
        elif kind == "file-abort":
            self._incoming.pop(message.get("transfer", -1), None)
        elif kind == "file-offer" and message.get("ref") is None:
            self._incoming[message.get("transfer", -1)] = _Incoming(message)
        ref = message.get("ref")
        if kind != "error" and isinstance(ref, str) and ref in self._requests:
            pending = self._requests[ref]
            if pending._take(message) and pending.done and pending.kind == "join":
                self._entered(str(message.get("room", "")))
        events.append(message)

    def _track(self, message: Message) -> None:
        """Keeps identity, rooms and the last id seen up to date."""
        kind = message["type"]
        if kind == "welcome":
            self.welcome = message
            self.name = message.get("name", self.name)
            self.id = message.get("id", self.id)
            self.rooms = [str(r) for r in message.get("rooms", [])]
            room = message.get("room")
            if isinstance(room, str):
                self._entered(room)
            if isinstance(message.get("token"), str):
                self.token = message["token"]
            if isinstance(message.get("maxFrameLength"), int):
                self._decoder.max_frame_length = max(self.max_frame_length, message["maxFrameLength"])
        elif kind == "presence":
            member = message.get("member") or {}
            if self.id is not None and member.get("id") == self.id:
                room = str(message.get("room", ""))
                if message.get("event") == "join":
                    self._entered(room)
                elif message.get("event") == "leave" and room in self.rooms:
                    self.rooms.remove(room)
                elif message.get("event") == "rename":
                    self.name = member.get("name", self.name)
        elif kind == "notice" and isinstance(message.get("code"), str):
            # The reason we are being disconnected (KICKED, SESSION_REPLACED, SERVER_SHUTTING_DOWN).
            self.close_reason = ConnectionClosed(message["code"], str(message.get("text", "")))
        if kind in ("message", "private", "file-offer"):
            self._saw_id(message)
        elif kind == "history":
            for entry in message.get("entries", []):
                if isinstance(entry, dict):
                    self._saw_id(entry)

    def _saw_id(self, entry: Message) -> None:
        """Notes the id of a message, file or history entry: in its room, and in ``last_id``."""
        value = entry.get("id")
        if not isinstance(value, int) or isinstance(value, bool):
            return
        if self.last_id is None or value > self.last_id:
            self.last_id = value
        room = entry.get("room")
        # A room's message or file (a private one has no room, a private file a ``to``).
        if isinstance(room, str) and entry.get("kind", entry.get("type")) in ("message", "file", "file-offer") and value > self.last_ids.get(room, 0):
            self.last_ids[room] = value

    def _entered(self, room: str) -> None:
        if room in self.rooms:
            self.rooms.remove(room)
        self.rooms.append(room)

    def _on_error(self, message: Message) -> None:
        error = ServerError.from_frame(message)
        if error.fatal:
            self.close_reason = error
        ref = message.get("ref")
        if isinstance(ref, str) and ref in self._requests:
            self._requests[ref]._finish(error)
            return
        # No ref: file-data caused it (it carries none), or the connection is refused before
        # any hello could be read (BANNED, TOO_MANY_CONNECTIONS). Fail what it can concern.
        if error.code.startswith(_FILE_ERROR_CODES):
            for pending in list(self._sending.values()):
                pending._finish(error)
        for pending in list(self._requests.values()):
            if pending.kind == "hello":
                pending._finish(error)

    def _on_file_data(self, message: Message, events: List[Message]) -> None:
        incoming = self._incoming.get(message["transfer"])
        if incoming is None:
            return
        incoming.data += message["data"]
        incoming.digest.update(message["data"])
        size = int(incoming.offer.get("size", 0))
        if len(incoming.data) > size:
            del self._incoming[message["transfer"]]
            events.append(_local_abort(incoming.offer, "FILE_SIZE_MISMATCH", f"More than the announced {size} bytes arrived."))
            return
        if self.on_file_progress is not None:
            self.on_file_progress(incoming.offer, len(incoming.data))

    def _on_file_end(self, message: Message, events: List[Message]) -> None:
        incoming = self._incoming.pop(message.get("transfer", -1), None)
        if incoming is None:
            return
        size = int(incoming.offer.get("size", 0))
        digest = incoming.digest.hexdigest()
        if len(incoming.data) != size:
            events.append(_local_abort(incoming.offer, "FILE_SIZE_MISMATCH", f"Received {len(incoming.data)} of the announced {size} bytes."))
        elif digest != str(message.get("sha256", "")).lower():
            events.append(_local_abort(incoming.offer, "FILE_CHECKSUM_MISMATCH", f"The bytes received hash to {digest}, not {message.get('sha256')}."))
        else:
            events.append({**incoming.offer, "type": "file", "sha256": digest, "data": bytes(incoming.data)})


def _local_abort(offer: Message, code: str, reason: str) -> Message:
    """A file-abort event for a download this client refused itself (the server never sent it)."""
    return {"type": "file-abort", "transfer": offer.get("transfer"), "code": code, "reason": reason, "local": True}
