// A console chat that does what the classic WinForms client did: connect, show who is online,
// send to everyone or to one member, send a file. Received files are saved under ./downloads.
//
//   mono ChatConsole.exe [--host 127.0.0.1] [--port 9000] --name alice
//
//   hello everyone        to the room (all)
//   /msg bob hi           to one member
//   /send report.pdf      a file to the room;  /send bob report.pdf  to one member
//   /online               who is online
//   /quit                 (or end of input)
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using Switchboard.Client;

static class ChatConsole
{
    static int Main(string[] args)
    {
        string host = "127.0.0.1", name = null;
        int port = 9000;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            if (args[i] == "--host") host = args[i + 1];
            else if (args[i] == "--port") port = int.Parse(args[i + 1]);
            else if (args[i] == "--name") name = args[i + 1];
        }
        try
        {
            return Run(host, port, name).GetAwaiter().GetResult();
        }
        catch (SwitchboardException error)
        {
            Console.Error.WriteLine("error " + error.Code + ": " + error.Message);
            return 1;
        }
    }

    static async Task<int> Run(string host, int port, string name)
    {
        var client = new SwitchboardClient(host, port);
        client.MessageReceived += (sender, e) => Show(e.Message);
        client.Closed += (sender, e) => Console.WriteLine("* disconnected: " + e.Reason.Code);
        await client.ConnectAsync(new ConnectOptions { Name = name });
        Console.WriteLine("* connected to " + host + ":" + port + " as " + client.Name);
        await ShowOnline(client);
        string line;
        while ((line = Console.ReadLine()) != null && line != "/quit")
        {
            try
            {
                await Command(client, line);
            }
            catch (SwitchboardException error)
            {
                Console.WriteLine("! " + error.Code + ": " + error.Message);
                if (!client.IsOpen) return 1;
            }
        }
        await client.CloseAsync();
        return 0;
    }

    static async Task Command(SwitchboardClient client, string line)
    {
        string[] words = line.Split(new[] { ' ' }, 3, StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 0) return;
        switch (words[0])
        {
            case "/online":
                await ShowOnline(client);
                break;
            case "/msg":
                if (words.Length < 3) { Console.WriteLine("usage: /msg NAME TEXT"); break; }
                await client.PrivateAsync(words[1], words[2]);
                break;
            case "/send":
                string to = words.Length == 3 ? words[1] : null;
                string path = words.Length == 3 ? words[2] : words.Length == 2 ? words[1] : null;
                if (path == null) { Console.WriteLine("usage: /send [NAME] PATH"); break; }
                Message sent = await client.SendFileAsync(path, new FileSendOptions
                {
                    To = to,
                    Progress = (done, total) => Console.WriteLine("* sending " + Path.GetFileName(path) + ": " + done + "/" + total),
                });
                Console.WriteLine("* sent " + sent["name"] + " (" + sent["size"] + " bytes, sha256 " + sent["sha256"] + ")");
                break;
            default:
                await client.SayAsync(line);
                break;
        }
    }

    static async Task ShowOnline(SwitchboardClient client)
    {
        List<JsonObject> members = await client.RosterAsync();
        Console.WriteLine("* online in " + client.Room + ": " + string.Join(", ", members.Select(m => m.GetString("name"))));
    }

    static void Show(Message message)
    {
        string room = message["room"] == null || message["room"] == "lobby" ? "" : "[" + message["room"] + "] ";
        switch (message.Type)
        {
            case "message": // our own lines too: the server's copy is the acknowledgement
                Console.WriteLine(room + message["from"] + ": " + message["text"]);
                break;
            case "private":
                Console.WriteLine("[private] " + message["from"] + " -> " + message["to"] + ": " + message["text"]);
                break;
            case "presence":
                JsonObject member = message.Body.GetObject("member");
                string who = member == null ? "?" : member.GetString("name");
                string what = message["event"] == "join" ? "joined" : message["event"] == "leave" ? "left" : "is now " + who;
                Console.WriteLine(room + "* " + (message["event"] == "rename" ? message["previousName"] : who) + " " + what);
                break;
            case "notice":
                Console.WriteLine("* server: " + message["text"]);
                break;
            case "error":
                if (message.Ref == null) Console.WriteLine("! " + message["code"] + ": " + message["message"]);
                break;
            case "file":
                string saved = Save(message);
                Console.WriteLine(room + "* " + message["from"] + " sent a file: " + message["name"] + " (" + message.Data.Length + " bytes)" + (saved == null ? ", not saved: unsafe name" : ", saved as " + saved));
                break;
            case "file-abort":
                Console.WriteLine("* a file did not arrive: " + message["code"]);
                break;
        }
    }

    /// <summary>Saves a received file under ./downloads. The name is the sender's word: only its
    /// last path component is kept, and hidden names, "..", and device names are refused.</summary>
    static string Save(Message file)
    {
        string name = Path.GetFileName((file["name"] ?? "").Replace('\\', '/').Split('/').Last());
        string stem = name.Split('.')[0].ToUpperInvariant();
        string[] devices = { "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "LPT1", "LPT2", "LPT3" };
        if (name.Length == 0 || name.StartsWith(".", StringComparison.Ordinal) || devices.Contains(stem) || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0) return null;
        Directory.CreateDirectory("downloads");
        string path = Path.Combine("downloads", name);
        for (int n = 1; File.Exists(path); n++) path = Path.Combine("downloads", Path.GetFileNameWithoutExtension(name) + " (" + n + ")" + Path.GetExtension(name));
        File.WriteAllBytes(path, file.Data);
        return path;
    }
}
