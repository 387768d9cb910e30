// The wire format of PROTOCOL.md section 1: a 4-byte big-endian length N, a type byte, N - 1
// bytes of payload. Message is one decoded frame; FrameDecoder cuts a TCP byte stream into frames.
using System;
using System.Collections.Generic;
using System.Text;

namespace Switchboard.Client
{
    /// <summary>Frame type numbers by name (PROTOCOL.md, "Frame types").</summary>
    public static class FrameTypes
    {
        static readonly string[] Names =
        {
            "text", "file-data", "hello", "welcome", "message", "private", "presence", "roster", "notice", "error",
            "ping", "pong", "join", "leave", "rooms", "nick", "history", "file-offer", "file-end", "file-abort", "search",
        };

        /// <summary>The type name of a frame type byte, or null for a type this client does not know.</summary>
        public static string NameOf(byte type) { return type < Names.Length ? Names[type] : null; }

        /// <summary>The type byte of a type name; throws for an unknown name.</summary>
        public static byte NumberOf(string name)
        {
            int index = Array.IndexOf(Names, name);
            if (index < 0) throw new ArgumentException("Unknown frame type \"" + name + "\".");
            return (byte)index;
        }

        /// <summary>Types whose payload is raw bytes rather than UTF-8 JSON.</summary>
        public static bool IsBinary(string name) { return name == "ping" || name == "pong" || name == "file-data"; }
    }

    /// <summary>
    /// One frame, decoded. JSON frames carry their fields in <see cref="Body"/>; <c>text</c> frames
    /// their text in <see cref="Text"/>; <c>ping</c>, <c>pong</c> and <c>file-data</c> their bytes
    /// in <see cref="Data"/> (file-data with its <see cref="Transfer"/> id). The client also
    /// delivers a received file as one message of type <c>file</c>: the offer's fields in
    /// <see cref="Body"/>, the file's bytes in <see cref="Data"/>.
    /// </summary>
    public sealed class Message
    {
        public Message(string type, JsonObject body = null)
        {
            Type = type;
            Body = body ?? new JsonObject();
        }

        public string Type { get; private set; }
        public JsonObject Body { get; private set; }
        public string Text { get; set; }
        public byte[] Data { get; set; }
        public uint Transfer { get; set; }

        /// <summary>A string field of the body (<c>message["from"]</c>), or null.</summary>
        public string this[string key] { get { object value = Body[key]; return value == null ? null : value as string ?? Json.Serialize(value); } }

        /// <summary>The request ref the server repeated, if any.</summary>
        public string Ref { get { return Body.GetString("ref"); } }

        public static Message OfText(string text) { return new Message("text") { Text = text }; }
        public static Message OfBytes(string type, byte[] data) { return new Message(type) { Data = data }; }
        public static Message OfFileData(uint transfer, byte[] data) { return new Message("file-data") { Transfer = transfer, Data = data }; }

        public override string ToString()
        {
            if (Type == "text") return "text " + Text;
            if (FrameTypes.IsBinary(Type)) return Type + " " + (Data == null ? 0 : Data.Length) + " bytes";
            return Type + " " + Json.Serialize(Body);
        }
    }

    /// <summary>Encodes messages as frames and decodes frames' payloads.</summary>
    public static class FrameCodec
    {
        static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);

        /// <summary>One frame for a raw type byte and payload.</summary>
        public static byte[] EncodeFrame(byte type, byte[] payload, int offset, int count)
        {
            var frame = new byte[5 + count];
            uint length = (uint)count + 1;
            frame[0] = (byte)(length >> 24);
            frame[1] = (byte)(length >> 16);
            frame[2] = (byte)(length >> 8);
            frame[3] = (byte)length;
            frame[4] = type;
            Buffer.BlockCopy(payload, offset, frame, 5, count);
            return frame;
        }

        /// <summary>The frame's bytes for a message.</summary>
        public static byte[] Encode(Message message)
        {
            byte type = FrameTypes.NumberOf(message.Type);
            byte[] payload;
            if (message.Type == "text") payload = Encoding.UTF8.GetBytes(message.Text ?? "");
            else if (message.Type == "file-data")
            {
                byte[] data = message.Data ?? new byte[0];
                payload = new byte[4 + data.Length];
                payload[0] = (byte)(message.Transfer >> 24);
                payload[1] = (byte)(message.Transfer >> 16);
                payload[2] = (byte)(message.Transfer >> 8);
                payload[3] = (byte)message.Transfer;
                Buffer.BlockCopy(data, 0, payload, 4, data.Length);
            }
            else if (FrameTypes.IsBinary(message.Type)) payload = message.Data ?? new byte[0];
            else payload = Encoding.UTF8.GetBytes(Json.Serialize(message.Body));
            return EncodeFrame(type, payload, 0, payload.Length);
        }

        /// <summary>
        /// The message a frame carries, or null for a type this client does not know (skip it).
        /// Throws SwitchboardException INVALID_UTF8, INVALID_JSON or INVALID_MESSAGE for a payload
        /// that is not what its type requires.
        /// </summary>
        public static Message Decode(byte type, byte[] payload)
        {
            string name = FrameTypes.NameOf(type);
            if (name == null) return null;
            if (name == "file-data")
            {
                if (payload.Length < 4) throw new SwitchboardException("INVALID_MESSAGE", "file-data needs 4 bytes of transfer id.");
                var data = new byte[payload.Length - 4];
                Buffer.BlockCopy(payload, 4, data, 0, data.Length);
                uint transfer = ((uint)payload[0] << 24) | ((uint)payload[1] << 16) | ((uint)payload[2] << 8) | payload[3];
                return Message.OfFileData(transfer, data);
            }
            if (FrameTypes.IsBinary(name)) return Message.OfBytes(name, payload);
            string text;
            try { text = StrictUtf8.GetString(payload); }
            catch (ArgumentException) { throw new SwitchboardException("INVALID_UTF8", name + " payload is not valid UTF-8."); }
            if (name == "text") return Message.OfText(text);
            if (text.Length == 0) return new Message(name);
            object body;
            try { body = Json.Parse(text); }
            catch (FormatException) { throw new SwitchboardException("INVALID_JSON", name + " payload is not valid JSON."); }
            var obj = body as JsonObject;
            if (obj == null) throw new SwitchboardException("INVALID_MESSAGE", name + " payload is not a JSON object.");
            return new Message(name, obj);
        }
    }

    /// <summary>A frame as it came off the wire: its type byte and payload.</summary>
    public struct Frame
    {
        public byte Type;
        public byte[] Payload;
    }

    /// <summary>
    /// Cuts a byte stream into frames, whatever the chunking (one byte at a time included). A
    /// length of 0 or above <see cref="MaxFrameLength"/> throws FRAME_EMPTY or FRAME_TOO_LARGE as
    /// soon as the 4 length bytes are in: the stream cannot be trusted after that.
    /// </summary>
    public sealed class FrameDecoder
    {
        /// <summary>The client's guard against runaway lengths (the server's own limit is 1 MiB by default).</summary>
        public const int DefaultMaxFrameLength = 16 * 1024 * 1024;

        byte[] buffer = new byte[4096];
        int filled;

        public FrameDecoder(int maxFrameLength = DefaultMaxFrameLength) { MaxFrameLength = maxFrameLength; }

        public int MaxFrameLength { get; set; }

        /// <summary>Bytes of an unfinished frame held so far.</summary>
        public int Pending { get { return filled; } }

        /// <summary>The frames that <paramref name="count"/> more bytes complete.</summary>
        public List<Frame> Feed(byte[] data, int offset, int count)
        {
            if (filled + count > buffer.Length) Array.Resize(ref buffer, Math.Max(buffer.Length * 2, filled + count));
            Buffer.BlockCopy(data, offset, buffer, filled, count);
            filled += count;
            var frames = new List<Frame>();
            int at = 0;
            while (filled - at >= 4)
            {
                uint length = ((uint)buffer[at] << 24) | ((uint)buffer[at + 1] << 16) | ((uint)buffer[at + 2] << 8) | buffer[at + 3];
                if (length == 0) throw new SwitchboardException("FRAME_EMPTY", "The server sent a frame of length 0.");
                if (length > (uint)MaxFrameLength) throw new SwitchboardException("FRAME_TOO_LARGE", "The server sent a frame of " + length + " bytes; the limit is " + MaxFrameLength + ".");
                if (filled - at - 4 < length) break;
                var payload = new byte[length - 1];
                Buffer.BlockCopy(buffer, at + 5, payload, 0, payload.Length);
                frames.Add(new Frame { Type = buffer[at + 4], Payload = payload });
                at += 4 + (int)length;
            }
            if (at > 0)
            {
                Buffer.BlockCopy(buffer, at, buffer, 0, filled - at);
                filled -= at;
            }
            return frames;
        }
    }
}
