// A small JSON reader and writer, so the library needs no NuGet package. Objects keep their
// keys in insertion order: the frames this writes match PROTOCOL.md's byte vectors exactly.
using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Switchboard.Client
{
    /// <summary>A JSON object whose keys keep the order they were added in.</summary>
    public sealed class JsonObject : IEnumerable<KeyValuePair<string, object>>
    {
        readonly List<string> keys = new List<string>();
        readonly Dictionary<string, object> values = new Dictionary<string, object>();

        /// <summary>The value under <paramref name="key"/>, or null. Setting a new key appends it.</summary>
        public object this[string key]
        {
            get { object value; return values.TryGetValue(key, out value) ? value : null; }
            set { if (!values.ContainsKey(key)) keys.Add(key); values[key] = value; }
        }

        public int Count { get { return keys.Count; } }
        public IEnumerable<string> Keys { get { return keys; } }

        /// <summary>For collection initializers: <c>new JsonObject { { "room", "ops" } }</c>.</summary>
        public void Add(string key, object value) { this[key] = value; }

        public bool ContainsKey(string key) { return values.ContainsKey(key); }

        public bool Remove(string key)
        {
            if (!values.Remove(key)) return false;
            keys.Remove(key);
            return true;
        }

        public string GetString(string key) { return this[key] as string; }

        /// <summary>An integer field (ids, sizes, timestamps), or null when absent or not a number.</summary>
        public long? GetLong(string key)
        {
            object value = this[key];
            if (value is long) return (long)value;
            if (value is int) return (int)value;
            if (value is double) return (long)(double)value;
            return null;
        }

        public bool GetBool(string key) { object value = this[key]; return value is bool && (bool)value; }
        public JsonObject GetObject(string key) { return this[key] as JsonObject; }
        public List<object> GetArray(string key) { return this[key] as List<object> ?? new List<object>(); }

        public IEnumerator<KeyValuePair<string, object>> GetEnumerator()
        {
            foreach (string key in keys) yield return new KeyValuePair<string, object>(key, values[key]);
        }

        IEnumerator IEnumerable.GetEnumerator() { return GetEnumerator(); }

        public override string ToString() { return Json.Serialize(this); }
    }

    /// <summary>JSON text to values (JsonObject, List&lt;object&gt;, string, long, double, bool, null) and back.</summary>
    public static class Json
    {
        /// <summary>Compact JSON, as JavaScript's JSON.stringify writes it (non-ASCII kept as is).</summary>
        public static string Serialize(object value)
        {
            var output = new StringBuilder();
            Write(output, value);
            return output.ToString();
        }

        /// <summary>Parses JSON text; throws FormatException when it is not valid JSON.</summary>
        public static object Parse(string text)
        {
            var reader = new Reader(text);
            reader.SkipSpace();
            object value = reader.ReadValue();
            reader.SkipSpace();
            if (!reader.AtEnd) throw new FormatException("Unexpected text after the JSON value.");
            return value;
        }

        static void Write(StringBuilder output, object value)
        {
            if (value == null) { output.Append("null"); return; }
            if (value is string) { WriteString(output, (string)value); return; }
            if (value is bool) { output.Append((bool)value ? "true" : "false"); return; }
            if (value is int || value is long || value is uint || value is short || value is byte || value is ulong)
            {
                output.Append(Convert.ToString(value, CultureInfo.InvariantCulture));
                return;
            }
            if (value is double || value is float)
            {
                double number = Convert.ToDouble(value, CultureInfo.InvariantCulture);
                if (double.IsNaN(number) || double.IsInfinity(number)) { output.Append("null"); return; }
                output.Append(number == Math.Floor(number) && Math.Abs(number) < 1e15
                    ? ((long)number).ToString(CultureInfo.InvariantCulture)
                    : number.ToString("R", CultureInfo.InvariantCulture));
                return;
            }
            var obj = value as JsonObject;
            if (obj != null)
            {
                output.Append('{');
                bool first = true;
                foreach (var pair in obj)
                {
                    if (!first) output.Append(',');
                    first = false;
                    WriteString(output, pair.Key);
                    output.Append(':');
                    Write(output, pair.Value);
                }
                output.Append('}');
                return;
            }
            var list = value as IEnumerable;
            if (list != null)
            {
                output.Append('[');
                bool first = true;
                foreach (object item in list)
                {
                    if (!first) output.Append(',');
                    first = false;
                    Write(output, item);
                }
                output.Append(']');
                return;
            }
            throw new ArgumentException("Cannot write a " + value.GetType().Name + " as JSON.");
        }

        static void WriteString(StringBuilder output, string text)
        {
            output.Append('"');
            foreach (char c in text)
            {
                switch (c)
                {
                    case '"': output.Append("\\\""); break;
                    case '\\': output.Append("\\\\"); break;
                    case '\n': output.Append("\\n"); break;
                    case '\r': output.Append("\\r"); break;
                    case '\t': output.Append("\\t"); break;
                    case '\b': output.Append("\\b"); break;
                    case '\f': output.Append("\\f"); break;
                    default:
                        if (c < 0x20) output.Append("\\u").Append(((int)c).ToString("x4"));
                        else output.Append(c);
                        break;
                }
            }
            output.Append('"');
        }

        sealed class Reader
        {
            readonly string text;
            int position;

            public Reader(string text) { this.text = text; }

            public bool AtEnd { get { return position >= text.Length; } }

            public void SkipSpace()
            {
                while (position < text.Length && (text[position] == ' ' || text[position] == '\t' || text[position] == '\n' || text[position] == '\r')) position++;
            }

            char Peek()
            {
                if (position >= text.Length) throw new FormatException("Unexpected end of JSON.");
                return text[position];
            }

            void Expect(string word)
            {
                if (string.CompareOrdinal(text, position, word, 0, word.Length) != 0) throw new FormatException("Expected " + word + " at " + position + ".");
                position += word.Length;
            }

            public object ReadValue()
            {
                char c = Peek();
                switch (c)
                {
                    case '{': return ReadObject();
                    case '[': return ReadArray();
                    case '"': return ReadString();
                    case 't': Expect("true"); return true;
                    case 'f': Expect("false"); return false;
                    case 'n': Expect("null"); return null;
                    default:
                        if (c == '-' || (c >= '0' && c <= '9')) return ReadNumber();
                        throw new FormatException("Unexpected '" + c + "' at " + position + ".");
                }
            }

            JsonObject ReadObject()
            {
                var result = new JsonObject();
                position++;
                SkipSpace();
                if (Peek() == '}') { position++; return result; }
                while (true)
                {
                    SkipSpace();
                    if (Peek() != '"') throw new FormatException("Expected a key at " + position + ".");
                    string key = ReadString();
                    SkipSpace();
                    Expect(":");
                    SkipSpace();
                    result[key] = ReadValue();
                    SkipSpace();
                    char c = Peek();
                    position++;
                    if (c == '}') return result;
                    if (c != ',') throw new FormatException("Expected , or } at " + (position - 1) + ".");
                }
            }

            List<object> ReadArray()
            {
                var result = new List<object>();
                position++;
                SkipSpace();
                if (Peek() == ']') { position++; return result; }
                while (true)
                {
                    SkipSpace();
                    result.Add(ReadValue());
                    SkipSpace();
                    char c = Peek();
                    position++;
                    if (c == ']') return result;
                    if (c != ',') throw new FormatException("Expected , or ] at " + (position - 1) + ".");
                }
            }

            string ReadString()
            {
                position++;
                var output = new StringBuilder();
                while (true)
                {
                    char c = Peek();
                    position++;
                    if (c == '"') return output.ToString();
                    if (c < 0x20) throw new FormatException("Control character in a string.");
                    if (c != '\\') { output.Append(c); continue; }
                    char escape = Peek();
                    position++;
                    switch (escape)
                    {
                        case '"': output.Append('"'); break;
                        case '\\': output.Append('\\'); break;
                        case '/': output.Append('/'); break;
                        case 'b': output.Append('\b'); break;
                        case 'f': output.Append('\f'); break;
                        case 'n': output.Append('\n'); break;
                        case 'r': output.Append('\r'); break;
                        case 't': output.Append('\t'); break;
                        case 'u':
                            if (position + 4 > text.Length) throw new FormatException("Short \\u escape.");
                            output.Append((char)int.Parse(text.Substring(position, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                            position += 4;
                            break;
                        default: throw new FormatException("Bad escape \\" + escape + ".");
                    }
                }
            }

            object ReadNumber()
            {
                int start = position;
                if (text[position] == '-') position++;
                while (position < text.Length && "0123456789.eE+-".IndexOf(text[position]) >= 0) position++;
                string number = text.Substring(start, position - start);
                long integer;
                if (long.TryParse(number, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out integer)) return integer;
                double real;
                if (double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out real)) return real;
                throw new FormatException("Bad number " + number + ".");
            }
        }
    }
}
