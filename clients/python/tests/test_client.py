"""The blocking Client against a real gateway: chat, rooms, private messages, files, history,
errors, heartbeats, sign-in and reconnects."""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any, List, Tuple

import pytest

from switchboard_client import Client, ServerError, SwitchboardError


def test_chat_in_a_room_and_privately(gateway: Any, unique: Any) -> None:
    alice_name, bob_name = unique("alice"), unique("bob")
    with Client("127.0.0.1", gateway.tcp_port, name=alice_name) as alice, Client("127.0.0.1", gateway.tcp_port, name=bob_name) as bob:
        assert alice.name == alice_name and alice.room == "lobby" and alice.token
        echo = alice.say("hello from Python")
        assert echo is not None and echo["from"] == alice_name and isinstance(echo["id"], int) and echo["transport"] == "tcp"
        got = bob.wait_for("message", lambda m: m["text"] == "hello from Python")
        assert got["id"] == echo["id"] and got["room"] == "lobby"
        mine = alice.private(bob_name.upper(), "psst")
        assert mine is not None and mine["to"] == bob_name
        assert bob.wait_for("private", lambda m: m["text"] == "psst")["from"] == alice_name
        assert alice.last_id is not None and alice.last_id >= mine["id"]
        raw = alice.send_bytes(b"\x00\x01\xffAB")
        assert raw["data"] == "AAH/QUI="
        assert bob.wait_for("message", lambda m: m.get("data") == "AAH/QUI=")["text"] == "\x00\x01\ufffdAB"
        assert alice.say("Grüße ✓")["text"] == "Grüße ✓"  # type: ignore[index]


def test_rooms_roster_leave_and_nick(gateway: Any, unique: Any) -> None:
    room, alice_name, bob_name = unique("ops"), unique("alice"), unique("bob")
    with Client("127.0.0.1", gateway.tcp_port, name=alice_name) as alice, Client("127.0.0.1", gateway.tcp_port, name=bob_name) as bob:
        joined = alice.join(room)
        assert joined["roster"]["room"] == room and joined["history"]["entries"] == []
        assert alice.room == room and alice.rooms == ["lobby", room]
        bob.join(room)
        assert sorted(m["name"] for m in alice.roster(room)) == sorted([alice_name, bob_name])
        assert {"name": room, "members": 2} in alice.list_rooms()
        assert alice.say("in ops")["room"] == room  # type: ignore[index]
        assert bob.wait_for("message", lambda m: m["text"] == "in ops")["room"] == room
        renamed = unique("carol")
        alice.nick(renamed)
        assert alice.name == renamed
        assert bob.wait_for("presence", lambda p: p["event"] == "rename")["previousName"] == alice_name
        assert alice.leave(room)["reason"] == "left"
        assert alice.rooms == ["lobby"] and alice.room == "lobby"
        assert bob.wait_for("presence", lambda p: p["event"] == "leave")["member"]["name"] == renamed


def test_errors_are_exceptions_with_the_servers_code(gateway: Any, unique: Any) -> None:
    name = unique("taken")
    with Client("127.0.0.1", gateway.tcp_port, name=name) as holder:
        with pytest.raises(ServerError) as taken:
            Client("127.0.0.1", gateway.tcp_port, name=name.upper())
        assert taken.value.code == "NAME_TAKEN"
        with pytest.raises(ServerError) as not_in_room:
            holder.say("nobody hears", room=unique("elsewhere"))
        assert not_in_room.value.code == "NOT_IN_ROOM"
        with pytest.raises(ServerError) as nobody:
            holder.private(unique("ghost"), "hello?")
        assert nobody.value.code == "NO_SUCH_MEMBER"
        with pytest.raises(ServerError) as bad:
            holder.join("no spaces allowed")
        assert bad.value.code == "ROOM_INVALID"
        assert holder.ping() >= 0  # still open after each error
    with pytest.raises(SwitchboardError) as refused:
        Client("127.0.0.1", 1, name="x", timeout=5)
    assert refused.value.code == "CONNECT_FAILED"


def test_files_are_chunked_checksummed_and_report_progress(gateway: Any, unique: Any, tmp_path: Any) -> None:
    content = os.urandom(150_000)  # three chunks of 64 KiB at most
    path = tmp_path / "report.bin"
    path.write_bytes(content)
    received: List[Tuple[str, int]] = []
    sent: List[Tuple[int, int]] = []
    alice_name, bob_name = unique("alice"), unique("bob")
    with Client("127.0.0.1", gateway.tcp_port, name=alice_name) as alice, Client(
        "127.0.0.1", gateway.tcp_port, name=bob_name, on_file_progress=lambda offer, count: received.append((offer["name"], count))
    ) as bob:
        result = alice.send_file(str(path), mime="application/octet-stream", progress=lambda done, total: sent.append((done, total)))
        assert result["sha256"] == hashlib.sha256(content).hexdigest() and result["size"] == len(content)
        assert sent == [(65536, 150000), (131072, 150000), (150000, 150000)]
        got = bob.wait_for("file", timeout=15)
        assert got["name"] == "report.bin" and got["from"] == alice_name and got["data"] == content
        assert received[-1] == ("report.bin", len(content)) and len(received) == 3
        # Privately, from bytes in memory.
        alice.send_file(b"just for bob", name="note.txt", to=bob_name)
        private = bob.wait_for("file", timeout=15)
        assert private["to"] == bob_name and private["data"] == b"just for bob"


def test_a_file_over_the_limit_is_refused_before_any_data(gateway: Any, unique: Any) -> None:
    with Client("127.0.0.1", gateway.tcp_port, name=unique("big")) as alice:
        class Huge:
            name = "huge.bin"

            def tell(self) -> int:
                return 0

            def seek(self, offset: int, whence: int = 0) -> int:
                return 60 * 1024 * 1024 if whence == 2 else 0

            def read(self, count: int) -> bytes:
                raise AssertionError("no data may be read once the offer is refused")

        with pytest.raises(ServerError) as refused:
            alice.send_file(Huge())  # type: ignore[arg-type]
        assert refused.value.code == "FILE_TOO_LARGE"


def test_history_and_since(gateway: Any, unique: Any) -> None:
    room = unique("hist")
    with Client("127.0.0.1", gateway.tcp_port, name=unique("writer"), room=room) as writer:
        ids = [writer.say(f"line {n}")["id"] for n in range(3)]  # type: ignore[index]
        page = writer.history(room=room, limit=2)
        assert [e["text"] for e in page["entries"]] == ["line 1", "line 2"] and page["more"] is True
        earlier = writer.history(room=room, before=ids[1])
        assert [e["text"] for e in earlier["entries"]] == ["line 0"]
    with Client("127.0.0.1", gateway.tcp_port, name=unique("reader"), room=room, since=ids[0]) as reader:
        first = reader.wait_for("history", lambda h: h.get("room") == room)
        assert [e["text"] for e in first["entries"]] == ["line 1", "line 2"]


def test_heartbeats_are_answered(fast_heartbeat_gateway: Any, unique: Any) -> None:
    """The gateway pings after 300 ms of silence and drops after 600 ms: a client that stays
    silent for 2 s is still there only because it answered the pings."""
    with Client("127.0.0.1", fast_heartbeat_gateway.tcp_port, name=unique("quiet")) as quiet:
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            quiet.next_event(0.1)
        assert quiet.is_open and quiet.close_reason is None
        assert quiet.say("still here") is not None


def test_password_sign_in(gateway: Any, unique: Any) -> None:
    name = unique("member")
    gateway.post("/api/accounts", {"name": name, "password": "correct horse"})
    with pytest.raises(ServerError) as required:
        Client("127.0.0.1", gateway.tcp_port, name=name)
    assert required.value.code == "AUTH_REQUIRED"
    with pytest.raises(ServerError) as failed:
        Client("127.0.0.1", gateway.tcp_port, name=name, password="wrong horse")
    assert failed.value.code == "AUTH_FAILED"
    with Client("127.0.0.1", gateway.tcp_port, name=name, password="correct horse") as member:
        assert member.name == name and member.welcome is not None and member.welcome.get("account") is True


def test_reconnect_resumes_with_the_newest_token(gateway: Any, unique: Any) -> None:
    room, name = unique("ops"), unique("resumer")
    with Client("127.0.0.1", gateway.tcp_port, name=unique("talker")) as talker:
        client = Client("127.0.0.1", gateway.tcp_port, name=name)
        client.join(room)
        seen = client.say("before the drop", room="lobby")
        first_token = client.token
        client.close()
        assert not client.is_open
        missed = talker.say("while you were away")
        welcome = client.reconnect()
        try:
            assert welcome["name"] == name and client.name == name
            assert client.token is not None and welcome.get("token") == client.token
            assert client.rooms == ["lobby", room]
            # since = the last id seen: the first history is exactly what was missed.
            history = client.wait_for("history", lambda h: h.get("ref") == welcome["ref"])
            assert [e["id"] for e in history["entries"]] == [missed["id"]]  # type: ignore[index]
            assert seen is not None and seen["id"] < missed["id"]  # type: ignore[index]
            # A token from an earlier welcome still names this member, or has been replaced by
            # the newest one: the client always keeps the newest.
            assert first_token is not None
        finally:
            client.close()


def test_a_plain_device_gets_text_lines(gateway: Any, unique: Any) -> None:
    with Client("127.0.0.1", gateway.tcp_port, hello=False) as device, Client("127.0.0.1", gateway.tcp_port, name=unique("alice")) as alice:
        device.say("temp=21.5 C")
        heard = alice.wait_for("message", lambda m: m["text"] == "temp=21.5 C")
        assert heard["from"].startswith("127.0.0.1:")
        alice.say("hi device")
        assert device.wait_for("text", lambda t: t["text"] == f"{alice.name}: hi device")


def test_a_token_signs_in_as_the_same_member_and_replaces_the_old_session(gateway: Any, unique: Any) -> None:
    name = unique("twice")
    first = Client("127.0.0.1", gateway.tcp_port, name=name)
    assert first.token is not None
    with Client("127.0.0.1", gateway.tcp_port, token=first.token) as second:
        assert second.name == name and second.token is not None
        assert list(first) is not None and not first.is_open  # iteration ends with the connection
        assert first.close_reason is not None and first.close_reason.code == "SESSION_REPLACED"
        with pytest.raises(SwitchboardError) as closed:
            first.say("from the replaced session")
        assert closed.value.code == "SESSION_REPLACED"
    first.close()


def test_reconnect_resumes_each_room_from_its_own_last_id(per_room_gateway: Any, unique: Any) -> None:
    # Ids taken per room: lobby, the busy room, runs far ahead of the quiet one, so one highest
    # id for every room (the deprecated ``last_id``) would ask the quiet room for nothing.
    gateway = per_room_gateway
    quiet = unique("quiet")
    with Client("127.0.0.1", gateway.tcp_port, name=unique("talker")) as talker:
        talker.join(quiet)
        for i in range(5):
            talker.say(f"lobby early {i}", room="lobby")
        client = Client("127.0.0.1", gateway.tcp_port, name=unique("resumer"))
        client.join(quiet)
        quiet_seen = talker.say("quiet seen", room=quiet)
        lobby_seen = talker.say("lobby seen", room="lobby")
        assert quiet_seen is not None and lobby_seen is not None
        client.wait_for("message", lambda m: m["text"] == "quiet seen")
        client.wait_for("message", lambda m: m["text"] == "lobby seen")
        assert client.last_ids == {"lobby": lobby_seen["id"], quiet: quiet_seen["id"]}
        assert client.last_id == lobby_seen["id"] > quiet_seen["id"]
        client.close()
        for text in ("quiet missed 1", "quiet missed 2"):
            talker.say(text, room=quiet)
        talker.say("lobby missed", room="lobby")
        client.reconnect()
        try:
            assert client.rooms == ["lobby", quiet]
            texts = {room: [e["text"] for e in entries] for room, entries in client.missed.items()}
            assert texts == {"lobby": ["lobby missed"], quiet: ["quiet missed 1", "quiet missed 2"]}
            # The hello's own history: its room since that room's last id.
            history = client.wait_for("history", lambda h: h.get("room") == "lobby" and h.get("ref") == client.welcome["ref"])  # type: ignore[index]
            assert [e["text"] for e in history["entries"]] == ["lobby missed"]
        finally:
            client.close()
