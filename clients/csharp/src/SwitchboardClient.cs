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
    public sealed partial class SwitchboardClient : IDisposable
    {
        public const int ProtocolVersion = 1;
        /// <summary>Bytes of file data per file-data frame, as Switchboard's own clients send.</summary>
        public const int FileChunkBytes = 64 * 1024;
        const int GracefulCloseMs = 2000;
        static readonly string[] RetriableCodes = { "CONNECT_FAILED", "CLOSED", "TIMEOUT", "CLUSTER_UNAVAILABLE" };

        readonly object gate = new object();
        readonly SemaphoreSlim writeLock = new SemaphoreSlim(1, 1);
        readonly Dictionary<string, PendingRequest> requests = new Dictionary<string, PendingRequest>();
        readonly Dictionary<string, long> lastIds = new Dictionary<string, long>();
        /// <summary>Entries per history request while catching a room up (the server's most).</summary>
        const int CatchUpPage = 500;
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
        /// <summary>
        /// The highest id seen in any room or private message. Deprecated: ids of two rooms do not
        /// compare on a gateway cluster that takes them per room (PROTOCOL.md §6); use LastIds.
        /// </summary>
        public long? LastId { get; private set; }

        /// <summary>
        /// Room → the highest message id seen there. Ids increase within one room only, so
        /// ReconnectAsync resumes each room from its own, never from one number for all of them.
        /// </summary>
        public IDictionary<string, long> LastIds { get { lock (gate) return new Dictionary<string, long>(lastIds); } }

        /// <summary>What each room said while we were away, as the last ReconnectAsync read it: room → entries, oldest first.</summary>
        public IDictionary<string, List<JsonObject>> Missed { get; private set; }
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
        /// the first room's own last id (its first history is what it missed), then joins our other
        /// rooms again and reads what each said after its own last id into Missed. Retries
        /// <paramref name="attempts"/> times, doubling the delay. Returns the welcome.
        /// </summary>
        public async Task<Message> ReconnectAsync(int attempts = 5, int delayMs = 500)
        {
            await CloseAsync().ConfigureAwait(false);
            if (Token == null) throw new SwitchboardException("NO_TOKEN", "No welcome has given this client a resume token yet.");
            string[] joined;
            var saved = new Dictionary<string, long>();
            lock (gate)
            {
                joined = rooms.ToArray();
                foreach (string room in joined)
                {
                    long last;
                    if (lastIds.TryGetValue(room, out last)) saved[room] = last;
                }
            }
            long since;
            long? first = joined.Length > 0 && saved.TryGetValue(joined[0], out since) ? since : (long?)null;
            for (int attempt = 0; ; attempt++)
            {
                SwitchboardException failure = null;
                try
                {
                    await OpenAsync().ConfigureAwait(false);
                    await HelloAsync(HelloBody(null, null, Token, joined.Length > 0 ? joined[0] : null, first)).ConfigureAwait(false);
                    break;
                }
                catch (SwitchboardException error) when (attempt < attempts - 1 && Array.IndexOf(RetriableCodes, error.Code) >= 0)
                {
                    failure = error;
                }
                if (failure != null) await Task.Delay(delayMs << attempt).ConfigureAwait(false);
            }
            foreach (string room in joined.Skip(1)) await JoinAsync(room).ConfigureAwait(false);
            Missed = await CatchUpAsync(saved).ConfigureAwait(false);
            return Welcome;
        }

        /// <summary>
        /// What each room said after its own id in <paramref name="lastIds"/> (room → id, as LastIds
        /// gave it): joins the rooms we are not in, then reads history {room, after} page by page.
        /// Returns room → the missed entries, oldest first.
        /// </summary>
        public async Task<IDictionary<string, List<JsonObject>>> CatchUpAsync(IDictionary<string, long> lastIds)
        {
            var missed = new Dictionary<string, List<JsonObject>>();
            foreach (KeyValuePair<string, long> room in lastIds)
            {
                if (!Rooms.Contains(room.Key)) await JoinAsync(room.Key).ConfigureAwait(false);
                var entries = new List<JsonObject>();
                long after = room.Value;
                for (;;)
                {
                    Message page = await HistoryAsync(new HistoryQuery { Room = room.Key, After = after, Limit = CatchUpPage }).ConfigureAwait(false);
                    List<JsonObject> got = page.Body.GetArray("entries").OfType<JsonObject>().ToList();
                    entries.AddRange(got);
                    if (!page.Body.GetBool("more") || got.Count == 0) break;
                    after = got[got.Count - 1].GetLong("id") ?? after;
                }
                missed[room.Key] = entries;
            }
            return missed;
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
            if (!await CompletesWithin(reading, GracefulCloseMs).ConfigureAwait(false)) client.Close();
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
            // A copy, so options reused for several files do not keep the first file's name.
            var named = new FileSendOptions { Name = options.Name ?? Path.GetFileName(path), Mime = options.Mime, Room = options.Room, To = options.To, Progress = options.Progress, ChunkSize = options.ChunkSize };
            using (var file = File.OpenRead(path))
            {
                return await SendFileAsync(file, file.Length, named).ConfigureAwait(false);
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
            bool arrived = await CompletesWithin(waiter.Completion.Task, timeoutMs).ConfigureAwait(false);
            lock (gate) waiters.Remove(waiter);
            if (!arrived) throw new SwitchboardException("TIMEOUT", "No \"" + type + "\" within " + timeoutMs + " ms.");
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
                if (!await CompletesWithin(connecting, ConnectTimeoutMs).ConfigureAwait(false))
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
            if (!await CompletesWithin(pending.Task, timeoutMs).ConfigureAwait(false))
                pending.Fail(new SwitchboardException("TIMEOUT", "No answer to " + pending.Kind + " within " + timeoutMs + " ms."));
            lock (gate)
            {
                requests.Remove(pending.Ref);
                pings.Remove(pending.Ref);
            }
            return await pending.Task.ConfigureAwait(false);
        }

        /// <summary>
        /// Whether task completes within timeoutMs. The timer is cancelled as soon as it is not
        /// needed: Mono's timer thread can fail at process exit while timers are still pending.
        /// </summary>
        static async Task<bool> CompletesWithin(Task task, int timeoutMs)
        {
            using (var cancel = new CancellationTokenSource())
            {
                Task timeout = Task.Delay(timeoutMs, cancel.Token);
                Task first = await Task.WhenAny(task, timeout).ConfigureAwait(false);
                cancel.Cancel();
                return first == task;
            }
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
    }
}
