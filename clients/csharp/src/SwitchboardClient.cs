// A Switchboard member over TCP: hello and welcome, rooms, messages, private messages, files,
// history, heartbeats and reconnects with the resume token (PROTOCOL.md).
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Switchboard.Client
{
    /// <summary>
    /// A connection to a Switchboard gateway. Add handlers, then <see cref="ConnectAsync"/>.
    /// Every server frame is raised as <see cref="MessageReceived"/> (on a pool thread: a
    /// WinForms handler marshals with <c>Control.BeginInvoke</c>); replies to your own requests
    /// too, carrying your ref. Requests return the reply that carries their ref, or throw the
    /// <see cref="SwitchboardException"/> the server answered with. The server's pings are
    /// answered at once. A file sent to you is raised once, complete and checksummed, as a
    /// message of type <c>file</c> (the offer's fields, the bytes in Data).
    /// </summary>
    public sealed class SwitchboardClient : IDisposable
    {
        public const int ProtocolVersion = 1;
        /// <summary>Bytes of file data per file-data frame, as Switchboard's own clients send.</summary>
        public const int FileChunkBytes = 64 * 1024;
        const int GracefulCloseMs = 2000;
        static readonly string[] RetriableCodes = { "CONNECT_FAILED", "CLOSED", "TIMEOUT", "CLUSTER_UNAVAILABLE" };

        readonly object gate = new object();
        readonly SemaphoreSlim writeLock = new SemaphoreSlim(1, 1);
        readonly Dictionary<string, PendingRequest> requests = new Dictionary<string, PendingRequest>();
        readonly Dictionary<string, PendingRequest> pings = new Dictionary<string, PendingRequest>();
        readonly Dictionary<uint, IncomingFile> incoming = new Dictionary<uint, IncomingFile>();
        readonly Dictionary<uint, PendingRequest> sending = new Dictionary<uint, PendingRequest>();
        readonly List<Waiter> waiters = new List<Waiter>();
        readonly List<string> rooms = new List<string>();
        TcpClient tcp;
        NetworkStream stream;
        Task reader = Task.FromResult(0);
        FrameDecoder decoder = new FrameDecoder();
        int generation;
        int refs;
        uint transfers;
        bool open;
        bool closing;
        bool usesHello = true;

        public SwitchboardClient(string host = "127.0.0.1", int port = 9000)
        {
            Host = host;
            Port = port;
            ConnectTimeoutMs = 10000;
            RequestTimeoutMs = 30000;
        }

        public string Host { get; private set; }
        public int Port { get; private set; }
        public int ConnectTimeoutMs { get; set; }
        public int RequestTimeoutMs { get; set; }

        /// <summary>Every frame the server sends (but pings, pongs and file chunks), and received files.</summary>
        public event EventHandler<MessageEventArgs> MessageReceived;
        /// <summary>Bytes of a file offered to us received so far.</summary>
        public event EventHandler<FileProgressEventArgs> FileProgress;
        /// <summary>The connection ended.</summary>
        public event EventHandler<ClosedEventArgs> Closed;

        public string Name { get; private set; }
        /// <summary>The connection id from welcome (the REST API's client id).</summary>
        public string Id { get; private set; }
        /// <summary>The resume token of the newest welcome (it may change on every hello).</summary>
        public string Token { get; private set; }
        public Message Welcome { get; private set; }
        /// <summary>The highest message id seen: what a reconnect asks for with since.</summary>
        public long? LastId { get; private set; }
        public bool IsOpen { get { return open; } }
        /// <summary>Why the connection ended, once it has.</summary>
        public SwitchboardException CloseReason { get; private set; }

        /// <summary>The current room: where SayAsync without a room goes.</summary>
        public string Room { get { lock (gate) return rooms.Count == 0 ? null : rooms[rooms.Count - 1]; } }

        /// <summary>The rooms we are in, the current one last.</summary>
        public IList<string> Rooms { get { lock (gate) return rooms.ToArray(); } }

        // ---------------------------------------------------------------------------------------
        // Connecting
        // ---------------------------------------------------------------------------------------

        /// <summary>
        /// Connects and says hello; returns the welcome (null for a plain device). A refused hello
        /// throws with the server's code (NAME_TAKEN, AUTH_REQUIRED, AUTH_FAILED…).
        /// </summary>
        public async Task<Message> ConnectAsync(ConnectOptions options = null)
        {
            options = options ?? new ConnectOptions();
            usesHello = options.Hello;
            await OpenAsync().ConfigureAwait(false);
            if (!usesHello) return null;
            return await HelloAsync(HelloBody(options.Name, options.Password, options.Token, options.Room, options.Since)).ConfigureAwait(false);
        }

        /// <summary>
        /// Opens a new connection as the same member: hello with the newest resume token and since
        /// the last id seen (the first history is what was missed), then joins our other rooms
        /// again. Retries <paramref name="attempts"/> times, doubling the delay. Returns the welcome.
        /// </summary>
        public async Task<Message> ReconnectAsync(int attempts = 5, int delayMs = 500)
        {
            await CloseAsync().ConfigureAwait(false);
            if (Token == null) throw new SwitchboardException("NO_TOKEN", "No welcome has given this client a resume token yet.");
            string[] joined;
            lock (gate) joined = rooms.ToArray();
            for (int attempt = 0; ; attempt++)
            {
                SwitchboardException failure = null;
                try
                {
                    await OpenAsync().ConfigureAwait(false);
                    await HelloAsync(HelloBody(null, null, Token, joined.Length > 0 ? joined[0] : null, LastId)).ConfigureAwait(false);
                    break;
                }
                catch (SwitchboardException error) when (attempt < attempts - 1 && Array.IndexOf(RetriableCodes, error.Code) >= 0)
                {
                    failure = error;
                }
                if (failure != null) await Task.Delay(delayMs << attempt).ConfigureAwait(false);
            }
            foreach (string room in joined.Skip(1)) await JoinAsync(room).ConfigureAwait(false);
            return Welcome;
        }

        /// <summary>Half-closes the socket and waits (2 s at most) for the server to close its side. Idempotent.</summary>
        public async Task CloseAsync()
        {
            TcpClient client = tcp;
            Task reading = reader;
            if (client == null) return;
            closing = true;
            try { client.Client.Shutdown(SocketShutdown.Send); }
            catch (Exception) { /* already gone */ }
            if (await Task.WhenAny(reading, Task.Delay(GracefulCloseMs)).ConfigureAwait(false) != reading) client.Close();
            await reading.ConfigureAwait(false);
            client.Close();
            tcp = null;
        }

        /// <summary>Closes at once.</summary>
        public void Dispose()
        {
            closing = true;
            TcpClient client = tcp;
            if (client != null) client.Close();
        }

        // ---------------------------------------------------------------------------------------
        // Chat and requests
        // ---------------------------------------------------------------------------------------

        /// <summary>Says text in room (default: current room); returns the server's copy, the acknowledgement (null for a plain device).</summary>
        public async Task<Message> SayAsync(string text, string room = null)
        {
            if (!usesHello)
            {
                await WriteAsync(FrameCodec.Encode(room == null ? Message.OfText(text) : new Message("message", new JsonObject { { "room", room }, { "text", text } }))).ConfigureAwait(false);
                return null;
            }
            var body = new JsonObject { { "text", text } };
            if (room != null) body["room"] = room;
            return (await CallAsync("message", body, "message").ConfigureAwait(false))[0];
        }

        /// <summary>A private message to the member named to; returns our copy.</summary>
        public async Task<Message> PrivateAsync(string to, string text)
        {
            var body = new JsonObject { { "to", to }, { "text", text } };
            if (!usesHello)
            {
                await WriteAsync(FrameCodec.Encode(new Message("private", body))).ConfigureAwait(false);
                return null;
            }
            return (await CallAsync("private", body, "private").ConfigureAwait(false))[0];
        }

        /// <summary>Joins (or creates) room and makes it current.</summary>
        public async Task<JoinReply> JoinAsync(string room)
        {
            List<Message> replies = await CallAsync("join", new JsonObject { { "room", room } }, "roster", "history").ConfigureAwait(false);
            return new JoinReply { Roster = replies[0], History = replies[1] };
        }

        /// <summary>Leaves room; returns our presence leave.</summary>
        public async Task<Message> LeaveAsync(string room)
        {
            return (await CallAsync("leave", new JsonObject { { "room", room } }, "presence").ConfigureAwait(false))[0];
        }

        /// <summary>Renames us; returns our presence rename (a notice when we are in no room).</summary>
        public async Task<Message> NickAsync(string name)
        {
            return (await CallAsync("nick", new JsonObject { { "name", name } }, "presence|notice").ConfigureAwait(false))[0];
        }

        /// <summary>The server's rooms: objects with name and members.</summary>
        public async Task<List<JsonObject>> ListRoomsAsync()
        {
            Message reply = (await CallAsync("rooms", new JsonObject(), "rooms").ConfigureAwait(false))[0];
            return reply.Body.GetArray("rooms").OfType<JsonObject>().ToList();
        }

        /// <summary>The members of room (default: the current room): objects with id, name, transport, address.</summary>
        public async Task<List<JsonObject>> RosterAsync(string room = null)
        {
            var body = new JsonObject();
            if (room != null) body["room"] = room;
            Message reply = (await CallAsync("roster", body, "roster").ConfigureAwait(false))[0];
            return reply.Body.GetArray("members").OfType<JsonObject>().ToList();
        }

        /// <summary>Stored messages: the history reply (entries, more).</summary>
        public async Task<Message> HistoryAsync(HistoryQuery query = null)
        {
            query = query ?? new HistoryQuery();
            var body = new JsonObject();
            if (query.Room != null) body["room"] = query.Room;
            if (query.With != null) body["with"] = query.With;
            if (query.Private.HasValue) body["private"] = query.Private.Value;
            if (query.Before.HasValue) body["before"] = query.Before.Value;
            if (query.After.HasValue) body["after"] = query.After.Value;
            if (query.Limit.HasValue) body["limit"] = query.Limit.Value;
            return (await CallAsync("history", body, "history").ConfigureAwait(false))[0];
        }

        /// <summary>Pings the server; returns the round trip.</summary>
        public async Task<TimeSpan> PingAsync()
        {
            var clock = Stopwatch.StartNew();
            PendingRequest pending;
            byte[] frame;
            lock (gate)
            {
                string data = "r" + (++refs);
                pending = new PendingRequest("ping", data, new[] { new[] { "pong" } });
                pings[data] = pending;
                frame = FrameCodec.Encode(Message.OfBytes("ping", Encoding.ASCII.GetBytes(data)));
            }
            await WaitAsync(pending, frame, RequestTimeoutMs).ConfigureAwait(false);
            return clock.Elapsed;
        }

        // ---------------------------------------------------------------------------------------
        // Files
        // ---------------------------------------------------------------------------------------

        /// <summary>Sends the file at path; see <see cref="SendFileAsync(Stream, long, FileSendOptions)"/>.</summary>
        public async Task<Message> SendFileAsync(string path, FileSendOptions options = null)
        {
            options = options ?? new FileSendOptions();
            if (options.Name == null) options.Name = Path.GetFileName(path);
            using (var file = File.OpenRead(path))
            {
                return await SendFileAsync(file, file.Length, options).ConfigureAwait(false);
            }
        }

        /// <summary>
        /// Sends size bytes read from source: file-offer first, and only once the server has
        /// echoed it (so a refusal such as FILE_TOO_LARGE costs no data) file-data chunks, hashed
        /// on the way, then file-end with the SHA-256. Returns the server's offer once the server
        /// confirms that the file arrived whole; throws its FILE_* error otherwise.
        /// </summary>
        public async Task<Message> SendFileAsync(Stream source, long size, FileSendOptions options = null)
        {
            options = options ?? new FileSendOptions();
            uint transfer;
            lock (gate) transfer = transfers = transfers % uint.MaxValue + 1;
            var offer = new JsonObject { { "transfer", transfer }, { "name", options.Name ?? "data.bin" }, { "size", size } };
            if (options.Mime != null) offer["mime"] = options.Mime;
            if (options.Room != null) offer["room"] = options.Room;
            if (options.To != null) offer["to"] = options.To;
            Message echo = (await CallAsync("file-offer", offer, "file-offer").ConfigureAwait(false))[0];
            PendingRequest end;
            lock (gate)
            {
                end = Register("file-end", new[] { new[] { "file-end" } });
                sending[transfer] = end;
            }
            try
            {
                using (var sha = SHA256.Create())
                {
                    var chunk = new byte[Math.Max(1, options.ChunkSize)];
                    long sent = 0;
                    while (sent < size)
                    {
                        int count = await source.ReadAsync(chunk, 0, (int)Math.Min(chunk.Length, size - sent)).ConfigureAwait(false);
                        if (count == 0) throw new SwitchboardException("FILE_SIZE_MISMATCH", "The source ended after " + sent + " of " + size + " bytes.");
                        if (end.Done) await end.Task.ConfigureAwait(false);
                        var data = new byte[count];
                        Buffer.BlockCopy(chunk, 0, data, 0, count);
                        await WriteAsync(FrameCodec.Encode(Message.OfFileData(transfer, data))).ConfigureAwait(false);
                        sha.TransformBlock(data, 0, count, null, 0);
                        sent += count;
                        if (options.Progress != null) options.Progress(sent, size);
                    }
                    sha.TransformFinalBlock(new byte[0], 0, 0);
                    string digest = Hex(sha.Hash);
                    var endBody = new JsonObject { { "transfer", transfer }, { "sha256", digest }, { "ref", end.Ref } };
                    await WaitAsync(end, FrameCodec.Encode(new Message("file-end", endBody)), RequestTimeoutMs).ConfigureAwait(false);
                    echo.Body["sha256"] = digest;
                    return echo;
                }
            }
            finally
            {
                lock (gate)
                {
                    sending.Remove(transfer);
                    requests.Remove(end.Ref);
                }
                end.Fail(new SwitchboardException("FILE_ABORTED", "The transfer was abandoned."));
            }
        }

        // ---------------------------------------------------------------------------------------
        // Waiting
        // ---------------------------------------------------------------------------------------

        /// <summary>
        /// The next message of type (arriving after this call) that satisfies predicate. Throws
        /// TIMEOUT after timeoutMs, CLOSED when the connection ends first. Start waiting before
        /// you act, then await.
        /// </summary>
        public async Task<Message> WaitForAsync(string type, Func<Message, bool> predicate = null, int timeoutMs = 5000)
        {
            var waiter = new Waiter { Type = type, Predicate = predicate };
            lock (gate)
            {
                if (!open) throw CloseReason ?? new SwitchboardException("CLOSED", "The connection is closed.");
                waiters.Add(waiter);
            }
            Task done = await Task.WhenAny(waiter.Completion.Task, Task.Delay(timeoutMs)).ConfigureAwait(false);
            lock (gate) waiters.Remove(waiter);
            if (done != waiter.Completion.Task) throw new SwitchboardException("TIMEOUT", "No \"" + type + "\" within " + timeoutMs + " ms.");
            return await waiter.Completion.Task.ConfigureAwait(false);
        }

        // ---------------------------------------------------------------------------------------
        // Internals: the connection
        // ---------------------------------------------------------------------------------------

        async Task OpenAsync()
        {
            var client = new TcpClient { NoDelay = true };
            try
            {
                Task connecting = client.ConnectAsync(Host, Port);
                if (await Task.WhenAny(connecting, Task.Delay(ConnectTimeoutMs)).ConfigureAwait(false) != connecting)
                    throw new TimeoutException("no connection within " + ConnectTimeoutMs + " ms");
                await connecting.ConfigureAwait(false);
            }
            catch (Exception error) when (error is SocketException || error is TimeoutException || error is IOException)
            {
                client.Close();
                throw new SwitchboardException("CONNECT_FAILED", "cannot connect to " + Host + ":" + Port + ": " + error.Message, inner: error);
            }
            int current;
            lock (gate)
            {
                current = ++generation;
                tcp = client;
                stream = client.GetStream();
                decoder = new FrameDecoder();
                CloseReason = null;
                open = true;
                closing = false;
            }
            NetworkStream reading = stream;
            reader = Task.Run(() => ReadLoopAsync(reading, current));
        }

        async Task<Message> HelloAsync(JsonObject hello)
        {
            PendingRequest pending;
            byte[] frame;
            lock (gate)
            {
                pending = Register("hello", new[] { new[] { "welcome" } });
                hello["ref"] = pending.Ref;
                frame = FrameCodec.Encode(new Message("hello", hello));
            }
            try
            {
                return (await WaitAsync(pending, frame, ConnectTimeoutMs).ConfigureAwait(false))[0];
            }
            catch (SwitchboardException)
            {
                await CloseAsync().ConfigureAwait(false);
                throw;
            }
        }

        static JsonObject HelloBody(string name, string password, string token, string room, long? since)
        {
            var body = new JsonObject { { "v", ProtocolVersion } };
            if (name != null) body["name"] = name;
            if (room != null) body["room"] = room;
            if (since.HasValue) body["since"] = since.Value;
            if (password != null) body["password"] = password;
            if (token != null) body["token"] = token;
            return body;
        }

        async Task ReadLoopAsync(NetworkStream source, int current)
        {
            var buffer = new byte[65536];
            SwitchboardException reason = null;
            try
            {
                while (true)
                {
                    int count = await source.ReadAsync(buffer, 0, buffer.Length).ConfigureAwait(false);
                    if (count == 0) break;
                    Batch batch;
                    lock (gate) batch = Receive(buffer, count);
                    foreach (byte[] reply in batch.Replies) await WriteAsync(reply).ConfigureAwait(false);
                    foreach (FileProgressEventArgs progress in batch.Progress) Raise(FileProgress, progress);
                    foreach (Message message in batch.Events)
                    {
                        Raise(MessageReceived, new MessageEventArgs(message));
                        // After the handlers: a waiter that resumes sees what they did.
                        lock (gate) Notify(message);
                    }
                }
            }
            catch (SwitchboardException error) when (!error.FromServer && error.Code.StartsWith("FRAME_", StringComparison.Ordinal))
            {
                reason = error;
            }
            catch (Exception error)
            {
                if (!closing) reason = new SwitchboardException("CLOSED", "The connection failed: " + error.Message, inner: error);
            }
            SwitchboardException why;
            lock (gate)
            {
                if (reason != null && CloseReason == null) CloseReason = reason;
                why = CloseReason ?? new SwitchboardException("CLOSED", "The connection is closed.");
                if (current == generation) open = false;
                foreach (PendingRequest pending in requests.Values.Concat(pings.Values).ToList()) pending.Fail(why);
                requests.Clear();
                pings.Clear();
                incoming.Clear();
                sending.Clear();
                foreach (Waiter waiter in waiters) waiter.Completion.TrySetException(why);
                waiters.Clear();
            }
            try { source.Close(); }
            catch (Exception) { /* already closed */ }
            Raise(Closed, new ClosedEventArgs(why));
        }

        void Raise<T>(EventHandler<T> handler, T args) where T : EventArgs
        {
            if (handler == null) return;
            try { handler(this, args); }
            catch (Exception error)
            {
                // A failing handler must not end the connection for everyone else's frames.
                Trace.TraceError("Switchboard event handler failed: " + error);
            }
        }

        async Task<List<Message>> CallAsync(string type, JsonObject body, params string[] expects)
        {
            PendingRequest pending;
            byte[] frame;
            lock (gate)
            {
                pending = Register(type, expects.Select(e => e.Split('|')).ToArray());
                body["ref"] = pending.Ref;
                frame = FrameCodec.Encode(new Message(type, body));
            }
            return await WaitAsync(pending, frame, RequestTimeoutMs).ConfigureAwait(false);
        }

        PendingRequest Register(string kind, string[][] expects)
        {
            var pending = new PendingRequest(kind, "r" + (++refs), expects);
            requests[pending.Ref] = pending;
            return pending;
        }

        async Task<List<Message>> WaitAsync(PendingRequest pending, byte[] frame, int timeoutMs)
        {
            try
            {
                await WriteAsync(frame).ConfigureAwait(false);
            }
            catch (SwitchboardException error)
            {
                pending.Fail(error);
            }
            if (await Task.WhenAny(pending.Task, Task.Delay(timeoutMs)).ConfigureAwait(false) != pending.Task)
                pending.Fail(new SwitchboardException("TIMEOUT", "No answer to " + pending.Kind + " within " + timeoutMs + " ms."));
            lock (gate)
            {
                requests.Remove(pending.Ref);
                pings.Remove(pending.Ref);
            }
            return await pending.Task.ConfigureAwait(false);
        }

        async Task WriteAsync(byte[] frame)
        {
            NetworkStream target = stream;
            if (target == null || !open) throw CloseReason ?? new SwitchboardException("CLOSED", "The connection is closed.");
            await writeLock.WaitAsync().ConfigureAwait(false);
            try
            {
                await target.WriteAsync(frame, 0, frame.Length).ConfigureAwait(false);
            }
            catch (Exception error) when (error is IOException || error is ObjectDisposedException || error is SocketException)
            {
                throw new SwitchboardException("CLOSED", "The connection failed: " + error.Message, inner: error);
            }
            finally
            {
                writeLock.Release();
            }
        }

        // ---------------------------------------------------------------------------------------
        // Internals: what frames mean (called under the gate)
        // ---------------------------------------------------------------------------------------

        Batch Receive(byte[] data, int count)
        {
            var batch = new Batch();
            foreach (Frame frame in decoder.Feed(data, 0, count))
            {
                Message message;
                try { message = FrameCodec.Decode(frame.Type, frame.Payload); }
                catch (SwitchboardException) { continue; } // skipped by length, like an unknown type
                if (message != null) Dispatch(message, batch);
            }
            return batch;
        }

        void Dispatch(Message message, Batch batch)
        {
            switch (message.Type)
            {
                case "ping":
                    batch.Replies.Add(FrameCodec.Encode(Message.OfBytes("pong", message.Data)));
                    return;
                case "pong":
                    PendingRequest ping;
                    if (pings.TryGetValue(Encoding.ASCII.GetString(message.Data), out ping) && ping.Take(message)) pings.Remove(ping.Ref);
                    return;
                case "file-data":
                    OnFileData(message, batch);
                    return;
                case "file-end":
                    if (message.Ref == null)
                    {
                        OnFileEnd(message, batch);
                        return;
                    }
                    break;
                case "file-offer":
                    if (message.Ref == null) incoming[(uint)(message.Body.GetLong("transfer") ?? 0)] = new IncomingFile(message);
                    break;
                case "file-abort":
                    incoming.Remove((uint)(message.Body.GetLong("transfer") ?? 0));
                    break;
                case "error":
                    OnError(message);
                    break;
            }
            Track(message);
            PendingRequest pending;
            if (message.Type != "error" && message.Ref != null && requests.TryGetValue(message.Ref, out pending) && pending.Take(message) && pending.Done)
            {
                requests.Remove(pending.Ref);
                if (pending.Kind == "join") Entered(message.Body.GetString("room"));
            }
            Deliver(message, batch);
        }

        void Deliver(Message message, Batch batch) { batch.Events.Add(message); }

        void Notify(Message message)
        {
            foreach (Waiter waiter in waiters)
            {
                if (waiter.Type != message.Type || waiter.Completion.Task.IsCompleted) continue;
                bool matches;
                try { matches = waiter.Predicate == null || waiter.Predicate(message); }
                catch (Exception) { matches = false; }
                if (matches) waiter.Completion.TrySetResult(message);
            }
        }

        void Track(Message message)
        {
            JsonObject body = message.Body;
            switch (message.Type)
            {
                case "welcome":
                    Welcome = message;
                    Name = body.GetString("name") ?? Name;
                    Id = body.GetString("id") ?? Id;
                    rooms.Clear();
                    rooms.AddRange(body.GetArray("rooms").OfType<string>());
                    if (body.GetString("room") != null) Entered(body.GetString("room"));
                    if (body.GetString("token") != null) Token = body.GetString("token");
                    long? limit = body.GetLong("maxFrameLength");
                    if (limit.HasValue && limit.Value > decoder.MaxFrameLength) decoder.MaxFrameLength = (int)limit.Value;
                    break;
                case "presence":
                    JsonObject member = body.GetObject("member");
                    if (member == null || Id == null || member.GetString("id") != Id) break;
                    string room = body.GetString("room");
                    string presence = body.GetString("event");
                    if (presence == "join") Entered(room);
                    else if (presence == "leave") rooms.Remove(room);
                    else if (presence == "rename") Name = member.GetString("name") ?? Name;
                    break;
                case "notice":
                    // The reason we are being disconnected: KICKED, SESSION_REPLACED, SERVER_SHUTTING_DOWN.
                    if (body.GetString("code") != null) CloseReason = new SwitchboardException(body.GetString("code"), body.GetString("text") ?? "") { FromServer = true };
                    break;
                case "message":
                case "private":
                case "file-offer":
                    SawId(body.GetLong("id"));
                    break;
                case "history":
                    foreach (JsonObject entry in body.GetArray("entries").OfType<JsonObject>()) SawId(entry.GetLong("id"));
                    break;
            }
        }

        void SawId(long? id)
        {
            if (id.HasValue && (!LastId.HasValue || id.Value > LastId.Value)) LastId = id;
        }

        void Entered(string room)
        {
            if (room == null) return;
            rooms.Remove(room);
            rooms.Add(room);
        }

        void OnError(Message message)
        {
            SwitchboardException error = SwitchboardException.FromFrame(message);
            if (error.Fatal) CloseReason = error;
            PendingRequest pending;
            if (message.Ref != null && requests.TryGetValue(message.Ref, out pending))
            {
                requests.Remove(message.Ref);
                pending.Fail(error);
                return;
            }
            // No ref: file-data caused it (it carries none), or the connection was refused before
            // a hello could be read (BANNED, TOO_MANY_CONNECTIONS). Fail what it can concern.
            if (error.Code.StartsWith("FILE_", StringComparison.Ordinal) || error.Code == "TOO_MANY_TRANSFERS")
                foreach (PendingRequest send in sending.Values) send.Fail(error);
            foreach (PendingRequest hello in requests.Values.Where(r => r.Kind == "hello").ToList())
            {
                requests.Remove(hello.Ref);
                hello.Fail(error);
            }
        }

        void OnFileData(Message message, Batch batch)
        {
            IncomingFile file;
            if (!incoming.TryGetValue(message.Transfer, out file)) return;
            file.Add(message.Data);
            long size = file.Offer.Body.GetLong("size") ?? 0;
            if (file.Received > size)
            {
                incoming.Remove(message.Transfer);
                Deliver(LocalAbort(file.Offer, "FILE_SIZE_MISMATCH", "More than the announced " + size + " bytes arrived."), batch);
                return;
            }
            batch.Progress.Add(new FileProgressEventArgs(file.Offer, file.Received));
        }

        void OnFileEnd(Message message, Batch batch)
        {
            uint transfer = (uint)(message.Body.GetLong("transfer") ?? 0);
            IncomingFile file;
            if (!incoming.TryGetValue(transfer, out file)) return;
            incoming.Remove(transfer);
            long size = file.Offer.Body.GetLong("size") ?? 0;
            string digest = file.Finish();
            if (file.Received != size)
                Deliver(LocalAbort(file.Offer, "FILE_SIZE_MISMATCH", "Received " + file.Received + " of the announced " + size + " bytes."), batch);
            else if (!string.Equals(digest, message.Body.GetString("sha256"), StringComparison.OrdinalIgnoreCase))
                Deliver(LocalAbort(file.Offer, "FILE_CHECKSUM_MISMATCH", "The bytes received hash to " + digest + ", not " + message.Body.GetString("sha256") + "."), batch);
            else
            {
                var body = new JsonObject();
                foreach (var pair in file.Offer.Body) body[pair.Key] = pair.Value;
                body["sha256"] = digest;
                Deliver(new Message("file", body) { Data = file.Bytes, Transfer = transfer }, batch);
            }
        }

        static Message LocalAbort(Message offer, string code, string reason)
        {
            return new Message("file-abort", new JsonObject { { "transfer", offer.Body.GetLong("transfer") }, { "code", code }, { "reason", reason }, { "local", true } });
        }

        internal static string Hex(byte[] bytes)
        {
            var text = new StringBuilder(bytes.Length * 2);
            foreach (byte b in bytes) text.Append(b.ToString("x2"));
            return text.ToString();
        }

        sealed class Batch
        {
            public readonly List<Message> Events = new List<Message>();
            public readonly List<byte[]> Replies = new List<byte[]>();
            public readonly List<FileProgressEventArgs> Progress = new List<FileProgressEventArgs>();
        }

        sealed class Waiter
        {
            public string Type;
            public Func<Message, bool> Predicate;
            public readonly TaskCompletionSource<Message> Completion = new TaskCompletionSource<Message>(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        /// <summary>A file offered to us, collected in memory until its file-end.</summary>
        sealed class IncomingFile
        {
            readonly MemoryStream data = new MemoryStream();
            readonly SHA256 sha = SHA256.Create();

            public IncomingFile(Message offer) { Offer = offer; }

            public Message Offer { get; private set; }
            public long Received { get { return data.Length; } }
            public byte[] Bytes { get { return data.ToArray(); } }

            public void Add(byte[] chunk)
            {
                data.Write(chunk, 0, chunk.Length);
                sha.TransformBlock(chunk, 0, chunk.Length, null, 0);
            }

            public string Finish()
            {
                sha.TransformFinalBlock(new byte[0], 0, 0);
                string digest = Hex(sha.Hash);
                sha.Dispose();
                return digest;
            }
        }
    }
}
