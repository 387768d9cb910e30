"""The asyncio client against a real gateway, over TCP and over the WebSocket bridge."""

from __future__ import annotations

import asyncio
import hashlib
import os
from typing import Any, List

import pytest

from switchboard_client import AsyncClient, ServerError


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, 60))


def test_chat_files_and_errors_over_tcp(gateway: Any, unique: Any) -> None:
    async def scenario() -> None:
        alice = await AsyncClient.connect("127.0.0.1", gateway.tcp_port, name=unique("alice"))
        bob = await AsyncClient.connect("127.0.0.1", gateway.tcp_port, name=unique("bob"))
        async with alice, bob:
            echo = await alice.say("hello from asyncio")
            assert echo is not None and echo["from"] == alice.name
            heard = await bob.wait_for("message", lambda m: m["text"] == "hello from asyncio")
            assert heard["id"] == echo["id"]
            with pytest.raises(ServerError) as refused:
                await alice.private(unique("ghost"), "anyone?")
            assert refused.value.code == "NO_SUCH_MEMBER"
            content = os.urandom(70_000)
            progress: List[int] = []
            sent = await alice.send_file(content, name="blob.bin", to=bob.name, progress=lambda done, total: progress.append(done))
            assert sent["sha256"] == hashlib.sha256(content).hexdigest() and progress == [65536, 70000]
            got = await bob.wait_for("file", timeout=15)
            assert got["data"] == content and got["from"] == alice.name
            # Both requests out at once: each reply settles its own request by ref.
            roster, history = await asyncio.gather(alice.roster(), alice.history(room="lobby", limit=5))
            assert bob.name in [m["name"] for m in roster] and "hello from asyncio" in [e["text"] for e in history["entries"]]

    run(scenario())


def test_reconnect_with_the_resume_token(gateway: Any, unique: Any) -> None:
    async def scenario() -> None:
        client = await AsyncClient.connect("127.0.0.1", gateway.tcp_port, name=unique("resumer"))
        name = client.name
        await client.say("before")
        await client.close()
        welcome = await client.reconnect()
        async with client:
            assert welcome["name"] == name and client.token == welcome.get("token") and client.is_open
            assert (await client.say("after"))["from"] == name  # type: ignore[index]

    run(scenario())


def test_the_websocket_bridge(gateway: Any, unique: Any) -> None:
    async def scenario() -> None:
        browser_like = await AsyncClient.connect(url=gateway.ws_url, name=unique("wsuser"))
        tcp = await AsyncClient.connect("127.0.0.1", gateway.tcp_port, name=unique("tcpuser"))
        async with browser_like, tcp:
            echo = await browser_like.say("over the bridge")
            assert echo is not None and echo["transport"] == "ws"
            assert (await tcp.wait_for("message", lambda m: m["text"] == "over the bridge"))["from"] == browser_like.name
            await tcp.say("back over TCP")
            assert (await browser_like.wait_for("message", lambda m: m["text"] == "back over TCP"))["transport"] == "tcp"

    run(scenario())


def test_reconnect_resumes_each_room_from_its_own_last_id(per_room_gateway: Any, unique: Any) -> None:
    # Ids taken per room (as on a Redis Cluster): lobby's run far ahead of the quiet room's.
    async def scenario() -> None:
        quiet = unique("quiet")
        talker = await AsyncClient.connect("127.0.0.1", per_room_gateway.tcp_port, name=unique("talker"))
        async with talker:
            await talker.join(quiet)
            for i in range(5):
                await talker.say(f"lobby early {i}", room="lobby")
            client = await AsyncClient.connect("127.0.0.1", per_room_gateway.tcp_port, name=unique("resumer"))
            await client.join(quiet)
            quiet_seen = await talker.say("quiet seen", room=quiet)
            lobby_seen = await talker.say("lobby seen", room="lobby")
            assert quiet_seen is not None and lobby_seen is not None
            await client.wait_for("message", lambda m: m["text"] == "quiet seen")
            await client.wait_for("message", lambda m: m["text"] == "lobby seen")
            assert client.last_ids == {"lobby": lobby_seen["id"], quiet: quiet_seen["id"]}
            await client.close()
            for text in ("quiet missed 1", "quiet missed 2"):
                await talker.say(text, room=quiet)
            await talker.say("lobby missed", room="lobby")
            await client.reconnect()
            async with client:
                texts = {room: [e["text"] for e in entries] for room, entries in client.missed.items()}
                assert texts == {"lobby": ["lobby missed"], quiet: ["quiet missed 1", "quiet missed 2"]}

    run(scenario())
