// Requests waiting for the replies that carry their ref (PROTOCOL.md section 3, "Request refs"),
// and the small types the client's methods take and return.
using System;
using System.Collections.Generic;
using System.Threading.Tasks;

namespace Switchboard.Client
{
    /// <summary>How to say hello (all optional). See PROTOCOL.md section 3.</summary>
    public sealed class ConnectOptions
    {
        /// <summary>The name to use; without it the member keeps its address name.</summary>
        public string Name { get; set; }
        /// <summary>The password of a registered name.</summary>
        public string Password { get; set; }
        /// <summary>A resume token from an earlier welcome (<see cref="SwitchboardClient.Token"/>).</summary>
        public string Token { get; set; }
        /// <summary>The first room (default lobby).</summary>
        public string Room { get; set; }
        /// <summary>The last message id seen: the first history is then what was missed.</summary>
        public long? Since { get; set; }
        /// <summary>False: a plain device that never says hello (PROTOCOL.md section 2).</summary>
        public bool Hello { get; set; } = true;
    }

    /// <summary>A history request (PROTOCOL.md section 6); every field optional.</summary>
    public sealed class HistoryQuery
    {
        public string Room { get; set; }
        public string With { get; set; }
        public bool? Private { get; set; }
        public long? Before { get; set; }
        public long? After { get; set; }
        public int? Limit { get; set; }
    }

    /// <summary>Where a file goes and how it is announced; every field optional.</summary>
    public sealed class FileSendOptions
    {
        /// <summary>The name receivers see (default: the file's name).</summary>
        public string Name { get; set; }
        public string Mime { get; set; }
        /// <summary>The room (default: the current room).</summary>
        public string Room { get; set; }
        /// <summary>One member instead of a room.</summary>
        public string To { get; set; }
        /// <summary>Called as progress(sentBytes, totalBytes) after each chunk.</summary>
        public Action<long, long> Progress { get; set; }
        public int ChunkSize { get; set; } = SwitchboardClient.FileChunkBytes;
    }

    /// <summary>What joining a room answers: its roster and its recent history.</summary>
    public sealed class JoinReply
    {
        public Message Roster { get; internal set; }
        public Message History { get; internal set; }
    }

    public sealed class MessageEventArgs : EventArgs
    {
        public MessageEventArgs(Message message) { Message = message; }
        public Message Message { get; private set; }
    }

    public sealed class FileProgressEventArgs : EventArgs
    {
        public FileProgressEventArgs(Message offer, long received) { Offer = offer; Received = received; }
        /// <summary>The file-offer of the file coming in.</summary>
        public Message Offer { get; private set; }
        public long Received { get; private set; }
    }

    public sealed class ClosedEventArgs : EventArgs
    {
        public ClosedEventArgs(SwitchboardException reason) { Reason = reason; }
        /// <summary>Why: CLOSED, or what the server said (KICKED, SESSION_REPLACED, HEARTBEAT_TIMEOUT…).</summary>
        public SwitchboardException Reason { get; private set; }
    }

    /// <summary>One request on the wire. Expects lists the reply types in order; an entry may name alternatives.</summary>
    sealed class PendingRequest
    {
        readonly TaskCompletionSource<List<Message>> completion = new TaskCompletionSource<List<Message>>(TaskCreationOptions.RunContinuationsAsynchronously);
        readonly List<Message> replies = new List<Message>();

        public PendingRequest(string kind, string requestRef, string[][] expects)
        {
            Kind = kind;
            Ref = requestRef;
            Expects = expects;
        }

        public string Kind { get; private set; }
        public string Ref { get; private set; }
        public string[][] Expects { get; private set; }
        public Task<List<Message>> Task { get { return completion.Task; } }
        public bool Done { get { return completion.Task.IsCompleted; } }

        /// <summary>Takes a reply that carries our ref, when it is the one expected next.</summary>
        public bool Take(Message message)
        {
            if (Done || Array.IndexOf(Expects[replies.Count], message.Type) < 0) return false;
            replies.Add(message);
            if (replies.Count == Expects.Length) completion.TrySetResult(replies);
            return true;
        }

        public void Fail(SwitchboardException error) { completion.TrySetException(error); }
    }
}
