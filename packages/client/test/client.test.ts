import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FILE_CHUNK_BYTES, ProtocolError, encodeFrame, type ClientMessage, type ServerMessage } from '@switchboard/protocol';
import {
  ClientError,
  connect,
  type CloseInfo,
  type ConnectOptions,
  type FileAborted,
  type FileProgress,
  type FileSaved,
  type SwitchboardClient,
} from '../src/index.js';
import { ScriptedServer, hubResponder, rawFrame, type Peer } from './scripted-server.js';
import { setTimeout as sleep } from 'node:timers/promises';

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

let server: ScriptedServer;
let work: string;
let downloads: string;
const clients: SwitchboardClient[] = [];

beforeEach(async () => {
  server = await ScriptedServer.start();
  work = await mkdtemp(path.join(tmpdir(), 'switchboard-client-'));
  downloads = path.join(work, 'downloads');
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.destroy()));
  await server.close();
  await rm(work, { recursive: true, force: true });
});

/** Connects to the scripted server and returns the client with its server-side peer. */
async function open(options: Partial<ConnectOptions> = {}, on: ScriptedServer = server): Promise<{ client: SwitchboardClient; peer: Peer }> {
  const arriving = on.nextPeer();
  const client = await connect({ port: on.port, name: 'alice', downloadDir: downloads, ...options });
  clients.push(client);
  return { client, peer: await arriving };
}

/** What `client` emits for `event`, collected. */
function collect<T>(client: SwitchboardClient, event: 'file-saved' | 'file-aborted' | 'file-progress' | 'close' | 'text'): T[] {
  const seen: T[] = [];
  client.on(event, (value: unknown) => seen.push(value as T));
  return seen;
}

function nextEvent<T>(client: SwitchboardClient, event: string, timeoutMs = 3000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${event}" event within ${timeoutMs} ms`)), timeoutMs);
    (client as unknown as NodeJS.EventEmitter).once(event, (value: T) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

interface OfferSpec {
  transfer?: number;
  name?: string;
  data: Uint8Array;
  sha?: string;
  chunk?: number;
  /** Stop after this many bytes without file-end. */
  stopAfter?: number;
}

/** Plays the server's side of a file sent to the client. */
async function sendFileToClient(peer: Peer, spec: OfferSpec): Promise<void> {
  const transfer = spec.transfer ?? 90;
  const { data } = spec;
  await peer.send({
    type: 'file-offer',
    transfer,
    id: 7,
    from: 'bob',
    transport: 'tcp',
    ts: Date.now(),
    name: spec.name ?? 'report.bin',
    size: data.length,
    mime: 'application/octet-stream',
    room: 'lobby',
  });
  const chunk = spec.chunk ?? FILE_CHUNK_BYTES;
  const end = spec.stopAfter ?? data.length;
  for (let at = 0; at < end; at += chunk) {
    await peer.send({ type: 'file-data', transfer, data: data.subarray(at, Math.min(at + chunk, end)) });
  }
  if (spec.stopAfter === undefined) await peer.send({ type: 'file-end', transfer, sha256: spec.sha ?? sha256(data) });
}

/**
 * Makes the scripted server hold back its answer to the first client frame that `matches`;
 * the returned function answers it (as the hub would, at that moment).
 */
function holdFirst(matches: (message: ClientMessage) => boolean): () => void {
  let held: (() => void) | undefined;
  let release = false;
  const respond = server.respond;
  server.respond = (peer, message, s) => {
    if (!held && !release && matches(message)) held = () => respond(peer, message, s);
    else respond(peer, message, s);
  };
  return () => {
    release = true;
    held?.();
  };
}

describe('connect and hello', () => {
  it('says hello with name, room and since, and resolves after welcome', async () => {
    const { client, peer } = await open({ room: 'ops', since: 5 });
    expect(await peer.take('hello')).toEqual({ type: 'hello', v: 1, name: 'alice', room: 'ops', since: 5, ref: expect.any(String) });
    expect(client.name).toBe('alice');
    expect(client.id).toBe(peer.id);
    expect(client.room).toBe('ops');
    expect(client.welcome?.server).toBe('scripted/1.0');
    expect(client.isOpen).toBe(true);
  });

  it('delivers the frames that follow welcome to listeners added after connect resolves', async () => {
    const { client } = await open();
    const presence = client.waitFor('presence');
    const roster = client.waitFor('roster');
    const history = client.waitFor('history');
    expect((await presence).member.name).toBe('alice');
    expect((await roster).members.map((m) => m.name)).toEqual(['alice']);
    expect((await history).room).toBe('lobby');
  });

  it('rejects with the server code when the name is taken, and closes the socket', async () => {
    server.takenNames.add('alice');
    const arriving = server.nextPeer();
    const failure = await connect({ port: server.port, name: 'Alice' }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ProtocolError);
    expect((failure as ProtocolError).code).toBe('NAME_TAKEN');
    const peer = await arriving;
    await new Promise((resolve) => (peer.socket.closed ? resolve(null) : peer.socket.once('close', resolve)));
  });

  it('refuses an invalid name before connecting', async () => {
    const failure = await connect({ port: server.port, name: 'no spaces' }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ClientError);
    expect((failure as ClientError).code).toBe('INVALID_ARGUMENT');
    expect(server.peers).toHaveLength(0);
  });

  it('reports a refused connection in one clear line', async () => {
    const closed = await ScriptedServer.start();
    const port = closed.port;
    await closed.close();
    const failure = await connect({ port }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ClientError);
    expect((failure as ClientError).code).toBe('CONNECT_FAILED');
    expect((failure as Error).message).toBe(`cannot connect to 127.0.0.1:${port}: connection refused`);
  });

  it('gives up when no welcome comes within connectTimeoutMs', async () => {
    server.respond = () => undefined;
    const started = Date.now();
    const failure = await connect({ port: server.port, name: 'alice', connectTimeoutMs: 200 }).catch((e: unknown) => e);
    expect((failure as ClientError).code).toBe('CONNECT_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('rejects when the server hangs up before welcome', async () => {
    server.respond = (peer) => peer.socket.end();
    const failure = await connect({ port: server.port, name: 'alice' }).catch((e: unknown) => e);
    expect((failure as ClientError).code).toBe('CLOSED');
  });
});

describe('chat', () => {
  it('say() sends a message frame and resolves with the echo', async () => {
    const { client, peer } = await open();
    const events: ServerMessage[] = [];
    client.on('message', (m) => events.push(m));
    const echo = await client.say('hello there');
    const sent = await peer.take('message');
    expect(sent).toEqual({ type: 'message', text: 'hello there', ref: expect.any(String) });
    expect(echo).toMatchObject({ type: 'message', from: 'alice', room: 'lobby', text: 'hello there', ref: sent.ref });
    expect(events).toEqual([echo]);
  });

  it('gives an error frame to the request whose ref it carries, not the oldest one, and emits server-error', async () => {
    // The server answers the first request only after the second has failed.
    const answerFirst = holdFirst((m) => m.type === 'message' && m.text === 'here');
    const { client } = await open();
    const errors: string[] = [];
    client.on('server-error', (e) => errors.push(e.code));
    const right = client.say('here');
    const wrong = client.say('not there', 'nowhere');
    await expect(wrong).rejects.toMatchObject({ name: 'ProtocolError', code: 'NOT_IN_ROOM', ref: expect.any(String) });
    answerFirst();
    await expect(right).resolves.toMatchObject({ text: 'here' });
    expect(errors).toEqual(['NOT_IN_ROOM']);
  });

  it('matches replies that come out of order by ref', async () => {
    const asked: { peer: Peer; ref: string | undefined }[] = [];
    server.respond = (peer, message, s) => {
      if (message.type !== 'rooms') return hubResponder(peer, message, s);
      asked.push({ peer, ref: message.ref });
      if (asked.length < 2) return;
      // Answer the second request first, each with a room list of its own.
      for (const [i, { ref }] of [...asked.entries()].reverse())
        void peer.send({ type: 'rooms', rooms: [{ name: `answer${i + 1}`, members: i + 1 }], ...(ref ? { ref } : {}) });
    };
    const { client } = await open();
    const [first, second] = await Promise.all([client.rooms(), client.rooms()]);
    expect(first.rooms).toEqual([{ name: 'answer1', members: 1 }]);
    expect(second.rooms).toEqual([{ name: 'answer2', members: 2 }]);
  });

  it('sends every request with a ref of its own', async () => {
    const { client, peer } = await open();
    await Promise.all([client.say('one'), client.say('one'), client.rooms(), client.roster(), client.history(), client.join('ops')]);
    await client.nick('alice2');
    const refs = peer.received.filter((m) => m.type !== 'ping' && m.type !== 'pong').map((m) => ('ref' in m ? m.ref : undefined));
    expect(refs).toHaveLength(8);
    expect(refs.every((r) => typeof r === 'string' && r.length >= 1 && r.length <= 64)).toBe(true);
    expect(new Set(refs).size).toBe(refs.length);
  });

  it('reports an error without a ref as server-error only: waiting requests keep waiting for their own reply', async () => {
    server.respond = (peer, message, s) => {
      if (message.type === 'rooms') void peer.error('RATE_LIMITED', 'Too many frames too fast; this one was dropped.');
      hubResponder(peer, message, s);
    };
    const { client } = await open();
    const errors = nextEvent<ServerMessage>(client, 'server-error');
    await expect(client.rooms()).resolves.toMatchObject({ rooms: [{ name: 'lobby', members: 1 }] });
    expect(await errors).toMatchObject({ code: 'RATE_LIMITED' });
  });

  it('against a server that repeats no refs, an error answers no request: it is a server-error and the request times out', async () => {
    const old = await ScriptedServer.start({ echoRefs: false });
    try {
      const { client } = await open({ requestTimeoutMs: 200 }, old);
      const errors = nextEvent<ServerMessage>(client, 'server-error');
      await expect(client.say('x', 'nowhere')).rejects.toMatchObject({ name: 'ClientError', code: 'TIMEOUT' });
      expect(await errors).toMatchObject({ code: 'NOT_IN_ROOM' });
    } finally {
      await old.close();
    }
  });

  it('private() resolves with the echo; an unknown member rejects', async () => {
    const { client, peer } = await open();
    await open({ name: 'bob' });
    const echo = await client.private('BOB', 'psst');
    expect(echo).toMatchObject({ from: 'alice', to: 'bob', text: 'psst' });
    expect(await peer.take('private')).toEqual({ type: 'private', to: 'BOB', text: 'psst', ref: expect.any(String) });
    await expect(client.private('carol', 'hi')).rejects.toMatchObject({ code: 'NO_SUCH_MEMBER' });
  });

  it('join() makes the room current; leave() goes back to the previous one', async () => {
    const { client } = await open();
    const joined = await client.join('ops');
    expect(joined?.roster.room).toBe('ops');
    expect(joined?.history.room).toBe('ops');
    expect(client.room).toBe('ops');
    expect(client.joinedRooms).toEqual(['lobby', 'ops']);
    expect(await client.say('in ops')).toMatchObject({ room: 'ops' });
    await client.leave('ops');
    expect(client.room).toBe('lobby');
    await expect(client.leave('ops')).rejects.toMatchObject({ code: 'NOT_IN_ROOM' });
  });

  it('nick() renames, and later echoes are matched under the new name', async () => {
    const { client } = await open();
    await client.nick('alice2');
    expect(client.name).toBe('alice2');
    expect(await client.say('renamed')).toMatchObject({ from: 'alice2' });
  });

  it('nick() in no room resolves on the notice that carries its ref; a taken name rejects', async () => {
    const { client } = await open();
    await open({ name: 'bob' });
    await client.leave('lobby');
    expect(client.joinedRooms).toEqual([]);
    await client.nick('alice2');
    await expect(client.nick('bob')).rejects.toMatchObject({ code: 'NAME_TAKEN' });
  });

  it('rooms(), roster() and history() resolve with their replies', async () => {
    const { client } = await open();
    await open({ name: 'bob', room: 'ops' });
    expect((await client.rooms()).rooms).toEqual(
      expect.arrayContaining([
        { name: 'lobby', members: 1 },
        { name: 'ops', members: 1 },
      ]),
    );
    const [lobby, ops] = await Promise.all([client.roster(), client.roster('ops')]);
    expect(lobby.members.map((m) => m.name)).toEqual(['alice']);
    expect(ops.members.map((m) => m.name)).toEqual(['bob']);
    await client.say('one');
    await client.say('two');
    const history = await client.history({ room: 'lobby', limit: 1 });
    expect(history.entries.map((e) => (e.kind === 'message' ? e.text : ''))).toEqual(['two']);
    expect(history.more).toBe(true);
  });

  it('does not mistake the history that follows welcome for the reply to history()', async () => {
    for (const text of ['a', 'b', 'c']) {
      server.history.push({ kind: 'message', id: server.nextId++, room: 'lobby', from: 'old', transport: 'tcp', ts: 1, text });
    }
    const { client } = await open();
    const reply = await client.history({ room: 'lobby', limit: 1 }); // Sent before the welcome's history was read.
    expect(reply.entries).toHaveLength(1);
  });

  it('times a request out when no reply comes', async () => {
    server.respond = (peer, message, s) => {
      if (message.type !== 'rooms') hubResponder(peer, message, s);
    };
    const { client } = await open({ requestTimeoutMs: 150 });
    await expect(client.rooms()).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(await client.say('still fine')).toMatchObject({ text: 'still fine' });
  });

  it('checks names before sending anything', async () => {
    const { client, peer } = await open();
    await expect(client.join('bad room')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(client.private('', 'x')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await client.ping();
    expect(peer.all('join')).toHaveLength(0);
    expect(peer.all('private')).toHaveLength(0);
  });

  it('emits type-0 lines as text', async () => {
    const { client, peer } = await open();
    const line = nextEvent<string>(client, 'text');
    await peer.send({ type: 'text', text: 'bob: hi' });
    expect(await line).toBe('bob: hi');
  });
});

describe('liveness', () => {
  it('ping() resolves with the round trip', async () => {
    const { client, peer } = await open();
    const ms = await client.ping();
    expect(ms).toBeGreaterThanOrEqual(0);
    expect((await peer.take('ping')).data).toHaveLength(4);
  });

  it('answers a server ping with a pong carrying the same bytes', async () => {
    const { client, peer } = await open();
    const pinged = nextEvent<Uint8Array>(client, 'ping');
    await peer.send({ type: 'ping', data: new Uint8Array([1, 2, 3]) });
    expect(Array.from((await peer.take('pong')).data)).toEqual([1, 2, 3]);
    expect(Array.from(await pinged)).toEqual([1, 2, 3]);
  });
});

describe('errors and closing', () => {
  it('a fatal error frame closes the client and rejects what was waiting', async () => {
    server.respond = (peer, message, s) => {
      if (message.type !== 'rooms') hubResponder(peer, message, s);
    };
    const { client, peer } = await open();
    const closed = nextEvent<CloseInfo>(client, 'close');
    const waiting = client.rooms();
    const frame = client.waitFor('message');
    await peer.take('rooms');
    await peer.error('KICKED', 'Bye.', true);
    await expect(waiting).rejects.toMatchObject({ name: 'ProtocolError', code: 'KICKED' });
    await expect(frame).rejects.toMatchObject({ code: 'KICKED' });
    expect(await closed).toMatchObject({ code: 'KICKED', reason: 'Bye.' });
    expect(client.isOpen).toBe(false);
    await expect(client.say('anyone?')).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('a bad length prefix from the server closes the client with the decoder code', async () => {
    const { client, peer } = await open();
    const closed = nextEvent<CloseInfo>(client, 'close');
    await peer.sendBytes(new Uint8Array([0, 0, 0, 0]));
    expect(await closed).toMatchObject({ code: 'FRAME_EMPTY' });
  });

  it('enforces maxFrameLength on the length prefix', async () => {
    const { client, peer } = await open({ maxFrameLength: 1024 });
    const closed = nextEvent<CloseInfo>(client, 'close');
    await peer.send({ type: 'text', text: 'x'.repeat(2000) });
    expect(await closed).toMatchObject({ code: 'FRAME_TOO_LARGE' });
  });

  it('skips frames of unknown type and malformed bodies, and keeps going', async () => {
    const { client, peer } = await open();
    const problems: string[] = [];
    client.on('protocol-error', (e) => problems.push(e.code));
    const line = nextEvent<string>(client, 'text');
    await peer.sendBytes(rawFrame(0x7f, new Uint8Array([1, 2, 3])));
    await peer.sendBytes(encodeFrame(0x04, new TextEncoder().encode('{')));
    await peer.sendBytes(encodeFrame(0x04, new TextEncoder().encode('{"text":1}')));
    await peer.send({ type: 'text', text: 'after' });
    expect(await line).toBe('after');
    expect(problems).toEqual(['UNKNOWN_TYPE', 'INVALID_JSON', 'INVALID_MESSAGE']);
    expect(await client.ping()).toBeGreaterThanOrEqual(0);
  });

  it('waitFor() rejects on timeout with a clear error', async () => {
    const { client } = await open();
    await expect(client.waitFor('notice', undefined, 100)).rejects.toThrow('Timed out after 100 ms waiting for a "notice" frame');
  });

  it('waitFor() honours its predicate', async () => {
    const { client, peer } = await open();
    const second = client.waitFor('notice', (n) => n.text === 'two');
    await peer.send({ type: 'notice', text: 'one', ts: 1 });
    await peer.send({ type: 'notice', text: 'two', ts: 2 });
    expect((await second).ts).toBe(2);
  });

  it('close() ends gracefully, rejects waiters and is idempotent', async () => {
    const { client, peer } = await open();
    const events = collect<CloseInfo>(client, 'close');
    const waiting = client.waitFor('notice');
    const ended = new Promise((resolve) => peer.socket.once('end', resolve));
    await Promise.all([client.close(), client.close()]);
    await ended;
    await expect(waiting).rejects.toMatchObject({ code: 'CLOSED' });
    expect(events).toEqual([{ reason: 'closed by client' }]);
    await expect(client.waitFor('notice')).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('takes the close reason from the notice that precedes a disconnect', async () => {
    const { client, peer } = await open();
    const closed = nextEvent<CloseInfo>(client, 'close');
    await peer.send({ type: 'notice', text: 'Removed by the operator.', ts: 1, private: true, code: 'KICKED' });
    peer.socket.end();
    expect(await closed).toEqual({ code: 'KICKED', reason: 'Removed by the operator.' });
  });
});

describe('a server that writes one byte at a time', () => {
  it('still gives whole frames: welcome, echo, roster and a file', async () => {
    const slow = await ScriptedServer.start({ byteAtATime: true });
    try {
      const { client, peer } = await open({}, slow);
      expect(client.name).toBe('alice');
      expect(await client.say('slowly')).toMatchObject({ text: 'slowly' });
      const data = randomBytes(700);
      const saved = nextEvent<FileSaved>(client, 'file-saved', 10_000);
      await sendFileToClient(peer, { data, chunk: 300 });
      const result = await saved;
      expect(await readFile(result.path!)).toEqual(data);
    } finally {
      await slow.close();
    }
  }, 20_000);
});

describe('plain device (hello: false)', () => {
  it('sends no hello, says type-0 text and receives text lines', async () => {
    const { client, peer } = await open({ hello: false, name: undefined });
    expect(client.name).toBeNull();
    const lines = collect<string>(client, 'text');
    expect(await client.say('hi from a device')).toBeNull();
    await client.sendText('second');
    expect(await peer.take('text')).toEqual({ type: 'text', text: 'hi from a device' });
    expect(await peer.take('text')).toEqual({ type: 'text', text: 'second' });
    expect(peer.all('hello')).toHaveLength(0);
    await sleep(50);
    expect(lines[0]).toMatch(/^127\.0\.0\.1:\d+: hi from a device$/);
  });
});

describe('receiving files', () => {
  it('streams to a .part file, checks the SHA-256 and renames it', async () => {
    const { client, peer } = await open();
    const progress = collect<FileProgress>(client, 'file-progress');
    const data = randomBytes(3 * FILE_CHUNK_BYTES + 123);
    const saved = nextEvent<FileSaved>(client, 'file-saved');
    await sendFileToClient(peer, { data, name: 'report.bin' });
    const result = await saved;
    expect(result).toEqual({
      transfer: 90,
      name: 'report.bin',
      from: 'bob',
      size: data.length,
      sha256: sha256(data),
      path: path.join(downloads, 'report.bin'),
    });
    expect(await readFile(result.path!)).toEqual(data);
    expect(await readdir(downloads)).toEqual(['report.bin']);
    expect(progress.map((p) => p.received)).toEqual([FILE_CHUNK_BYTES, 2 * FILE_CHUNK_BYTES, 3 * FILE_CHUNK_BYTES, data.length]);
  });

  it('deletes the file when the SHA-256 does not match', async () => {
    const { client, peer } = await open();
    const data = randomBytes(5000);
    const aborted = nextEvent<FileAborted>(client, 'file-aborted');
    const saved = collect<FileSaved>(client, 'file-saved');
    await sendFileToClient(peer, { data, sha: sha256(Buffer.from('something else')) });
    expect(await aborted).toMatchObject({ transfer: 90, code: 'FILE_CHECKSUM_MISMATCH', name: 'report.bin' });
    expect(await readdir(downloads)).toEqual([]);
    expect(saved).toEqual([]);
  });

  it('deletes the partial file on file-abort', async () => {
    const { client, peer } = await open();
    const aborted = nextEvent<FileAborted>(client, 'file-aborted');
    await sendFileToClient(peer, { data: randomBytes(10_000), chunk: 1000, stopAfter: 4000 });
    await peer.send({ type: 'file-abort', transfer: 90, code: 'FILE_ABORTED', reason: 'sender left' });
    expect(await aborted).toMatchObject({ code: 'FILE_ABORTED', reason: 'sender left' });
    expect(await readdir(downloads)).toEqual([]);
  });

  it('deletes the partial file when the connection closes mid-transfer', async () => {
    const { client, peer } = await open();
    const progress = nextEvent<FileProgress>(client, 'file-progress');
    const aborted = nextEvent<FileAborted>(client, 'file-aborted');
    await sendFileToClient(peer, { data: randomBytes(10_000), chunk: 1000, stopAfter: 3000 });
    await progress;
    await client.close();
    expect((await aborted).code).toBe('FILE_ABORTED');
    expect(await readdir(downloads)).toEqual([]);
  });

  it('discards a file that sends more bytes than it announced', async () => {
    const { client, peer } = await open();
    const aborted = nextEvent<FileAborted>(client, 'file-aborted');
    await peer.send({ type: 'file-offer', transfer: 5, id: 1, from: 'bob', transport: 'tcp', ts: 1, name: 'x', size: 10, mime: 'a/b' });
    await peer.send({ type: 'file-data', transfer: 5, data: new Uint8Array(11) });
    expect((await aborted).code).toBe('FILE_SIZE_MISMATCH');
    expect(await readdir(downloads)).toEqual([]);
  });

  it('keeps hostile names inside the download directory and never overwrites', async () => {
    await mkdir(downloads, { recursive: true });
    await writeFile(path.join(downloads, 'passwd'), 'mine');
    const { client, peer } = await open();
    const results: FileSaved[] = [];
    client.on('file-saved', (s) => results.push(s));
    const names = ['../../passwd', '..\\..\\passwd', '/etc/passwd', '.bashrc', 'CON', 'a\u0000b', ''];
    for (const [i, name] of names.entries()) {
      const saved = nextEvent<FileSaved>(client, 'file-saved');
      await sendFileToClient(peer, { transfer: 100 + i, name, data: Buffer.from(`file ${i}`) });
      await saved;
    }
    expect(results.map((r) => path.relative(downloads, r.path!))).toEqual(['passwd (1)', 'passwd (2)', 'passwd (3)', 'bashrc', '_CON', 'ab', 'file']);
    expect(await readFile(path.join(downloads, 'passwd'), 'utf8')).toBe('mine');
    expect((await readdir(work)).sort()).toEqual(['downloads']);
  });

  it('receives interleaved transfers into separate files', async () => {
    const { client, peer } = await open();
    const one = randomBytes(3000);
    const two = randomBytes(2000);
    const saved = collect<FileSaved>(client, 'file-saved');
    const offer = (transfer: number, name: string, size: number): Promise<void> =>
      peer.send({ type: 'file-offer', transfer, id: transfer, from: 'bob', transport: 'tcp', ts: 1, name, size, mime: 'a/b' });
    await offer(1, 'one.bin', one.length);
    await offer(2, 'two.bin', two.length);
    for (let at = 0; at < 3000; at += 1000) {
      await peer.send({ type: 'file-data', transfer: 1, data: one.subarray(at, at + 1000) });
      if (at < 2000) await peer.send({ type: 'file-data', transfer: 2, data: two.subarray(at, at + 1000) });
    }
    await peer.send({ type: 'file-end', transfer: 2, sha256: sha256(two) });
    await peer.send({ type: 'file-end', transfer: 1, sha256: sha256(one) });
    await expect.poll(() => saved.length).toBe(2);
    expect(await readFile(path.join(downloads, 'one.bin'))).toEqual(one);
    expect(await readFile(path.join(downloads, 'two.bin'))).toEqual(two);
  });

  it('verifies but does not save when there is no download directory', async () => {
    const { client, peer } = await open({ downloadDir: undefined });
    const saved = nextEvent<FileSaved>(client, 'file-saved');
    const data = randomBytes(1000);
    await sendFileToClient(peer, { data });
    expect(await saved).toMatchObject({ path: null, sha256: sha256(data) });
    await expect(readdir(downloads)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('saves an empty file', async () => {
    const { client, peer } = await open();
    const saved = nextEvent<FileSaved>(client, 'file-saved');
    await sendFileToClient(peer, { data: new Uint8Array(0), name: 'empty.txt' });
    expect((await readFile((await saved).path!)).length).toBe(0);
  });
});

describe('sending files', () => {
  async function fileOf(size: number, name = 'data.bin'): Promise<{ file: string; data: Buffer }> {
    const data = randomBytes(size);
    const file = path.join(work, name);
    await writeFile(file, data);
    return { file, data };
  }

  it('offers, streams FILE_CHUNK_BYTES chunks and ends with the SHA-256', async () => {
    const { client, peer } = await open();
    const { file, data } = await fileOf(5 * FILE_CHUNK_BYTES + 77);
    const progress: number[] = [];
    const sent = await client.sendFile(file, { onProgress: (n) => progress.push(n) });
    expect(sent).toMatchObject({ transfer: 1, serverTransfer: 90, name: 'data.bin', size: data.length, sha256: sha256(data) });
    expect(peer.all('file-offer')).toEqual([{ type: 'file-offer', transfer: 1, name: 'data.bin', size: data.length, ref: expect.any(String) }]);
    // sendFile resolved on the server's confirmation, so the server has the file-end already.
    expect(peer.all('file-end')).toEqual([{ type: 'file-end', transfer: 1, sha256: sha256(data), ref: expect.any(String) }]);
    expect(server.finished).toHaveLength(1);
    const chunks = peer.all('file-data');
    expect(chunks.map((c) => c.data.length)).toEqual([...Array(5).fill(FILE_CHUNK_BYTES), 77]);
    expect(Buffer.concat(chunks.map((c) => c.data))).toEqual(data);
    expect(progress.at(-1)).toBe(data.length);
  });

  it('sends nothing but the offer when the server refuses it', async () => {
    server.maxFileBytes = 100;
    const { client, peer } = await open();
    const { file } = await fileOf(1000);
    await expect(client.sendFile(file)).rejects.toMatchObject({ name: 'ProtocolError', code: 'FILE_TOO_LARGE' });
    expect(peer.all('file-data')).toHaveLength(0);
    expect(await client.say('still here')).toMatchObject({ text: 'still here' });
  });

  it("rejects with the server's code when the offer names nobody, and leaves chat alone", async () => {
    const { client } = await open();
    const { file } = await fileOf(100);
    const sending = client.sendFile(file, { to: 'nobody' });
    await expect(sending).rejects.toMatchObject({ code: 'NO_SUCH_MEMBER' });
    expect(await client.say('after')).toMatchObject({ text: 'after' });
  });

  it('gives a streaming error to the transfer, not to a chat request waiting at the same time', async () => {
    server.respond = (peer, message, s) => {
      if (message.type === 'file-data') {
        // No ref (file-data has none): the message names the transfer, as the gateway's do.
        void peer.error('FILE_UNKNOWN_TRANSFER', `No open transfer has id ${message.transfer}.`);
        return;
      }
      if (message.type !== 'rooms') hubResponder(peer, message, s);
    };
    const { client } = await open({ requestTimeoutMs: 1000 });
    const { file } = await fileOf(50 * FILE_CHUNK_BYTES);
    const rooms = client.rooms(); // Never answered: it must not take the file error.
    await expect(client.sendFile(file)).rejects.toMatchObject({ code: 'FILE_UNKNOWN_TRANSFER' });
    await expect(rooms).rejects.toMatchObject({ code: 'TIMEOUT' });
  });

  it("gives an offer's refusal to that offer when two are out at once", async () => {
    server.maxFileBytes = 1000;
    // The first offer's echo comes only after the second offer has been refused.
    const answerFirst = holdFirst((m) => m.type === 'file-offer' && m.name === 'first.bin');
    server.respond = ((respond) => (peer, message, s) => {
      respond(peer, message, s);
      if (message.type === 'file-offer' && message.name === 'second.bin') answerFirst();
    })(server.respond);
    const { client, peer } = await open();
    const first = await fileOf(500, 'first.bin');
    const second = await fileOf(5000, 'second.bin');
    const sendingFirst = client.sendFile(first.file);
    const sendingSecond = client.sendFile(second.file);
    await expect(sendingSecond).rejects.toMatchObject({ name: 'ProtocolError', code: 'FILE_TOO_LARGE' });
    await expect(sendingFirst).resolves.toMatchObject({ name: 'first.bin', size: 500, sha256: sha256(first.data) });
    expect(Buffer.concat(peer.all('file-data').map((c) => c.data))).toEqual(first.data);
  });

  it('resolves only when the server confirms the file with its own file-end', async () => {
    let confirm: (() => void) | undefined;
    server.respond = (peer, message, s) => {
      if (message.type === 'file-end') confirm = () => hubResponder(peer, message, s);
      else hubResponder(peer, message, s);
    };
    const { client } = await open();
    const { file, data } = await fileOf(3 * FILE_CHUNK_BYTES);
    let settled = false;
    const sending = client.sendFile(file).finally(() => (settled = true));
    await expect.poll(() => confirm !== undefined).toBe(true);
    await sleep(100);
    expect(settled).toBe(false); // Every byte and the file-end are out; no confirmation yet.
    confirm!();
    await expect(sending).resolves.toMatchObject({ serverTransfer: 90, sha256: sha256(data) });
  });

  it("rejects with the server's FILE_CHECKSUM_MISMATCH, matched by the file-end's ref while chat waits too", async () => {
    let said: (() => void) | undefined;
    server.respond = (peer, message, s) => {
      if (message.type === 'message') said = () => hubResponder(peer, message, s);
      else if (message.type === 'file-end')
        void peer.error('FILE_CHECKSUM_MISMATCH', `Transfer ${message.transfer}: the bytes hash to something else.`, false, message.ref);
      else hubResponder(peer, message, s);
    };
    const { client, peer } = await open();
    const { file } = await fileOf(1000);
    const chat = client.say('waiting'); // Out before the file, unanswered: it must not take the error.
    await expect.poll(() => said !== undefined).toBe(true);
    await expect(client.sendFile(file)).rejects.toMatchObject({ name: 'ProtocolError', code: 'FILE_CHECKSUM_MISMATCH' });
    said!();
    await expect(chat).resolves.toMatchObject({ text: 'waiting' });
    expect(peer.all('file-abort')).toHaveLength(0); // The server ended it; nothing to abort.
  });

  it('rejects a missing file or a directory with FILE_UNREADABLE', async () => {
    const { client } = await open();
    await expect(client.sendFile(path.join(work, 'nope'))).rejects.toMatchObject({ code: 'FILE_UNREADABLE' });
    await expect(client.sendFile(work)).rejects.toMatchObject({ code: 'FILE_UNREADABLE' });
  });

  it('waits for drain: reading the file stops while the server does not read', async () => {
    const size = 48 * 1024 * 1024;
    let paused: Peer | undefined;
    server.respond = (peer, message, s) => {
      hubResponder(peer, message, s);
      if (message.type === 'file-offer') {
        peer.socket.pause();
        paused = peer;
      }
    };
    const { client } = await open();
    const { file, data } = await fileOf(size);
    let sent = 0;
    const sending = client.sendFile(file, { onProgress: (n) => (sent = n) });
    await expect.poll(() => paused !== undefined && sent > 0).toBe(true);
    // Let the socket buffers fill, then check that progress has stopped short of the end.
    let last = -1;
    for (let i = 0; i < 50 && sent !== last; i++) {
      last = sent;
      await sleep(100);
    }
    expect(sent).toBe(last);
    expect(sent).toBeLessThan(size);
    paused!.socket.resume();
    await expect(sending).resolves.toMatchObject({ size, sha256: sha256(data) });
    await expect.poll(() => server.finished.length).toBe(1);
    expect(server.finished[0]!.received).toBe(size);
  }, 30_000);

  it("aborts on the caller's signal and tells the server", async () => {
    const { client, peer } = await open();
    const { file } = await fileOf(20 * FILE_CHUNK_BYTES);
    const controller = new AbortController();
    const sending = client.sendFile(file, {
      signal: controller.signal,
      onProgress: (n) => {
        if (n >= 2 * FILE_CHUNK_BYTES) controller.abort();
      },
    });
    await expect(sending).rejects.toMatchObject({ code: 'FILE_CANCELLED' });
    expect(await peer.take('file-abort')).toMatchObject({ transfer: 1 });
    expect(peer.all('file-end')).toHaveLength(0);
  });

  it('reaches another client through the server: alice sends, bob saves', async () => {
    const { client: alice } = await open();
    const bobDownloads = path.join(work, 'bob');
    const { client: bob } = await open({ name: 'bob', downloadDir: bobDownloads });
    const { file, data } = await fileOf(200_000, 'photo.jpg');
    const offered = nextEvent<ServerMessage>(bob, 'file-offer');
    const saved = nextEvent<FileSaved>(bob, 'file-saved');
    const aliceSaved = collect<FileSaved>(alice, 'file-saved');
    await alice.sendFile(file, { to: 'bob', mime: 'image/jpeg' });
    expect(await offered).toMatchObject({ from: 'alice', name: 'photo.jpg', mime: 'image/jpeg', to: 'bob' });
    const result = await saved;
    expect(result.path).toBe(path.join(bobDownloads, 'photo.jpg'));
    expect(await readFile(result.path!)).toEqual(data);
    expect(aliceSaved).toEqual([]); // The sender's own offer echo is not a download.
  });

  it('sends an empty file', async () => {
    const { client, peer } = await open();
    const { file } = await fileOf(0, 'empty');
    await client.sendFile(file);
    expect(await peer.take('file-end')).toMatchObject({ sha256: sha256(new Uint8Array(0)) });
    expect(peer.all('file-data')).toHaveLength(0);
  });
});

// A self-signed certificate for 127.0.0.1, made with the system's openssl when it exists.
let certificate: { key: string; cert: string } | undefined;
beforeAll(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'switchboard-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    certificate = { key: await readFile(path.join(dir, 'key.pem'), 'utf8'), cert: await readFile(path.join(dir, 'cert.pem'), 'utf8') };
  } catch {
    certificate = undefined;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 30_000);

describe('TLS', () => {
  it('connects over TLS with a trusted CA, and refuses an untrusted certificate', async (context) => {
    if (!certificate) context.skip();
    const secure = await ScriptedServer.start({ tls: certificate! });
    try {
      const { client } = await open({ tls: { ca: certificate!.cert } }, secure);
      expect(await client.say('encrypted')).toMatchObject({ text: 'encrypted' });
      const failure = await connect({ port: secure.port, name: 'eve', tls: true }).catch((e: unknown) => e);
      expect(failure).toMatchObject({ code: 'CONNECT_FAILED' });
      expect((failure as Error).message).toMatch(/^cannot connect to 127\.0\.0\.1:\d+: .*certificate/);
      const insecure = await connect({ port: secure.port, name: 'mallory', tls: { rejectUnauthorized: false } });
      clients.push(insecure);
      expect(insecure.name).toBe('mallory');
    } finally {
      await secure.close();
    }
  });
});
