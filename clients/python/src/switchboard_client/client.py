"""The blocking client: a socket, a reader thread, and methods that wait for their answers."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import queue
import socket
import threading
import time
from typing import IO, Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from .errors import ConnectionClosed, ProtocolError, RequestTimeout, SwitchboardError
from .frames import Message, encode_message
from .session import CATCH_UP_PAGE, FILE_CHUNK_BYTES, Progress, ReceiveProgress, Request, Session

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9000
#: After close() half-closes the socket, how long the server gets to close its side.
_GRACEFUL_CLOSE_SECONDS = 2.0

FileSource = Union[str, "os.PathLike[str]", bytes, bytearray, IO[bytes]]


class _End:
    """Queued by the reader thread when its connection ends."""

    def __init__(self, generation: int, reason: SwitchboardError) -> None:
        self.generation = generation
        self.reason = reason


class Client:
    """A Switchboard member over TCP, blocking style.

    Connecting sends ``hello`` and returns once the server's ``welcome`` arrives; a refused
    hello raises ``ServerError`` with its code (``NAME_TAKEN``, ``AUTH_FAILED``…). A reader
    thread answers the server's pings and queues every event; iterate the client (or call
    ``events()``) to take them. Requests (``say``, ``join``, ``history``…) wait for the reply
    that carries their ref and return it, or raise the error the server answered with.

    Events are dicts shaped as in PROTOCOL.md with a ``"type"`` key (``message``, ``private``,
    ``presence``, ``roster``, ``history``, ``notice``, ``error``, ``file-offer``…); replies to
    your own requests appear too, carrying your ``ref``. A file sent to you arrives as one
    ``{"type": "file", …the offer…, "data": bytes, "sha256": str}`` once its checksum matched,
    or as ``file-abort``.

    With ``hello=False`` the client is a plain device (PROTOCOL.md section 2): ``say`` sends
    type-0 text and the room's lines arrive as ``{"type": "text", "text": …}``.
    """

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        name: Optional[str] = None,
        password: Optional[str] = None,
        token: Optional[str] = None,
        room: Optional[str] = None,
        since: Optional[int] = None,
        hello: bool = True,
        timeout: float = 10.0,
        request_timeout: float = 30.0,
        on_file_progress: Optional[ReceiveProgress] = None,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.request_timeout = request_timeout
        self._session = Session(hello=hello, on_file_progress=on_file_progress)
        self._lock = threading.RLock()
        self._write_lock = threading.Lock()
        self._events: "queue.Queue[Union[Message, _End]]" = queue.Queue()
        self._sock: Optional[socket.socket] = None
        self._reader: Optional[threading.Thread] = None
        self._generation = 0
        self._open = False
        #: What each room said while we were away, as the last ``reconnect()`` read it: room -> entries, oldest first.
        self.missed: Dict[str, List[Message]] = {}
        self._closing = False
        self._connect(lambda: self._session.hello(name=name, password=password, token=token, room=room, since=since))

    # ------------------------------------------------------------------------------------------
    # State
    # ------------------------------------------------------------------------------------------

    @property
    def name(self) -> Optional[str]:
        """Our name, from welcome (None for a plain device)."""
        return self._session.name

    @property
    def id(self) -> Optional[str]:
        """The connection id from welcome (the REST API's client id)."""
        return self._session.id

    @property
    def token(self) -> Optional[str]:
        """The resume token of the newest welcome: ``Client(token=…)`` or ``reconnect()`` use it."""
        return self._session.token

    @property
    def room(self) -> Optional[str]:
        """The current room: where ``say`` without a room goes."""
        return self._session.room

    @property
    def rooms(self) -> List[str]:
        """The rooms we are in, the current one last."""
        return list(self._session.rooms)

    @property
    def welcome(self) -> Optional[Message]:
        return self._session.welcome

    @property
    def last_ids(self) -> Dict[str, int]:
        """Room -> the highest message id seen there: ``reconnect()`` resumes each room from its own."""
        return dict(self._session.last_ids)

    @property
    def last_id(self) -> Optional[int]:
        """The highest message id seen in any room or private message. Deprecated: ids of two rooms
        do not compare on a gateway cluster with per-room ids (PROTOCOL.md section 6); use ``last_ids``."""
        return self._session.last_id

    @property
    def is_open(self) -> bool:
        return self._open

    @property
    def close_reason(self) -> Optional[SwitchboardError]:
        """Why the connection ended (``KICKED``, ``SESSION_REPLACED``, ``CLOSED``…), once it has."""
        return self._session.close_reason

    # ------------------------------------------------------------------------------------------
    # Chat
    # ------------------------------------------------------------------------------------------

    def say(self, text: str, room: Optional[str] = None) -> Optional[Message]:
        """Says ``text`` in ``room`` (default: the current room). Returns the server's copy, the
        acknowledgement that it was stored (None for a plain device, which sends type-0 text)."""
        if not self._session.uses_hello:
            self._send(encode_message({"type": "text", "text": text} if room is None else {"type": "message", "room": room, "text": text}))
            return None
        body: Message = {"type": "message", "text": text}
        if room is not None:
            body["room"] = room
        return self._call(body, ["message"])[0]

    def send_bytes(self, data: bytes, room: Optional[str] = None) -> Message:
        """Sends bytes that are not text (to a device on a line or raw listener): ``data`` in base64."""
        body: Message = {"type": "message", "text": "", "data": base64.b64encode(data).decode("ascii")}
        if room is not None:
            body["room"] = room
        return self._call(body, ["message"])[0]

    def private(self, to: str, text: str) -> Optional[Message]:
        """A private message to the member named ``to``; returns our copy."""
        body: Message = {"type": "private", "to": to, "text": text}
        if not self._session.uses_hello:
            self._send(encode_message(body))
            return None
        return self._call(body, ["private"])[0]

    def join(self, room: str) -> Dict[str, Message]:
        """Joins (or creates) ``room`` and makes it current: ``{"roster": …, "history": …}``."""
        roster, history = self._call({"type": "join", "room": room}, ["roster", "history"])
        return {"roster": roster, "history": history}

    def leave(self, room: str) -> Message:
        """Leaves ``room``; returns our presence leave."""
        return self._call({"type": "leave", "room": room}, ["presence"])[0]

    def nick(self, name: str) -> Message:
        """Renames us; returns our presence rename (a notice when we are in no room)."""
        return self._call({"type": "nick", "name": name}, [("presence", "notice")])[0]

    def list_rooms(self) -> List[Dict[str, Any]]:
        """The server's rooms: ``[{"name": "lobby", "members": 3}, …]``."""
        return list(self._call({"type": "rooms"}, ["rooms"])[0].get("rooms", []))

    def roster(self, room: Optional[str] = None) -> List[Dict[str, Any]]:
        """The members of ``room`` (default: the current room)."""
        body: Message = {"type": "roster"}
        if room is not None:
            body["room"] = room
        return list(self._call(body, ["roster"])[0].get("members", []))

    def history(
        self,
        room: Optional[str] = None,
        *,
        with_: Optional[str] = None,
        private: Optional[bool] = None,
        before: Optional[int] = None,
        after: Optional[int] = None,
        limit: Optional[int] = None,
    ) -> Message:
        """Stored messages (PROTOCOL.md section 6): the reply, ``{"entries": [...], "more": bool, …}``."""
        return self._call(history_request(room, with_, private, before, after, limit), ["history"])[0]

    def catch_up(self, last_ids: Dict[str, int]) -> Dict[str, List[Message]]:
        """What each room said after its own id in ``last_ids`` (room -> id, as ``last_ids`` gave
        it): joins the rooms we are not in, then reads ``history(room, after=…)`` page by page.
        Returns room -> the missed entries, oldest first."""
        missed: Dict[str, List[Message]] = {}
        for room, after in last_ids.items():
            if room not in self._session.rooms:
                self.join(room)
            entries: List[Message] = []
            while True:
                page = self.history(room, after=after, limit=CATCH_UP_PAGE)
                got = list(page.get("entries", []))
                entries.extend(got)
                if not page.get("more") or not got:
                    break
                after = got[-1]["id"]
            missed[room] = entries
        return missed

    def ping(self) -> float:
        """Pings the server; returns the round trip in seconds."""
        started = time.monotonic()
        with self._lock:
            pending, frame = self._session.ping()
        self._wait(pending, frame, self.request_timeout)
        return time.monotonic() - started

    # ------------------------------------------------------------------------------------------
    # Files
    # ------------------------------------------------------------------------------------------

    def send_file(
        self,
        source: FileSource,
        *,
        name: Optional[str] = None,
        room: Optional[str] = None,
        to: Optional[str] = None,
        mime: Optional[str] = None,
        progress: Optional[Progress] = None,
        chunk_size: int = FILE_CHUNK_BYTES,
    ) -> Message:
        """Sends a file (a path, bytes or a binary file object) to ``room`` or to the member ``to``.

        file-offer first; once the server has echoed it (so a refusal such as FILE_TOO_LARGE
        costs no data), file-data chunks, hashed on the way, ``progress(sent, size)`` after
        each; then file-end with the SHA-256. Returns the server's offer with ``sha256`` once
        the server confirms the file arrived whole; raises its FILE_* error otherwise.
        """
        stream, size, default_name, owned = open_source(source)
        try:
            with self._lock:
                transfer = self._session.next_transfer()
            offer = file_offer(transfer, name or default_name, size, mime, room, to)
            echo = self._call(offer, ["file-offer"])[0]
            with self._lock:
                end, _ = self._session.request({"type": "file-end", "transfer": transfer}, ["file-end"])
                self._session.file_started(transfer, end)
            try:
                digest = hashlib.sha256()
                sent = 0
                while sent < size:
                    chunk = stream.read(min(chunk_size, size - sent))
                    if not chunk:
                        raise SwitchboardError("FILE_SIZE_MISMATCH", f"The source ended after {sent} of {size} bytes.")
                    if end.done:
                        end.result()
                    self._send(encode_message({"type": "file-data", "transfer": transfer, "data": chunk}))
                    digest.update(chunk)
                    sent += len(chunk)
                    if progress is not None:
                        progress(sent, size)
                sha256 = digest.hexdigest()
                self._wait(end, encode_message({"type": "file-end", "transfer": transfer, "sha256": sha256, "ref": end.ref}), self.request_timeout)
            finally:
                with self._lock:
                    self._session.file_finished(transfer)
                    if not end.done:
                        end._finish(SwitchboardError("FILE_ABORTED", "The transfer was abandoned."))
            return {**echo, "sha256": sha256}
        finally:
            if owned:
                stream.close()

    # ------------------------------------------------------------------------------------------
    # Events
    # ------------------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Message]:
        """Every event until the connection closes."""
        return self.events()

    def events(self, duration: Optional[float] = None) -> Iterator[Message]:
        """Events as they come, until the connection closes or ``duration`` seconds have passed."""
        deadline = None if duration is None else time.monotonic() + duration
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return
            try:
                item = self._events.get(timeout=left)
            except queue.Empty:
                return
            if isinstance(item, _End):
                if item.generation == self._generation:
                    return
                continue
            yield item

    def next_event(self, timeout: Optional[float] = None) -> Optional[Message]:
        """The next event, or None when ``timeout`` passes or the connection has closed."""
        for event in self.events(timeout):
            return event
        return None

    def wait_for(self, kind: str, predicate: Optional[Callable[[Message], bool]] = None, timeout: float = 5.0) -> Message:
        """The next event of type ``kind`` that satisfies ``predicate``; earlier events are
        consumed. Raises RequestTimeout, or ConnectionClosed when the connection ends first."""
        for event in self.events(timeout):
            if event["type"] == kind and (predicate is None or predicate(event)):
                return event
        if not self._open:
            raise self._session.close_reason or ConnectionClosed("CLOSED", "The connection is closed.")
        raise RequestTimeout(f'No "{kind}" event within {timeout} s.')

    # ------------------------------------------------------------------------------------------
    # Connecting and closing
    # ------------------------------------------------------------------------------------------

    def reconnect(self, attempts: int = 5, delay: float = 0.5) -> Message:
        """Opens a new connection as the same member: hello with the newest resume token and
        ``since`` the first room's own last id (the first history is then what it missed), then
        joins our other rooms again and reads what each said after its own last id. ``missed``
        holds what every room said meanwhile. Retries ``attempts`` times, doubling ``delay``.
        Returns the welcome."""
        self.close()
        others = list(self._session.rooms[1:])
        saved = {room: last for room, last in self._session.last_ids.items() if room in self._session.rooms}
        last: Optional[SwitchboardError] = None
        for attempt in range(attempts):
            try:
                self._connect(self._session.resume)
                break
            except SwitchboardError as error:
                last = error
                if error.code not in ("CONNECT_FAILED", "CLOSED", "TIMEOUT", "CLUSTER_UNAVAILABLE"):
                    raise
                time.sleep(delay * (2**attempt))
        else:
            assert last is not None
            raise last
        for room in others:
            self.join(room)
        self.missed = self.catch_up(saved)
        assert self._session.welcome is not None
        return self._session.welcome

    def close(self) -> None:
        """Closes gracefully: half-closes the socket and waits (2 s at most) for the server to
        close its side. Idempotent."""
        sock, reader = self._sock, self._reader
        if sock is None or reader is None:
            return
        self._closing = True
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        reader.join(_GRACEFUL_CLOSE_SECONDS)
        if reader.is_alive():
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            reader.join()
        self._sock = None
        self._reader = None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _connect(self, make_hello: Callable[[], Tuple[Request, bytes]]) -> None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as error:
            raise SwitchboardError("CONNECT_FAILED", f"cannot connect to {self.host}:{self.port}: {error}") from error
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._generation += 1
            self._session.connection_made()
            self._sock = sock
            self._open = True
            self._closing = False
        self._reader = threading.Thread(target=self._read, args=(sock, self._generation), name="switchboard-reader", daemon=True)
        self._reader.start()
        if not self._session.uses_hello:
            return
        with self._lock:
            pending, frame = make_hello()
        try:
            self._wait(pending, frame, self.timeout)
        except SwitchboardError:
            self.close()
            raise

    def _read(self, sock: socket.socket, generation: int) -> None:
        reason: Optional[SwitchboardError] = None
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                with self._lock:
                    events, replies = self._session.receive(data)
                for frame in replies:
                    self._send(frame)
                for event in events:
                    self._events.put(event)
        except ProtocolError as error:
            reason = error
        except (OSError, SwitchboardError) as error:
            if not self._closing:
                reason = ConnectionClosed("CLOSED", f"The connection failed: {error}")
        finally:
            with self._lock:
                why = self._session.connection_lost(reason)
                if generation == self._generation:
                    self._open = False
            sock.close()
            self._events.put(_End(generation, why))

    def _call(self, body: Message, expects: Sequence[Union[str, Tuple[str, ...]]]) -> List[Message]:
        with self._lock:
            pending, frame = self._session.request(body, expects)
        return self._wait(pending, frame, self.request_timeout)

    def _wait(self, pending: Request, frame: bytes, timeout: float) -> List[Message]:
        done = threading.Event()
        pending.add_done_callback(lambda _: done.set())
        try:
            self._send(frame)
        except SwitchboardError as error:
            with self._lock:
                pending._finish(error)
        if not done.wait(timeout):
            with self._lock:
                pending._finish(RequestTimeout(f"No answer to {pending.kind} within {timeout} s."))
        return pending.result()

    def _send(self, frame: bytes) -> None:
        sock = self._sock
        if sock is None or not self._open:
            raise self._session.close_reason or ConnectionClosed("CLOSED", "The connection is closed.")
        try:
            with self._write_lock:
                sock.sendall(frame)
        except OSError as error:
            raise ConnectionClosed("CLOSED", f"The connection failed: {error}") from error


def history_request(
    room: Optional[str], with_: Optional[str], private: Optional[bool], before: Optional[int], after: Optional[int], limit: Optional[int]
) -> Message:
    """A history request body with only the fields given."""
    body: Message = {"type": "history"}
    for key, value in (("room", room), ("with", with_), ("private", private), ("before", before), ("after", after), ("limit", limit)):
        if value is not None:
            body[key] = value
    return body


def file_offer(transfer: int, name: str, size: int, mime: Optional[str], room: Optional[str], to: Optional[str]) -> Message:
    """A file-offer body with only the fields given."""
    body: Message = {"type": "file-offer", "transfer": transfer, "name": name, "size": size}
    for key, value in (("mime", mime), ("room", room), ("to", to)):
        if value is not None:
            body[key] = value
    return body


def open_source(source: FileSource) -> Tuple[IO[bytes], int, str, bool]:
    """A readable stream for a file source, its size, a default name, and whether we opened it
    (and so close it)."""
    if isinstance(source, (bytes, bytearray)):
        return io.BytesIO(bytes(source)), len(source), "data.bin", True
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        return open(path, "rb"), os.path.getsize(path), os.path.basename(path), True
    position = source.tell()
    size = source.seek(0, io.SEEK_END) - position
    source.seek(position)
    return source, size, os.path.basename(str(getattr(source, "name", "data.bin"))), False
