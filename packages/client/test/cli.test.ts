// The command line as a user runs it: the compiled dist/cli.js in a child process, talking
// to the scripted server over a real socket, with stdin piped.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ScriptedServer, hubResponder, type Peer } from './scripted-server.js';

const repo = path.resolve(import.meta.dirname, '../../..');
const cli = path.join(repo, 'packages/client/dist/cli.js');
const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');
const TIME = String.raw`\[\d\d:\d\d:\d\d\]`;

beforeAll(() => {
  execFileSync('npx', ['tsc', '-b', 'packages/client'], { cwd: repo, stdio: 'pipe' });
}, 120_000);

let server: ScriptedServer;
let work: string;
const children: ChildProcessWithoutNullStreams[] = [];

beforeEach(async () => {
  server = await ScriptedServer.start();
  work = await mkdtemp(path.join(tmpdir(), 'switchboard-cli-'));
});

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await server.close();
  await rm(work, { recursive: true, force: true });
});

interface Run {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
  /** Resolves once stdout contains `text`. */
  printed: (text: string | RegExp, timeoutMs?: number) => Promise<void>;
}

function run(args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, [cli, ...args], {
    cwd: work,
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const printed = async (text: string | RegExp, timeoutMs = 5000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!(typeof text === 'string' ? out.includes(text) : text.test(out))) {
      if (Date.now() > deadline) throw new Error(`stdout never showed ${String(text)}; stdout:\n${out}\nstderr:\n${err}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  return { child, stdout: () => out, stderr: () => err, exited, printed };
}

const base = (): string[] => ['--port', String(server.port)];

describe('switchboard-client (CLI)', () => {
  it('says piped lines in the room and exits 0 once the server has echoed them', async () => {
    const arriving = server.nextPeer();
    const cli = run([...base(), '--name', 'alice']);
    cli.child.stdin.end('hello\nsecond line\n//slash\n');
    expect(await cli.exited).toBe(0);
    const peer = await arriving;
    expect(peer.received[0]).toEqual({ type: 'hello', v: 1, name: 'alice', ref: expect.any(String) });
    expect(peer.all('message').map((m) => m.text)).toEqual(['hello', 'second line', '/slash']);
    expect(cli.stdout()).toMatch(new RegExp(`^${TIME} alice: hello$`, 'm'));
    expect(cli.stdout()).toMatch(new RegExp(`^${TIME} alice: /slash$`, 'm'));
    expect(cli.stdout()).toContain('* alice joined lobby');
    expect(cli.stderr()).toBe('');
  });

  it('runs piped commands in order even when stdin ends at once', async () => {
    const arriving = server.nextPeer();
    const cli = run([...base(), '--name', 'alice']);
    cli.child.stdin.end('/join ops\nin ops\n/leave ops\nback in lobby\n/quit\nnot sent\n');
    expect(await cli.exited).toBe(0);
    const peer = await arriving;
    expect(peer.received.map((m) => m.type)).toEqual(['hello', 'join', 'message', 'leave', 'message']);
    expect(cli.stdout()).toMatch(new RegExp(`^${TIME} alice: in ops$`, 'm'));
    expect(cli.stdout()).toMatch(new RegExp(`^${TIME} alice: back in lobby$`, 'm'));
  });

  it('does not exit before the echo of every line has arrived', async () => {
    let release: (() => void) | undefined;
    server.respond = (peer, message, s) => {
      if (message.type === 'message' && message.text === 'slow') release = () => hubResponder(peer, message, s);
      else hubResponder(peer, message, s);
    };
    const cli = run([...base(), '--name', 'alice']);
    cli.child.stdin.end('slow\n');
    await expect.poll(() => release !== undefined).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(cli.child.exitCode).toBeNull();
    release!();
    expect(await cli.exited).toBe(0);
    expect(cli.stdout()).toMatch(new RegExp(`^${TIME} alice: slow$`, 'm'));
  });

  it('--raw sends every line as a type-0 frame without hello and prints text lines', async () => {
    server.respond = (peer, message) => {
      if (message.type === 'text' && message.text === 'ask') void peer.send({ type: 'text', text: 'alice: answer' });
    };
    const arriving = server.nextPeer();
    const cli = run([...base(), '--raw']);
    const peer = await arriving;
    cli.child.stdin.write('ask\n');
    await cli.printed('alice: answer');
    cli.child.stdin.end('plain line\n/not a command\n');
    expect(await cli.exited).toBe(0);
    expect(peer.all('hello')).toHaveLength(0);
    expect(peer.received).toEqual([
      { type: 'text', text: 'ask' },
      { type: 'text', text: 'plain line' },
      { type: 'text', text: '/not a command' },
    ]);
  });

  it('exits 1 with one clear line when the connection is refused', async () => {
    const closed = await ScriptedServer.start();
    const port = closed.port;
    await closed.close();
    const cli = run(['--port', String(port)]);
    expect(await cli.exited).toBe(1);
    expect(cli.stderr()).toBe(`switchboard-client: cannot connect to 127.0.0.1:${port}: connection refused\n`);
  });

  it('exits 1 when the name is taken', async () => {
    server.takenNames.add('alice');
    const cli = run([...base(), '--name', 'alice']);
    cli.child.stdin.end();
    expect(await cli.exited).toBe(1);
    expect(cli.stderr()).toMatch(/^switchboard-client: cannot join 127\.0\.0\.1:\d+ as alice: NAME_TAKEN: .+\n$/);
  });

  it('exits 2 on a bad option', async () => {
    const cli = run(['--port', 'ninety']);
    expect(await cli.exited).toBe(2);
    expect(cli.stderr()).toContain('invalid port "ninety"');
  });

  it('reads SWITCHBOARD_PORT and SWITCHBOARD_NAME', async () => {
    const arriving = server.nextPeer();
    const cli = run([], { SWITCHBOARD_PORT: String(server.port), SWITCHBOARD_NAME: 'envname' });
    cli.child.stdin.end('hi\n');
    expect(await cli.exited).toBe(0);
    expect((await arriving).received[0]).toMatchObject({ type: 'hello', name: 'envname' });
  });

  it('runs the commands', async () => {
    const arrivingBob = server.nextPeer();
    const bob = run([...base(), '--name', 'bob', '--listen']);
    await arrivingBob;
    const arriving = server.nextPeer();
    const cli = run([...base(), '--name', 'alice']);
    const peer = await arriving;
    cli.child.stdin.write('/join ops\nin ops\n/msg bob psst\n/rooms\n/who lobby\n/ping\n/nick alice2\n/history 5\n/leave ops\nback\n');
    await cli.printed(`alice2: back`);
    cli.child.stdin.end('/quit\nnever sent\n');
    expect(await cli.exited).toBe(0);
    expect(peer.all('message').map((m) => m.text)).toEqual(['in ops', 'back']);
    expect(peer.all('join')).toEqual([{ type: 'join', room: 'ops', ref: expect.any(String) }]);
    expect(peer.all('private')).toEqual([{ type: 'private', to: 'bob', text: 'psst', ref: expect.any(String) }]);
    const out = cli.stdout();
    expect(out).toMatch(new RegExp(`^${TIME} alice: in ops$`, 'm'));
    expect(out).toMatch(new RegExp(`^${TIME} \\[private\\] alice → bob: psst$`, 'm'));
    expect(out).toContain('* rooms: ');
    expect(out).toContain('* in lobby: bob, alice');
    expect(out).toMatch(/^\* pong in \d+\.\d ms$/m);
    expect(out).toContain('* alice is now alice2');
    // Once as the echo, once from /history, which ran in ops because it waited for /join.
    expect(out.match(new RegExp(`^${TIME} alice: in ops$`, 'gm'))).toHaveLength(2);
    expect(out).toMatch(new RegExp(`^${TIME} alice2: back$`, 'm'));
    await bob.printed(`[private] alice → bob: psst`);
    bob.child.kill('SIGTERM');
    expect(await bob.exited).toBe(0);
  });

  it('reports a refused line on stderr and exits 1', async () => {
    const cli = run([...base(), '--name', 'alice']);
    cli.child.stdin.end('/msg nobody hi\n/bogus\nfine\n');
    expect(await cli.exited).toBe(1);
    expect(cli.stderr()).toContain('! NO_SUCH_MEMBER: Nobody is called nobody.');
    expect(cli.stderr()).toContain('! unknown command /bogus (try /help)');
    expect(cli.stdout()).toMatch(new RegExp(`^${TIME} alice: fine$`, 'm'));
  });

  it('/send sends a file and waits for it before exiting', async () => {
    const data = randomBytes(150_000);
    await writeFile(path.join(work, 'report.pdf'), data);
    const arriving = server.nextPeer();
    const cli = run([...base(), '--name', 'alice']);
    cli.child.stdin.end('/send report.pdf\n');
    expect(await cli.exited).toBe(0);
    const peer = await arriving;
    expect(peer.all('file-offer')).toEqual([{ type: 'file-offer', transfer: 1, name: 'report.pdf', size: data.length, ref: expect.any(String) }]);
    expect(Buffer.concat(peer.all('file-data').map((c) => c.data))).toEqual(data);
    expect(peer.all('file-end')).toEqual([{ type: 'file-end', transfer: 1, sha256: sha256(data), ref: expect.any(String) }]);
    expect(cli.stdout()).toContain(`* sent report.pdf (${data.length} bytes, sha256 ${sha256(data).slice(0, 12)}…)`);
  });

  it('/send of a missing file fails with a clear message', async () => {
    const cli = run([...base(), '--name', 'alice']);
    cli.child.stdin.end('/send nothing.txt\n');
    expect(await cli.exited).toBe(1);
    expect(cli.stderr()).toContain('! could not send nothing.txt: FILE_UNREADABLE: Cannot read nothing.txt: no such file.');
  });

  it('saves a received file in --downloads and says so', async () => {
    const arriving = server.nextPeer();
    const cli = run([...base(), '--name', 'alice', '--downloads', 'inbox']);
    const peer = await arriving;
    await peer.take('hello');
    const data = randomBytes(100_000);
    await peer.send({
      type: 'file-offer',
      transfer: 9,
      id: 1,
      from: 'bob',
      transport: 'tcp',
      ts: Date.now(),
      name: '../report.pdf',
      size: data.length,
      mime: 'application/pdf',
      room: 'lobby',
    });
    for (let at = 0; at < data.length; at += 65536) await peer.send({ type: 'file-data', transfer: 9, data: data.subarray(at, at + 65536) });
    await peer.send({ type: 'file-end', transfer: 9, sha256: sha256(data) });
    await cli.printed(`* saved ../report.pdf (${data.length} bytes, sha256 ok) to ${path.join('inbox', 'report.pdf')}`);
    cli.child.stdin.end();
    expect(await cli.exited).toBe(0);
    expect(cli.stdout()).toContain(`* bob sent a file: ../report.pdf (${data.length} bytes)`);
    expect(await readFile(path.join(work, 'inbox', 'report.pdf'))).toEqual(data);
  });

  it('never lets chat text drive the terminal', async () => {
    const arriving = server.nextPeer();
    const cli = run([...base(), '--name', 'alice']);
    const peer = await arriving;
    await peer.take('hello');
    await peer.send({
      type: 'message',
      id: 1,
      room: 'lobby',
      from: 'mallory',
      transport: 'tcp',
      ts: Date.now(),
      text: 'hi\u001b[2J\u001b]0;pwned\u0007\nfake line',
    });
    await cli.printed('mallory: hi');
    cli.child.stdin.end();
    expect(await cli.exited).toBe(0);
    expect(cli.stdout()).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
    expect(cli.stdout()).toContain('mallory: hi[2J]0;pwned ↵ fake line');
  });

  it('exits 1 when the server closes the connection, saying why', async () => {
    const arriving = server.nextPeer();
    const cli = run([...base(), '--name', 'alice', '--listen']);
    const peer: Peer = await arriving;
    await peer.take('hello');
    await cli.printed('* alice joined lobby');
    await peer.error('KICKED', 'An administrator removed you.', true);
    expect(await cli.exited).toBe(1);
    expect(cli.stderr()).toContain('switchboard-client: connection closed (KICKED: An administrator removed you.)');
  });

  it('--listen keeps running after stdin ends', async () => {
    const arriving = server.nextPeer();
    const cli = run([...base(), '--name', 'alice', '--listen']);
    const peer = await arriving;
    await peer.take('hello');
    cli.child.stdin.end();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(cli.child.exitCode).toBeNull();
    await peer.send({ type: 'notice', text: 'still listening?', ts: Date.now() });
    await cli.printed('* server: still listening?');
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
  });
});
