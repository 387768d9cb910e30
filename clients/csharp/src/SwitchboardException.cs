using System;

namespace Switchboard.Client
{
    /// <summary>
    /// An error with a stable <see cref="Code"/>: the server's codes of PROTOCOL.md section 9
    /// (NAME_TAKEN, AUTH_FAILED, FILE_TOO_LARGE…), and this client's own: CLOSED (the
    /// connection ended), TIMEOUT (no answer in time), CONNECT_FAILED, NO_TOKEN.
    /// </summary>
    public class SwitchboardException : Exception
    {
        public SwitchboardException(string code, string message, string requestRef = null, bool fatal = false, Exception inner = null)
            : base(message, inner)
        {
            Code = code;
            Ref = requestRef;
            Fatal = fatal;
        }

        public string Code { get; private set; }

        /// <summary>The ref of the request that caused it, when the server said.</summary>
        public string Ref { get; private set; }

        /// <summary>The server closes the connection after a fatal error.</summary>
        public bool Fatal { get; private set; }

        /// <summary>True for an error frame the server sent (not one this client raised).</summary>
        public bool FromServer { get; internal set; }

        internal static SwitchboardException FromFrame(Message error)
        {
            return new SwitchboardException(error.Body.GetString("code") ?? "INTERNAL", error.Body.GetString("message") ?? "", error.Ref, error.Body.GetBool("fatal")) { FromServer = true };
        }

        public override string ToString() { return Code + ": " + Message; }
    }
}
