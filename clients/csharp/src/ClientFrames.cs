// What the server's frames mean to the client: identity and rooms from welcome and presence,
// replies matched to requests by ref, error frames, files coming in (PROTOCOL.md sections 3-9).
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Tasks;

namespace Switchboard.Client
{
    public sealed partial class SwitchboardClient
    {
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
                    SawId(body, message.Type);
                    break;
                case "history":
                    foreach (JsonObject entry in body.GetArray("entries").OfType<JsonObject>()) SawId(entry, entry.GetString("kind"));
                    break;
            }
        }

        /// <summary>Notes the id of a message, file or history entry: in its room (LastIds), and in LastId.</summary>
        void SawId(JsonObject entry, string kind)
        {
            long? id = entry.GetLong("id");
            if (!id.HasValue) return;
            if (!LastId.HasValue || id.Value > LastId.Value) LastId = id;
            // A room's message or file: a private one has no room.
            string room = entry.GetString("room");
            long last;
            if (room == null || kind == "private" || (lastIds.TryGetValue(room, out last) && last >= id.Value)) return;
            lastIds[room] = id.Value;
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
