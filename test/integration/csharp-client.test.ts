import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FrameDecoder, decodeServerMessage, encodeMessage } from '@switchboard/protocol';
import { connect } from '@switchboard/client';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { perRoomIds } from '../helpers/per-room-ids.js';
import { repoRoot } from '../helpers/gateway-process.js';
import { RawSocket } from '../helpers/raw-socket.js';

// The C# client (clients/csharp), built with Mono's mcs alone and run with mono: its self-test
// program checks the byte vectors and plays one side of a chat; this file plays the other side
// with the Node client and a plain TCP device, in one room of a real gateway.
const csharp = join(repoRoot, 'clients/csharp');
const build = mkdtempSync(join(tmpdir(), 'switchboard-csharp-'));
const dll = join(build, 'Switchboard.Client.dll');

function mcs(args: string[]): void {
  const result = spawnSync('mcs', args, { cwd: csharp, encoding: 'utf8' });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`mcs ${args.join(' ')} failed:\n${result.stdout}${result.stderr}`);
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function mono(args: string[], options: { env?: Record<string, string>; input?: string; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('mono', args, { cwd: options.cwd ?? build, env: { ...process.env, MONO_PATH: build, ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('exit', () => clearTimeout(timer));
    child.stdin.end(options.input ?? '');
  });
}

/** The texts of the type-0 lines in bytes a plain device received (and nothing else is allowed). */
function deviceLines(bytes: Uint8Array): string[] {
  const lines: string[] = [];
  const decoder = new FrameDecoder((type, payload) => {
    const message = decodeServerMessage(type, payload);
    if (message.type !== 'text') throw new Error(`the device got a ${message.type} frame`);
    lines.push(message.text);
  });
  decoder.push(bytes);
  return lines;
}

beforeAll(() => {
  const sources = readdirSync(join(csharp, 'src'))
    .filter((f) => f.endsWith('.cs'))
    .map((f) => join('src', f));
  mcs(['-target:library', '-warnaserror+', `-out:${dll}`, ...sources]);
  mcs(['-warnaserror+', `-r:${dll}`, `-out:${join(build, 'SelfTest.exe')}`, 'test/SelfTest.cs']);
  mcs(['-warnaserror+', `-r:${dll}`, `-out:${join(build, 'ChatConsole.exe')}`, 'sample/ChatConsole.cs']);
}, 180_000);

afterAll(() => rmSync(build, { recursive: true, force: true }));

describe('the C# client', () => {
  it('encodes and decodes the protocol byte vectors', async () => {
    const result = await mono(['SelfTest.exe', 'vectors', join(repoRoot, 'packages/protocol/test/vectors.json')]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/vectors: \d+ checked\nPASS/);
    expect(result.code).toBe(0);
  }, 60_000);

  describe('against a real gateway', () => {
    let gateway: RunningGateway;
    const work = mkdtempSync(join(tmpdir(), 'switchboard-csharp-chat-'));
    beforeAll(async () => {
      // A long hello timeout: Mono's first hello, compiled just in time on a loaded machine,
      // may take longer than the helper's 150 ms (it would join as a plain device, then rename).
      gateway = await startGateway({ timing: { helloTimeoutMs: 5_000 } });
    });
    afterAll(async () => {
      await gateway.close();
      rmSync(work, { recursive: true, force: true });
    });

    it('chats in one room with a plain TCP device and the Node client: online list, all, one, files, history, errors, sign-in, reconnect', async () => {
      const wait = 60_000;
      const bob = await connect({ port: gateway.tcpPort, name: 'node-bob', downloadDir: work });
      const deviceArrived = bob.waitFor('presence', (p) => p.event === 'join' && /^127\.0\.0\.1:\d+$/.test(p.member.name), 10_000);
      const device = await RawSocket.connect(gateway.tcpPort);
      device.write(encodeMessage({ type: 'text', text: 'device online' })); // a first frame that is not hello: a plain device at once
      await deviceArrived;

      const account = await fetch(`${gateway.httpUrl}/api/accounts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'cs-member', password: 'correct horse' }),
      });
      expect(account.status).toBe(201);

      const hello = bob.waitFor('message', (m) => m.text === 'hello from C#' && m.from === 'cs-alice', wait);
      const run = mono(['SelfTest.exe', 'chat', String(gateway.tcpPort), 'node-bob']);
      // Each wait ends early, with the program's output, if the C# side stops first.
      const exitedEarly = run.then((r) => Promise.reject(new Error(`SelfTest chat ended first (exit ${r.code}):\n${r.stdout}${r.stderr}`)));
      exitedEarly.catch(() => undefined);
      const meanwhile = <T>(step: Promise<T>): Promise<T> => Promise.race([step, exitedEarly]);
      await meanwhile(hello);
      const privately = bob.waitFor('private', (m) => m.text === 'psst from C#' && m.from === 'cs-alice', wait);
      await bob.say('hi C#');
      device.write(encodeMessage({ type: 'text', text: 'device line' }));
      await meanwhile(privately);
      const saved = new Promise<{ name: string; sha256: string; path: string | null }>((resolve) => bob.once('file-saved', resolve));
      await bob.private('cs-alice', 'psst back');
      const file = await meanwhile(saved);
      const content = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7) % 251);
      expect(file.name).toBe('from-csharp.bin');
      expect(file.sha256).toBe(createHash('sha256').update(content).digest('hex'));
      expect(readFileSync(file.path!)).toEqual(Buffer.from(content));
      const back = bob.waitFor('message', (m) => m.text === 'back again' && m.from === 'cs-alice', wait);
      const path = join(work, 'from-node.txt');
      writeFileSync(path, 'file from node');
      await bob.sendFile(path, { to: 'cs-alice' });
      await meanwhile(back);

      const result = await run;
      expect(result.stderr).toBe('');
      expect(result.stdout).toContain('online: ');
      expect(result.stdout.trim().endsWith('PASS')).toBe(true);
      expect(result.code).toBe(0);

      // Exactly what reached the device: what people said in lobby as type-0 text, never its own
      // line, never the private messages or the private file, no presence or file lines (a plain
      // device gets room text only, PROTOCOL.md §2) and no structured frame. A last line from bob,
      // after C# has gone, marks the end.
      const before = await device.until('cs-alice: back again');
      await bob.say('the end');
      const lines = deviceLines(Buffer.concat([before, await device.until('node-bob: the end')]));
      expect(device.received.length).toBe(0);
      expect(lines).toEqual(['cs-alice: hello from C#', 'node-bob: hi C#', 'cs-alice: back again', 'node-bob: the end']);
      await bob.close();
      device.socket.destroy();
    }, 120_000);

    it('answers the heartbeat: silent for 2 s on a gateway that pings after 400 ms and drops 400 ms later', async () => {
      const quick = await startGateway({ timing: { heartbeatMs: 400, helloTimeoutMs: 5_000 } });
      try {
        const result = await mono(['SelfTest.exe', 'heartbeat', String(quick.tcpPort)]);
        expect(result.stderr).toBe('');
        expect(result.stdout.trim()).toBe('PASS');
        expect(result.code).toBe(0);
      } finally {
        await quick.close();
      }
    }, 60_000);

    it('resumes each room from its own last id on a gateway that takes ids per room (LastIds, Missed)', async () => {
      const perRoom = await startGateway({ timing: { helloTimeoutMs: 5_000 } }, { cluster: perRoomIds() });
      try {
        const result = await mono(['SelfTest.exe', 'rooms', String(perRoom.tcpPort)]);
        expect(result.stderr).toBe('');
        expect(result.stdout.trim()).toBe('PASS');
        expect(result.code).toBe(0);
      } finally {
        await perRoom.close();
      }
    }, 90_000);

    it('the console sample connects, shows who is online, sends to all, to one, and a file', async () => {
      const carol = await connect({ port: gateway.tcpPort, name: 'node-carol', downloadDir: work });
      const path = join(work, 'sample-report.txt');
      writeFileSync(path, 'sent by the sample');
      const toAll = carol.waitFor('message', (m) => m.text === 'hello everyone' && m.from === 'cs-sample', 60_000);
      const toOne = carol.waitFor('private', (m) => m.text === 'just you' && m.from === 'cs-sample', 60_000);
      const saved = new Promise<{ name: string; from: string; path: string | null }>((resolve) => carol.once('file-saved', resolve));
      const result = await mono([join(build, 'ChatConsole.exe'), '--port', String(gateway.tcpPort), '--name', 'cs-sample'], {
        input: `hello everyone\n/msg node-carol just you\n/send node-carol ${path}\n/online\n`,
        cwd: work,
      });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      await toAll;
      await toOne;
      const file = await saved;
      expect(file).toMatchObject({ name: 'sample-report.txt', from: 'cs-sample' });
      expect(readFileSync(file.path!, 'utf8')).toBe('sent by the sample');
      const online = result.stdout.split('\n').filter((line) => line.startsWith('* online in lobby: '));
      expect(online.length).toBe(2);
      expect(online[0]!.split(': ')[1]!.split(', ')).toEqual(expect.arrayContaining(['cs-sample', 'node-carol']));
      expect(result.stdout).toContain('cs-sample: hello everyone');
      expect(result.stdout).toContain('[private] cs-sample -> node-carol: just you');
      expect(result.stdout).toMatch(/\* sent sample-report\.txt \(18 bytes, sha256 [0-9a-f]{64}\)/);
      await carol.close();
    }, 120_000);

    it("the README's first example runs as printed, with the gateway's port in SWITCHBOARD_PORT", async () => {
      const readme = readFileSync(join(csharp, 'README.md'), 'utf8');
      const example = /```csharp\n([\s\S]*?)```/.exec(readme)![1]!;
      expect(example).toContain('"127.0.0.1"');
      expect(example).toContain('?? "9000"');
      writeFileSync(join(build, 'Example.cs'), example);
      mcs([`-r:${dll}`, `-out:${join(build, 'Example.exe')}`, join(build, 'Example.cs')]);
      const dan = await connect({ port: gateway.tcpPort, name: 'node-dan' });
      const hello = dan.waitFor('message', (m) => m.text === 'hello from C#' && m.from === 'cs-example', 30_000);
      const run = mono(['Example.exe'], { env: { SWITCHBOARD_PORT: String(gateway.tcpPort) } });
      await hello;
      await dan.say('hi, example');
      const result = await run;
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const lines = result.stdout.split('\n');
      expect(lines).toContain('cs-example: hello from C#');
      expect(lines).toContain('node-dan: hi, example');
      await dan.close();
    }, 60_000);
  });
});
