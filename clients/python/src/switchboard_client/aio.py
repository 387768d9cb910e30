"""The asyncio client: the same member as ``Client``, with coroutines and ``async for``.

Over TCP it needs nothing beyond the standard library. ``url="ws://HOST:8080/ws"`` goes through
the gateway's WebSocket bridge instead, with the optional ``websockets`` package
(``pip install "switchboard-client[websocket]"``): each binary WebSocket message carries one
frame, the same bytes as on TCP (PROTOCOL.md section 1).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Sequence, Tuple, Union

from .client import DEFAULT_HOST, DEFAULT_PORT, FileSource, file_offer, history_request, open_source
from .errors import ConnectionClosed, ProtocolError, RequestTimeout, SwitchboardError
from .frames import Message, encode_message
from .session import CATCH_UP_PAGE, FILE_CHUNK_BYTES, Progress, ReceiveProgress, Request, Session

_GRACEFUL_CLOSE_SECONDS = 2.0


class _End:
    def __init__(self, generation: int) -> None:
        self.generation = generation


class _TcpTransport:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._drain = asyncio.Lock()

    async def read(self) -> bytes:
        return await self._reader.read(65536)

    async def write(self, frame: bytes) -> None:
        self._writer.write(frame)
        async with self._drain:  # concurrent drain() is unsafe before Python 3.10
            await self._writer.drain()

    async def close(self) -> None:
        if self._writer.can_write_eof():
            self._writer.write_eof()

    def abort(self) -> None:
        self._writer.close()


class _WebSocketTransport:
    def __init__(self, socket: Any) -> None:
        self._socket = socket

    async def read(self) -> bytes:
        from websockets.exceptions import ConnectionClosed as SocketClosed

        try:
            message = await self._socket.recv()
        except SocketClosed:
            return b""
        # A text message would be a bridge convenience for consoles; servers send binary frames.
        return message if isinstance(message, bytes) else b""

    async def write(self, frame: bytes) -> None:
        from websockets.exceptions import ConnectionClosed as SocketClosed

        try:
            await self._socket.send(frame)
        except SocketClosed as error:
            raise OSError(str(error)) from error

    async def close(self) -> None:
        await self._socket.close()

    def abort(self) -> None:
        asyncio.ensure_future(self._socket.close())


class AsyncClient:
    """A Switchboard member for asyncio. Get one with ``await AsyncClient.connect(...)``.

    Events, requests and errors are those of the blocking ``Client``: iterate with
    ``async for event in client``; ``await client.say("hi")`` returns the server's copy.
    """

    def __init__(self, host: str, port: int, url: Optional[str], *, hello: bool, timeout: float, request_timeout: float, on_file_progress: Optional[ReceiveProgress]) -> None:
        self.host = host
        self.port = port
        self.url = url
        self.timeout = timeout
        self.request_timeout = request_timeout
        self._session = Session(hello=hello, on_file_progress=on_file_progress)
        self._events: "asyncio.Queue[Union[Message, _End]]" = asyncio.Queue()
        self._transport: Optional[Union[_TcpTransport, _WebSocketTransport]] = None
        self._reader: Optional["asyncio.Task[None]"] = None
        self._generation = 0
        self._open = False
        #: What each room said while we were away, as the last ``reconnect()`` read it: room -> entries, oldest first.
        self.missed: Dict[str, List[Message]] = {}
        self._closing = False

    @classmethod
    async def connect(
        cls,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        url: Optional[str] = None,
        name: Optional[str] = None,
        password: Optional[str] = None,
        token: Optional[str] = None,
        room: Optional[str] = None,
        since: Optional[int] = None,
        hello: bool = True,
        timeout: float = 10.0,
        request_timeout: float = 30.0,
        on_file_progress: Optional[ReceiveProgress] = None,
    ) -> "AsyncClient":
        """Connects (to ``host:port`` over TCP, or to ``url``, a ``ws://`` bridge), says hello and
        returns after welcome. A refused hello raises ``ServerError`` with its code."""
        client = cls(host, port, url, hello=hello, timeout=timeout, request_timeout=request_timeout, on_file_progress=on_file_progress)
        session = client._session
        await client._connect(lambda: session.hello(name=name, password=password, token=token, room=room, since=since))
        return client

    # State, as on Client.
    name = property(lambda self: self._session.name, doc="Our name, from welcome.")
    id = property(lambda self: self._session.id, doc="The connection id from welcome.")
    token = property(lambda self: self._session.token, doc="The resume token of the newest welcome.")
    room = property(lambda self: self._session.room, doc="The current room.")
    rooms = property(lambda self: list(self._session.rooms), doc="The rooms we are in, the current one last.")
    welcome = property(lambda self: self._session.welcome, doc="The last welcome.")
    last_ids = property(lambda self: dict(self._session.last_ids), doc="Room -> the highest message id seen there.")
    last_id = property(
        lambda self: self._session.last_id,
        doc="The highest id seen in any room or private message. Deprecated: ids of two rooms do not compare on a cluster; use last_ids.",
    )
    is_open = property(lambda self: self._open, doc="True until the connection ends.")
    close_reason = property(lambda self: self._session.close_reason, doc="Why the connection ended.")

    # ------------------------------------------------------------------------------------------
    # Chat and requests
    # ------------------------------------------------------------------------------------------

    async def say(self, text: str, room: Optional[str] = None) -> Optional[Message]:
        """Says ``text`` in ``room`` (default: the current room); returns the server's copy."""
        if not self._session.uses_hello:
            await self._send(encode_message({"type": "text", "text": text} if room is None else {"type": "message", "room": room, "text": text}))
            return None
        body: Message = {"type": "message", "text": text}
        if room is not None:
            body["room"] = room
        return (await self._call(body, ["message"]))[0]

    async def private(self, to: str, text: str) -> Optional[Message]:
        """A private message to the member named ``to``; returns our copy."""
        body: Message = {"type": "private", "to": to, "text": text}
        if not self._session.uses_hello:
            await self._send(encode_message(body))
            return None
        return (await self._call(body, ["private"]))[0]

    async def join(self, room: str) -> Dict[str, Message]:
        """Joins (or creates) ``room`` and makes it current: ``{"roster": …, "history": …}``."""
        roster, history = await self._call({"type": "join", "room": room}, ["roster", "history"])
        return {"roster": roster, "history": history}

    async def leave(self, room: str) -> Message:
        """Leaves ``room``; returns our presence leave."""
        return (await self._call({"type": "leave", "room": room}, ["presence"]))[0]

    async def nick(self, name: str) -> Message:
        """Renames us; returns our presence rename (a notice when we are in no room)."""
        return (await self._call({"type": "nick", "name": name}, [("presence", "notice")]))[0]

    async def list_rooms(self) -> List[Dict[str, Any]]:
        """The server's rooms: ``[{"name": "lobby", "members": 3}, …]``."""
        return list((await self._call({"type": "rooms"}, ["rooms"]))[0].get("rooms", []))

    async def roster(self, room: Optional[str] = None) -> List[Dict[str, Any]]:
        """The members of ``room`` (default: the current room)."""
        body: Message = {"type": "roster"}
        if room is not None:
            body["room"] = room
        return list((await self._call(body, ["roster"]))[0].get("members", []))

    async def history(
        self,
        room: Optional[str] = None,
        *,
        with_: Optional[str] = None,
        private: Optional[bool] = None,
        before: Optional[int] = None,
        after: Optional[int] = None,
        limit: Optional[int] = None,
    ) -> Message:
        """Stored messages (PROTOCOL.md section 6): ``{"entries": [...], "more": bool, …}``."""
        return (await self._call(history_request(room, with_, private, before, after, limit), ["history"]))[0]

    async def catch_up(self, last_ids: Dict[str, int]) -> Dict[str, List[Message]]:
        """What each room said after its own id in ``last_ids``; as ``Client.catch_up``."""
        missed: Dict[str, List[Message]] = {}
        for room, after in last_ids.items():
            if room not in self._session.rooms:
                await self.join(room)
            entries: List[Message] = []
            while True:
                page = await self.history(room, after=after, limit=CATCH_UP_PAGE)
                got = list(page.get("entries", []))
                entries.extend(got)
                if not page.get("more") or not got:
                    break
                after = got[-1]["id"]
            missed[room] = entries
        return missed

    async def ping(self) -> float:
        """Pings the server; returns the round trip in seconds."""
        started = time.monotonic()
        await self._wait(*self._session.ping(), self.request_timeout)
        return time.monotonic() - started

    async def send_file(
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
        """Sends a file as ``Client.send_file`` does; returns the offer with ``sha256`` once the
        server confirms the file arrived whole."""
        stream, size, default_name, owned = open_source(source)
        try:
            transfer = self._session.next_transfer()
            echo = (await self._call(file_offer(transfer, name or default_name, size, mime, room, to), ["file-offer"]))[0]
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
                    await self._send(encode_message({"type": "file-data", "transfer": transfer, "data": chunk}))
                    digest.update(chunk)
                    sent += len(chunk)
                    if progress is not None:
                        progress(sent, size)
                sha256 = digest.hexdigest()
                await self._wait(end, encode_message({"type": "file-end", "transfer": transfer, "sha256": sha256, "ref": end.ref}), self.request_timeout)
            finally:
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

    def __aiter__(self) -> AsyncIterator[Message]:
        return self.events()

    async def events(self, duration: Optional[float] = None) -> AsyncIterator[Message]:
        """Events as they come, until the connection closes or ``duration`` seconds have passed."""
        loop = asyncio.get_running_loop()
        deadline = None if duration is None else loop.time() + duration
        while True:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return
            try:
                item = await asyncio.wait_for(self._events.get(), left)
            except asyncio.TimeoutError:
                return
            if isinstance(item, _End):
                if item.generation == self._generation:
                    return
                continue
            yield item

    async def wait_for(self, kind: str, predicate: Optional[Callable[[Message], bool]] = None, timeout: float = 5.0) -> Message:
        """The next event of type ``kind`` that satisfies ``predicate``; earlier events are consumed."""
        async for event in self.events(timeout):
            if event["type"] == kind and (predicate is None or predicate(event)):
                return event
        if not self._open:
            raise self._session.close_reason or ConnectionClosed("CLOSED", "The connection is closed.")
        raise RequestTimeout(f'No "{kind}" event within {timeout} s.')

    # ------------------------------------------------------------------------------------------
    # Connecting and closing
    # ------------------------------------------------------------------------------------------

    async def reconnect(self, attempts: int = 5, delay: float = 0.5) -> Message:
        """A new connection as the same member (newest token, ``since`` the first room's own last
        id), our other rooms joined again and each caught up from its own last id into ``missed``;
        as ``Client.reconnect``. Returns the welcome."""
        await self.close()
        others = list(self._session.rooms[1:])
        saved = {room: last for room, last in self._session.last_ids.items() if room in self._session.rooms}
        for attempt in range(attempts):
            try:
                await self._connect(self._session.resume)
                break
            except SwitchboardError as error:
                if attempt == attempts - 1 or error.code not in ("CONNECT_FAILED", "CLOSED", "TIMEOUT", "CLUSTER_UNAVAILABLE"):
                    raise
                await asyncio.sleep(delay * (2**attempt))
        for room in others:
            await self.join(room)
        self.missed = await self.catch_up(saved)
        assert self._session.welcome is not None
        return self._session.welcome

    async def close(self) -> None:
        """Closes gracefully (the server gets 2 s to close its side). Idempotent."""
        transport, reader = self._transport, self._reader
        if transport is None or reader is None:
            return
        self._closing = True
        try:
            await transport.close()
        except OSError:
            pass
        try:
            await asyncio.wait_for(asyncio.shield(reader), _GRACEFUL_CLOSE_SECONDS)
        except asyncio.TimeoutError:
            transport.abort()
            await reader
        self._transport = None
        self._reader = None

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _connect(self, make_hello: Callable[[], Tuple[Request, bytes]]) -> None:
        try:
            transport = await asyncio.wait_for(self._open_transport(), self.timeout)
        except (OSError, asyncio.TimeoutError) as error:
            where = self.url or f"{self.host}:{self.port}"
            raise SwitchboardError("CONNECT_FAILED", f"cannot connect to {where}: {error!r}") from error
        self._generation += 1
        self._session.connection_made()
        self._transport = transport
        self._open = True
        self._closing = False
        self._reader = asyncio.ensure_future(self._read(transport, self._generation))
        if not self._session.uses_hello:
            return
        try:
            await self._wait(*make_hello(), self.timeout)
        except SwitchboardError:
            await self.close()
            raise

    async def _open_transport(self) -> Union[_TcpTransport, _WebSocketTransport]:
        if self.url is not None and self.url.startswith(("ws://", "wss://")):
            try:
                import websockets
            except ImportError as error:
                raise SwitchboardError("CONNECT_FAILED", 'WebSocket URLs need the websockets package: pip install "switchboard-client[websocket]"') from error
            # websockets exports connect lazily (typed checkers cannot see it); every version has it.
            return _WebSocketTransport(await websockets.connect(self.url, max_size=None))  # type: ignore[attr-defined]
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return _TcpTransport(reader, writer)

    async def _read(self, transport: Union[_TcpTransport, _WebSocketTransport], generation: int) -> None:
        reason: Optional[SwitchboardError] = None
        try:
            while True:
                data = await transport.read()
                if not data:
                    break
                events, replies = self._session.receive(data)
                for frame in replies:
                    await transport.write(frame)
                for event in events:
                    self._events.put_nowait(event)
        except ProtocolError as error:
            reason = error
        except OSError as error:
            if not self._closing:
                reason = ConnectionClosed("CLOSED", f"The connection failed: {error}")
        finally:
            self._session.connection_lost(reason)
            if generation == self._generation:
                self._open = False
            transport.abort()
            self._events.put_nowait(_End(generation))

    async def _call(self, body: Message, expects: Sequence[Union[str, Tuple[str, ...]]]) -> List[Message]:
        return await self._wait(*self._session.request(body, expects), self.request_timeout)

    async def _wait(self, pending: Request, frame: bytes, timeout: float) -> List[Message]:
        done: "asyncio.Future[None]" = asyncio.get_running_loop().create_future()

        def settle(_: Request) -> None:
            if not done.done():
                done.set_result(None)

        pending.add_done_callback(settle)
        try:
            await self._send(frame)
        except SwitchboardError as error:
            pending._finish(error)
        try:
            await asyncio.wait_for(done, timeout)
        except asyncio.TimeoutError:
            pending._finish(RequestTimeout(f"No answer to {pending.kind} within {timeout} s."))
        return pending.result()

    async def _send(self, frame: bytes) -> None:
        transport = self._transport
        if transport is None or not self._open:
            raise self._session.close_reason or ConnectionClosed("CLOSED", "The connection is closed.")
        try:
            await transport.write(frame)
        except OSError as error:
            raise ConnectionClosed("CLOSED", f"The connection failed: {error}") from error


async def connect(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, **options: Any) -> AsyncClient:
    """``await connect(...)``: shorthand for ``AsyncClient.connect``."""
    return await AsyncClient.connect(host, port, **options)
