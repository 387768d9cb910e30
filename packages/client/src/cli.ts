#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { ConnectionOptions } from 'node:tls';
import { ProtocolError } from '@switchboard/protocol';
import {
  displayPath,
  formatChat,
  formatFileOffer,
  formatHistoryEntry,
  formatNotice,
  formatPresence,
  formatPrivate,
  formatRooms,
  formatRoster,
  formatSaved,
  percent,
  printable,
} from './chat-format.js';
import { ClientError } from './client-errors.js';
import { USAGE, UsageError, parseCliOptions, type CliOptions } from './cli-options.js';
import { connect, type SwitchboardClient } from './switchboard-client.js';

const PROGRAM = 'switchboard-client';

const COMMANDS = `Commands:
  text              say text in the current room (//text says "/text")
  /msg NAME text    private message
  /join ROOM        join (or create) a room and make it current
  /leave [ROOM]     leave a room (default: the current one)
  /rooms            list rooms
  /who [ROOM]       members of a room (default: the current one)
  /nick NAME        change your name
  /send PATH [NAME] send a file to the current room, or to one member ("quote paths with spaces")
  /history [N]      the last N messages of the current room (default 50)
  /ping             measure the round trip to the server
  /quit             wait for pending messages, then leave
  /help             this list`;

/** Writes lines without trampling the interactive prompt or a progress line. */
class Terminal {
  #prompt: readline.Interface | undefined;
  #progressShown = false;

  attachPrompt(rl: readline.Interface): void {
    this.#prompt = rl;
  }

  out(line: string): void {
    this.#write(process.stdout, line);
  }

  err(line: string): void {
    this.#write(process.stderr, line);
  }

  /** A single line that updates in place; only on a terminal, where it is useful. */
  progress(text: string): void {
    if (!process.stderr.isTTY) return;
    readline.clearLine(process.stderr, 0);
    readline.cursorTo(process.stderr, 0);
    process.stderr.write(text);
    this.#progressShown = true;
  }

  #write(stream: NodeJS.WriteStream, line: string): void {
    if (this.#progressShown) {
      readline.clearLine(process.stderr, 0);
      readline.cursorTo(process.stderr, 0);
      this.#progressShown = false;
    }
    const prompt = this.#prompt;
    if (prompt && stream.isTTY) {
      readline.clearLine(stream, 0);
      readline.cursorTo(stream, 0);
    }
    stream.write(`${line}\n`);
    if (prompt && stream.isTTY) prompt.prompt(true);
  }
}

async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const term = new Terminal();
  let options: CliOptions;
  try {
    options = parseCliOptions(argv, env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    term.err(`${PROGRAM}: ${error.message}\nTry '${PROGRAM} --help'.`);
    return 2;
  }
  if (options.help) {
    term.out(USAGE);
    return 0;
  }

  let tlsOptions: ConnectionOptions | undefined;
  if (options.tls) {
    tlsOptions = { rejectUnauthorized: !options.insecure };
    if (options.ca !== undefined) {
      try {
        tlsOptions.ca = readFileSync(options.ca);
      } catch (error) {
        term.err(`${PROGRAM}: cannot read CA file ${options.ca}: ${(error as Error).message}`);
        return 2;
      }
    }
  }

  let client: SwitchboardClient;
  try {
    client = await connect({
      host: options.host,
      port: options.port,
      hello: !options.raw,
      downloadDir: path.resolve(options.downloads),
      ...(options.raw ? {} : { name: options.name, room: options.room }),
      ...(tlsOptions ? { tls: tlsOptions } : {}),
    });
  } catch (error) {
    term.err(`${PROGRAM}: ${describeConnectFailure(error, options)}`);
    return 1;
  }
  return runSession(client, options, term);
}

function describeConnectFailure(error: unknown, options: CliOptions): string {
  if (error instanceof ProtocolError) {
    const as = options.name === undefined ? '' : ` as ${options.name}`;
    return `cannot join ${options.host}:${options.port}${as}: ${error.code}: ${printable(error.message)}`;
  }
  return printable(error instanceof Error ? error.message : String(error));
}

/** Runs the chat until stdin ends (or /quit, Ctrl-C, or the server closes); resolves with the exit status. */
function runSession(client: SwitchboardClient, options: CliOptions, term: Terminal): Promise<number> {
  return new Promise<number>((exit) => {
    const cwd = process.cwd();
    const pending = new Set<Promise<void>>();
    let failures = 0;
    // stopReading: ignore further lines (/quit, Ctrl-C, connection gone). quitting: closing.
    let stopReading = false;
    let quitting = false;
    let lastPresence = '';

    const report = (error: unknown, context = ''): void => {
      failures++;
      // Once the connection is gone, the close message says why; do not repeat it per line.
      if (error instanceof ClientError && error.code === 'CLOSED' && !client.isOpen) return;
      term.err(`! ${context}${describeError(error)}`);
    };
    const track = (work: Promise<unknown>, context = '', reportServerErrors = false): void => {
      const tracked: Promise<void> = work
        .then(
          () => undefined,
          (error: unknown) => {
            // Error frames are already printed by the 'server-error' listener.
            if (error instanceof ProtocolError && !reportServerErrors) failures++;
            else report(error, context);
          },
        )
        .finally(() => pending.delete(tracked));
      pending.add(tracked);
    };

    // What the server says.
    client.on('message', (m) => term.out(formatChat(m, client.room)));
    client.on('private', (m) => term.out(formatPrivate(m)));
    client.on('presence', (p) => {
      // A rename reaches us once per shared room: show it once. The same goes for a frame
      // that arrives twice in a row (a server may send the leaver its own leave twice).
      const key = [p.event, p.event === 'rename' ? '' : p.room, p.member.id, p.previousName, p.ts].join('\u0000');
      if (key === lastPresence) return;
      lastPresence = key;
      term.out(formatPresence(p));
    });
    client.on('roster', (r) => term.out(formatRoster(r)));
    client.on('notice', (n) => term.out(formatNotice(n)));
    client.on('text', (line) => term.out(printable(line)));
    client.on('server-error', (e) => term.err(`! ${e.code}: ${printable(e.message)}`));
    client.on('protocol-error', (e) => {
      if (e.code !== 'UNKNOWN_TYPE') term.err(`! ${e.code}: ${e.message} (frame skipped)`);
    });
    client.on('frame', (m) => {
      if (m.type !== 'history') return;
      for (const entry of m.entries) term.out(formatHistoryEntry(entry, client.room));
    });
    client.on('file-offer', (offer) => {
      if (offer.from !== client.name) term.out(formatFileOffer(offer));
    });
    client.on('file-progress', (p) => term.progress(`* receiving ${printable(p.name)}: ${percent(p.received, p.size)}`));
    client.on('file-saved', (saved) => term.out(formatSaved(saved, cwd)));
    client.on('file-aborted', (a) => term.err(`! ${a.code}: ${printable(a.name)} from ${printable(a.from)} was discarded: ${printable(a.reason)}`));
    client.on('close', (info) => {
      if (quitting) return;
      const why = [info.code, info.reason].filter(Boolean).join(': ');
      term.err(`${PROGRAM}: connection closed${why ? ` (${printable(why)})` : ''}`);
      quitting = true;
      stopReading = true;
      rl.close();
      exit(1);
    });

    const where = `${client.host}:${client.port}`;
    term.out(
      options.raw
        ? `* connected to ${where} as a plain device`
        : `* connected to ${where} as ${client.name ?? '?'} in ${client.room ?? '?'} (${printable(client.welcome?.server ?? 'unknown server')})`,
    );
    if (options.raw && options.room !== undefined) track(client.join(options.room));

    // eslint-disable-next-line @typescript-eslint/no-unnecessary-boolean-literal-compare -- isTTY is undefined, not false, off a terminal; readline's `terminal` must get a boolean
    const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
    const rl = readline.createInterface({
      input: process.stdin,
      crlfDelay: Infinity,
      terminal: interactive,
      ...(interactive ? { output: process.stdout, prompt: '> ' } : {}),
    });
    if (interactive) {
      term.attachPrompt(rl);
      term.out('Type /help for commands.');
      rl.prompt();
    }

    // Lines run in order. join, leave and nick hold the next line until the server has
    // answered, so that "/join ops" then "/history" reads ops even when stdin is a pipe
    // that delivers everything at once. Chat lines do not wait: they are pipelined.
    let queue: Promise<void> = Promise.resolve();

    /** Graceful: run the lines already read, then wait for every echo and /send. */
    const quit = async (graceful: boolean): Promise<void> => {
      if (!graceful) stopReading = true;
      for (let seen: Promise<void> | undefined; graceful && seen !== queue;) {
        seen = queue;
        await queue;
      }
      if (quitting) return;
      quitting = true;
      stopReading = true;
      rl.close();
      // The echo of each message is its acknowledgement (PROTOCOL.md §3/§4): wait for them all.
      while (graceful && pending.size > 0) await Promise.allSettled([...pending]);
      await client.close();
      exit(failures > 0 ? 1 : 0);
    };

    const say = (text: string): void => track(client.say(text));

    /** Handles one line; resolves when the next line may run. */
    const run = async (line: string): Promise<void> => {
      if (options.raw) {
        track(client.sendText(line));
        return;
      }
      if (line.trim() === '') return;
      if (line.startsWith('//')) say(line.slice(1));
      else if (line.startsWith('/')) await command(line);
      else say(line);
    };

    /** Tracks a request that changes the current room or name; the next line waits for it. */
    const settleFirst = (work: Promise<unknown>): Promise<void> => {
      track(work);
      return work.then(
        () => undefined,
        () => undefined,
      );
    };

    const usage = (text: string): undefined => {
      failures++;
      term.err(`! usage: ${text}`);
      return undefined;
    };

    const command = (line: string): Promise<void> | undefined => {
      const match = /^\/(\S+)\s*(.*)$/s.exec(line);
      const name = match?.[1]?.toLowerCase() ?? '';
      const args = (match?.[2] ?? '').trim();
      switch (name) {
        case 'msg': {
          const parts = /^(\S+)\s+(.+)$/s.exec(args);
          if (!parts) return usage('/msg NAME text');
          track(client.private(parts[1]!, parts[2]!));
          return undefined;
        }
        case 'join':
          if (!args || /\s/.test(args)) return usage('/join ROOM');
          return settleFirst(client.join(args));
        case 'leave': {
          const room = args || client.room;
          if (!room || /\s/.test(room)) return usage('/leave ROOM');
          return settleFirst(client.leave(room));
        }
        case 'rooms':
          track(client.rooms().then((reply) => term.out(formatRooms(reply))));
          return undefined;
        case 'who':
          track(client.roster(args || undefined)); // Printed by the 'roster' listener.
          return undefined;
        case 'nick':
          if (!args || /\s/.test(args)) return usage('/nick NAME');
          return settleFirst(client.nick(args));
        case 'send': {
          const words = splitQuoted(args);
          if (words.length < 1 || words.length > 2) return usage('/send PATH [NAME]   (quote a path with spaces)');
          const [file, to] = words as [string, string | undefined];
          const label = path.basename(file);
          const sending = client
            .sendFile(file, {
              ...(to === undefined ? {} : { to }),
              onProgress: (sent, size) => term.progress(`* sending ${printable(label)}: ${percent(sent, size)}`),
            })
            .then((sent) => term.out(`* sent ${printable(sent.name)} (${sent.size} bytes, sha256 ${sent.sha256.slice(0, 12)}…)${to ? ` to ${to}` : ''}`));
          track(sending, `could not send ${displayPath(path.resolve(file), process.cwd())}: `, true);
          return undefined;
        }
        case 'history': {
          const limit = args === '' ? undefined : Number(args);
          if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 500)) return usage('/history [N]   (N from 1 to 500)');
          const room = client.room ?? undefined;
          track(
            client.history({ ...(room === undefined ? {} : { room }), ...(limit === undefined ? {} : { limit }) }).then((reply) => {
              if (reply.entries.length === 0) term.out('* no history');
            }),
          );
          return undefined;
        }
        case 'ping':
          track(client.ping().then((ms) => term.out(`* pong in ${ms.toFixed(1)} ms`)));
          return undefined;
        case 'quit':
        case 'exit':
          stopReading = true; // Lines after /quit are not sent.
          void quit(true);
          return undefined;
        case 'help':
          term.out(COMMANDS);
          return undefined;
        default:
          failures++;
          term.err(`! unknown command /${printable(name)} (try /help)`);
          return undefined;
      }
    };

    rl.on('line', (line) => {
      queue = queue
        .then(async () => {
          if (stopReading) return;
          await run(line);
          if (interactive) rl.prompt();
        })
        .catch((error: unknown) => report(error));
    });
    rl.on('close', () => {
      if (!options.listen) void quit(true);
    });
    rl.on('SIGINT', () => void quit(false));
    process.once('SIGINT', () => void quit(false));
    process.once('SIGTERM', () => void quit(false));
  });
}

function describeError(error: unknown): string {
  if (error instanceof ProtocolError || error instanceof ClientError) return `${error.code}: ${printable(error.message)}`;
  return printable(error instanceof Error ? error.message : String(error));
}

/** Words separated by spaces; "double quotes" keep spaces inside one word. */
function splitQuoted(text: string): string[] {
  return [...text.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? '');
}

// Flush what we printed before exiting: process.exit() does not wait for pipes everywhere.
async function exitWith(code: number): Promise<never> {
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  await new Promise<void>((resolve) => process.stderr.write('', () => resolve()));
  process.exit(code);
}

main(process.argv.slice(2), process.env).then(exitWith, (error: unknown) => {
  process.stderr.write(`${PROGRAM}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  void exitWith(70);
});
