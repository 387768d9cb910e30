// The C# client's self-checking tests, compiled with mcs alone (no test framework from NuGet).
//   mono SelfTest.exe vectors PATH/TO/vectors.json   the protocol's byte vectors through the codec
//   mono SelfTest.exe chat PORT PEER                 one side of a chat with a real gateway; the
//                                                    other side (PEER, a Node client, and a plain
//                                                    TCP device) is test/integration/csharp-client.test.ts
//   mono SelfTest.exe heartbeat PORT                 stays silent on a gateway that pings after 400 ms
//   mono SelfTest.exe rooms PORT                     two rooms on a gateway that takes ids per room:
//                                                    a reconnect resumes each from its own last id
// Exit code 0 when every check passed; each failure is printed.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Tasks;
using Switchboard.Client;

static class SelfTest
{
    static int failures;

    static int Main(string[] args)
    {
        try
        {
            if (args.Length == 2 && args[0] == "vectors") Vectors(args[1]);
            else if (args.Length == 3 && args[0] == "chat") Chat(int.Parse(args[1]), args[2]).GetAwaiter().GetResult();
            else if (args.Length == 2 && args[0] == "heartbeat") Heartbeat(int.Parse(args[1])).GetAwaiter().GetResult();
            else if (args.Length == 2 && args[0] == "rooms") Rooms(int.Parse(args[1])).GetAwaiter().GetResult();
            else
            {
                Console.Error.WriteLine("usage: SelfTest.exe vectors VECTORS.json | chat PORT PEER | heartbeat PORT | rooms PORT");
                return 2;
            }
        }
        catch (Exception error)
        {
            Console.Error.WriteLine("FAIL (exception) " + error);
            return 1;
        }
        Console.WriteLine(failures == 0 ? "PASS" : "FAILED: " + failures);
        return failures == 0 ? 0 : 1;
    }

    static void Check(bool ok, string what)
    {
        if (ok) return;
        failures++;
        Console.Error.WriteLine("FAIL " + what);
    }

    static void Step(string what) { Console.WriteLine("step: " + what); }

    // ---------------------------------------------------------------------------------------------
    // Byte vectors
    // ---------------------------------------------------------------------------------------------

    static void Vectors(string path)
    {
        var vectors = (JsonObject)Json.Parse(File.ReadAllText(path, Encoding.UTF8));
        int count = 0;
        var all = new List<byte>();
        var expectedAll = new List<string>();
        foreach (JsonObject vector in vectors.GetArray("frames").OfType<JsonObject>())
        {
            string name = vector.GetString("name");
            byte[] bytes = FromHex(vector.GetString("hex"));
            Message expected = FromVector(vector.GetObject("message"));
            if (vector.GetString("direction") == "client")
                Check(Hex(FrameCodec.Encode(expected)) == vector.GetString("hex"), name + ": encodes byte for byte (got " + Hex(FrameCodec.Encode(expected)) + ")");
            var whole = new FrameDecoder().Feed(bytes, 0, bytes.Length);
            Check(whole.Count == 1 && Same(FrameCodec.Decode(whole[0].Type, whole[0].Payload), expected), name + ": decodes");
            var decoder = new FrameDecoder();
            var pieces = new List<Frame>();
            for (int i = 0; i < bytes.Length; i++) pieces.AddRange(decoder.Feed(bytes, i, 1));
            Check(pieces.Count == 1 && decoder.Pending == 0 && Same(FrameCodec.Decode(pieces[0].Type, pieces[0].Payload), expected), name + ": decodes one byte at a time");
            all.AddRange(bytes);
            expectedAll.Add(Describe(expected));
            count++;
        }
        byte[] stream = all.ToArray();
        var together = new FrameDecoder().Feed(stream, 0, stream.Length).Select(f => Describe(FrameCodec.Decode(f.Type, f.Payload))).ToList();
        Check(together.SequenceEqual(expectedAll), "every vector from one buffer");
        foreach (JsonObject vector in vectors.GetArray("errors").OfType<JsonObject>())
        {
            string code = vector.GetString("code");
            if (code != "FRAME_EMPTY" && code != "FRAME_TOO_LARGE") continue;
            byte[] bytes = FromHex(vector.GetString("hex"));
            string got = "none";
            try { new FrameDecoder(1048576).Feed(bytes, 0, bytes.Length); }
            catch (SwitchboardException error) { got = error.Code; }
            Check(got == code, vector.GetString("name") + ": " + code + " on the header alone (got " + got + ")");
            count++;
        }
        Check(FrameCodec.Decode(0x7F, new byte[] { 1 }) == null, "an unknown type is skipped");
        foreach (var bad in new[] { new object[] { (byte)0x00, new byte[] { 0xff }, "INVALID_UTF8" }, new object[] { (byte)0x04, new byte[] { 0x7b }, "INVALID_JSON" }, new object[] { (byte)0x01, new byte[] { 0, 0xaa }, "INVALID_MESSAGE" } })
        {
            string got = "none";
            try { FrameCodec.Decode((byte)bad[0], (byte[])bad[1]); }
            catch (SwitchboardException error) { got = error.Code; }
            Check(got == (string)bad[2], "a bad payload is " + bad[2] + " (got " + got + ")");
        }
        Console.WriteLine("vectors: " + count + " checked");
    }

    /// <summary>The vector's message as the codec represents it (hex "data" as bytes).</summary>
    static Message FromVector(JsonObject vector)
    {
        string type = vector.GetString("type");
        if (type == "text") return Message.OfText(vector.GetString("text"));
        if (type == "file-data") return Message.OfFileData((uint)vector.GetLong("transfer").Value, FromHex(vector.GetString("data")));
        if (FrameTypes.IsBinary(type)) return Message.OfBytes(type, FromHex(vector.GetString("data")));
        var body = new JsonObject();
        foreach (var pair in vector) if (pair.Key != "type") body[pair.Key] = pair.Value;
        return new Message(type, body);
    }

    static string Describe(Message message)
    {
        return message.Type + "|" + message.Text + "|" + (message.Data == null ? "" : Hex(message.Data)) + "|" + message.Transfer + "|" + Json.Serialize(message.Body);
    }

    static bool Same(Message a, Message b) { return a != null && Describe(a) == Describe(b); }

    static byte[] FromHex(string hex)
    {
        var bytes = new byte[hex.Length / 2];
        for (int i = 0; i < bytes.Length; i++) bytes[i] = Convert.ToByte(hex.Substring(i * 2, 2), 16);
        return bytes;
    }

    static string Hex(byte[] bytes) { return string.Concat(bytes.Select(b => b.ToString("x2"))); }

    // ---------------------------------------------------------------------------------------------
    // A chat with a real gateway, a plain TCP device and the Node client (the peer)
    // ---------------------------------------------------------------------------------------------

    static async Task Chat(int port, string peer)
    {
        const int Long = 30000;
        var client = new SwitchboardClient("127.0.0.1", port);
        var progress = new List<long>();
        client.FileProgress += (sender, e) => progress.Add(e.Received);
        Message welcome = await client.ConnectAsync(new ConnectOptions { Name = "cs-alice" });
        Check(welcome.Body.GetString("name") == "cs-alice" && client.Room == "lobby" && client.Token != null, "welcome names us, in lobby, with a token");

        Step("online list");
        List<JsonObject> online = await client.RosterAsync();
        var names = online.Select(m => m.GetString("name")).ToList();
        Console.WriteLine("online: " + string.Join(", ", names));
        Check(names.Contains(peer) && names.Contains("cs-alice") && names.Any(n => n.StartsWith("127.0.0.1:", StringComparison.Ordinal)), "the roster lists us, the peer and the device");

        Step("say to all");
        Task<Message> reply = client.WaitForAsync("message", m => m["text"] == "hi C#", Long);
        Task<Message> deviceLine = client.WaitForAsync("message", m => m["text"] == "device line", Long);
        Message echo = await client.SayAsync("hello from C#");
        Check(echo["from"] == "cs-alice" && echo.Body.GetLong("id").HasValue && echo["transport"] == "tcp", "say returns the server's copy");
        Check((await reply)["from"] == peer, "the peer's answer arrives");
        Check((await deviceLine)["from"].StartsWith("127.0.0.1:", StringComparison.Ordinal), "the device's line arrives, from its address");

        Step("send to one");
        Task<Message> privateReply = client.WaitForAsync("private", m => m["text"] == "psst back", Long);
        Message mine = await client.PrivateAsync(peer, "psst from C#");
        Check(mine["to"] == peer && mine["from"] == "cs-alice", "private returns our copy");
        Check((await privateReply)["from"] == peer, "the peer answers privately");

        Step("send a file");
        byte[] content = Enumerable.Range(0, 100000).Select(i => (byte)(i * 7 % 251)).ToArray();
        var sent = new List<long>();
        Task<Message> fileFromPeer = client.WaitForAsync("file", m => m["name"] == "from-node.txt", Long);
        Message offered = await client.SendFileAsync(new MemoryStream(content), content.Length, new FileSendOptions { Name = "from-csharp.bin", Progress = (done, total) => sent.Add(done) });
        string digest;
        using (var sha = SHA256.Create()) digest = Hex(sha.ComputeHash(content));
        Check(offered["sha256"] == digest && offered.Body.GetLong("size") == content.Length, "send file returns the confirmed checksum");
        Check(sent.SequenceEqual(new long[] { 65536, 100000 }), "file progress after each 64 KiB chunk (got " + string.Join(",", sent) + ")");
        Message received = await fileFromPeer;
        Check(Encoding.UTF8.GetString(received.Data) == "file from node" && received["from"] == peer && received["to"] == "cs-alice", "a private file from the peer arrives whole");
        Check(progress.Count > 0 && progress.Last() == received.Data.Length, "receive progress reports the bytes");

        Step("history");
        Message history = await client.HistoryAsync(new HistoryQuery { Room = "lobby", Limit = 50 });
        var texts = history.Body.GetArray("entries").OfType<JsonObject>().Select(e => e.GetString("text")).ToList();
        Check(texts.Contains("hello from C#") && texts.Contains("hi C#"), "history holds the chat");
        Check(client.LastId.HasValue && client.LastId >= echo.Body.GetLong("id"), "the last id seen is tracked");

        Step("rooms");
        JoinReply joined = await client.JoinAsync("cs-room");
        Check(joined.Roster["room"] == "cs-room" && client.Room == "cs-room" && client.Rooms.SequenceEqual(new[] { "lobby", "cs-room" }), "join makes the room current");
        Check((await client.ListRoomsAsync()).Any(r => r.GetString("name") == "cs-room" && r.GetLong("members") == 1), "the room list shows the new room");
        Check((await client.SayAsync("in my room"))["room"] == "cs-room", "say goes to the current room");
        Message left = await client.LeaveAsync("cs-room");
        Check(left["reason"] == "left" && client.Room == "lobby", "leave returns our presence and lobby is current again");

        Step("errors");
        string code = "none";
        try { await client.PrivateAsync("nobody-here", "hello?"); }
        catch (SwitchboardException error) { code = error.Code; }
        Check(code == "NO_SUCH_MEMBER", "a private message to nobody is NO_SUCH_MEMBER (got " + code + ")");
        code = "none";
        try { await new SwitchboardClient("127.0.0.1", port).ConnectAsync(new ConnectOptions { Name = peer.ToUpperInvariant() }); }
        catch (SwitchboardException error) { code = error.Code; }
        Check(code == "NAME_TAKEN", "a taken name is NAME_TAKEN (got " + code + ")");
        code = "none";
        try { await client.SendFileAsync(new MemoryStream(), 60L * 1024 * 1024, new FileSendOptions { Name = "huge.bin" }); }
        catch (SwitchboardException error) { code = error.Code; }
        Check(code == "FILE_TOO_LARGE", "a file over the limit is refused on its offer, before any data is read (got " + code + ")");

        Step("sign in");
        foreach (string password in new[] { null, "wrong horse" })
        {
            code = "none";
            try { await new SwitchboardClient("127.0.0.1", port).ConnectAsync(new ConnectOptions { Name = "cs-member", Password = password, Room = "members" }); }
            catch (SwitchboardException error) { code = error.Code; }
            Check(code == (password == null ? "AUTH_REQUIRED" : "AUTH_FAILED"), "a registered name without its password is refused (got " + code + ")");
        }
        var member = new SwitchboardClient("127.0.0.1", port);
        Message signedIn = await member.ConnectAsync(new ConnectOptions { Name = "cs-member", Password = "correct horse", Room = "members" });
        Check(signedIn.Body.GetBool("account") && member.Name == "cs-member" && member.Room == "members", "the right password signs in to the account");
        await member.CloseAsync();

        Step("reconnect");
        var histories = new List<Message>();
        client.MessageReceived += (sender, e) => { if (e.Message.Type == "history") lock (histories) histories.Add(e.Message); };
        await client.CloseAsync();
        Check(!client.IsOpen, "closed");
        Message again = await client.ReconnectAsync();
        Check(again["name"] == "cs-alice" && client.Name == "cs-alice" && client.Token == again["token"], "reconnect resumes with the newest token");
        Message missed = null;
        for (int i = 0; i < 200 && missed == null; i++)
        {
            lock (histories) missed = histories.FirstOrDefault(h => h.Ref == again.Ref);
            if (missed == null) await Task.Delay(50);
        }
        // Nothing was said while we were away: with since, lobby's first history is empty
        // (without it, it would be the chat above).
        Check(missed != null && missed.Body.GetArray("entries").Count == 0, "the first history after a reconnect holds only what was missed");
        await client.SayAsync("back again");
        await client.CloseAsync();
    }

    /// <summary>On a gateway that pings after 400 ms of silence and drops 400 ms later, a client
    /// that says nothing for 2 s is still there only because it answered the pings.</summary>
    static async Task Heartbeat(int port)
    {
        var client = new SwitchboardClient("127.0.0.1", port);
        Message welcome = await client.ConnectAsync(new ConnectOptions { Name = "cs-quiet" });
        Check(welcome.Body.GetLong("heartbeatMs") == 400, "the gateway announces its heartbeat");
        SwitchboardException closed = null;
        client.Closed += (sender, e) => closed = e.Reason;
        await Task.Delay(2000);
        Check(client.IsOpen && closed == null, "still connected after 2 s of silence (closed: " + (closed == null ? "no" : closed.Code) + ")");
        await client.PingAsync();
        await client.CloseAsync();
    }

    /// <summary>
    /// On a gateway whose ids are taken per room (lobby, the busy room, far ahead of cs-quiet),
    /// a client in both rooms drops, both rooms talk, and the reconnect brings exactly what each
    /// said: each room read from its own last id, where one highest id would find nothing in cs-quiet.
    /// </summary>
    static async Task Rooms(int port)
    {
        var talker = new SwitchboardClient("127.0.0.1", port);
        await talker.ConnectAsync(new ConnectOptions { Name = "cs-talker" });
        await talker.JoinAsync("cs-quiet");
        for (int i = 0; i < 5; i++) await talker.SayAsync("lobby early " + i, "lobby");
        var client = new SwitchboardClient("127.0.0.1", port);
        await client.ConnectAsync(new ConnectOptions { Name = "cs-resumer" });
        await client.JoinAsync("cs-quiet");
        long quietSeen = (await talker.SayAsync("quiet seen", "cs-quiet")).Body.GetLong("id") ?? 0;
        long lobbySeen = (await talker.SayAsync("lobby seen", "lobby")).Body.GetLong("id") ?? 0;
        for (int i = 0; i < 200 && client.LastIds.Count < 2; i++) await Task.Delay(50);
        for (int i = 0; i < 200 && client.LastIds.Values.Max() < lobbySeen; i++) await Task.Delay(50);
        IDictionary<string, long> seen = client.LastIds;
        long got;
        Check(seen.Count == 2 && seen.TryGetValue("lobby", out got) && got == lobbySeen && seen.TryGetValue("cs-quiet", out got) && got == quietSeen,
            "LastIds keeps each room's own last id (got " + string.Join(", ", seen.Select(p => p.Key + "=" + p.Value)) + ")");
        Check(lobbySeen > quietSeen && client.LastId == lobbySeen, "lobby's ids run ahead of cs-quiet's; LastId is the highest");
        await client.CloseAsync();
        foreach (string text in new[] { "quiet missed 1", "quiet missed 2" }) await talker.SayAsync(text, "cs-quiet");
        await talker.SayAsync("lobby missed", "lobby");
        await client.ReconnectAsync();
        Check(client.Rooms.SequenceEqual(new[] { "lobby", "cs-quiet" }), "reconnect joins both rooms again");
        Func<string, string> missed = room =>
        {
            List<JsonObject> entries;
            return client.Missed != null && client.Missed.TryGetValue(room, out entries) ? string.Join("|", entries.Select(e => e.GetString("text"))) : "(none)";
        };
        Check(missed("lobby") == "lobby missed", "lobby's missed messages (got " + missed("lobby") + ")");
        Check(missed("cs-quiet") == "quiet missed 1|quiet missed 2", "cs-quiet's missed messages, read from its own last id (got " + missed("cs-quiet") + ")");
        await client.CloseAsync();
        await talker.CloseAsync();
    }
}
