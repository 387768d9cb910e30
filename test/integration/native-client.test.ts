import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@switchboard/client';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { repoRoot } from '../helpers/gateway-process.js';
import { Peer } from '../helpers/peer.js';

let gateway: RunningGateway;
const work = mkdtempSync(join(tmpdir(), 'switchboard-native-'));
beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(async () => {
  await gateway.close();
  rmSync(work, { recursive: true, force: true });
});

/** The CLI as `npm run client` runs it (compiled by tsc -b), stdin piped. */
function runCli(args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(repoRoot, 'packages/client/dist/cli.js'), '--host', '127.0.0.1', '--port', String(gateway.tcpPort), ...args], {
      cwd: work,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('exit', (code) => done({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

describe('the native client against a real gateway', () => {
  it('CLI: piped lines reach the room, /msg reaches one member, and it exits 0 once acknowledged', async () => {
    const browser = await Peer.ws(gateway.wsUrl);
    await browser.hello('watcher');
    const result = await runCli(['--name', 'cli-alice'], 'hello from the CLI\n/msg watcher just for you\n/join ops\nin ops now\n');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    await expect(browser.find('message', (m) => m.text === 'hello from the CLI')).resolves.toMatchObject({
      from: 'cli-alice',
      transport: 'tcp',
      room: 'lobby',
    });
    await expect(browser.find('private', (m) => m.text === 'just for you')).resolves.toMatchObject({ from: 'cli-alice', to: 'watcher' });
    const history = await fetch(`${gateway.httpUrl}/api/history?room=ops`).then((r) => r.json() as Promise<{ entries: { text: string }[] }>);
    expect(history.entries.map((e) => e.text)).toContain('in ops now');
    browser.end();
  });

  it('CLI --raw is a plain device: named by its address, its lines reach the room', async () => {
    const browser = await Peer.ws(gateway.wsUrl);
    await browser.hello('raw-watcher');
    const result = await runCli(['--raw'], 'raw line\n');
    expect(result.code).toBe(0);
    const got = await browser.find('message', (m) => m.text === 'raw line');
    expect(got.from).toMatch(/^127\.0\.0\.1:\d+$/);
    browser.end();
  });

  it('CLI: a taken name exits non-zero with a clear message', async () => {
    const holder = await Peer.tcp(gateway.tcpPort);
    await holder.hello('taken-name');
    const result = await runCli(['--name', 'taken-name'], 'hi\n');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/NAME_TAKEN|taken/);
    holder.end();
  });

  it('files: /send from the CLI is saved by a client with the checksum verified; a hostile name stays inside the download folder', async () => {
    const downloads = join(work, 'downloads-bob');
    const bob = await connect({ host: '127.0.0.1', port: gateway.tcpPort, name: 'bob', downloadDir: downloads });
    const data = randomBytes(3 * 1024 * 1024 + 7);
    const source = join(work, 'report.bin');
    writeFileSync(source, data);
    const saved = bob.waitFor('file-end', () => true, 20_000);
    const savedEvent = new Promise<{ path: string | null; sha256: string }>((resolve) => bob.once('file-saved', resolve));
    const result = await runCli(['--name', 'cli-sender'], `/send ${source}\n`);
    expect(result.code).toBe(0);
    await saved;
    const first = await savedEvent;
    expect(resolve(first.path!)).toBe(resolve(downloads, 'report.bin'));
    expect(createHash('sha256').update(readFileSync(first.path!)).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));

    // A sender that names its file ../../etc/passwd (through the library's name option).
    const mallory = await connect({ host: '127.0.0.1', port: gateway.tcpPort, name: 'mallory' });
    const evil = Buffer.from('root:x:0:0:not really\n');
    const evilPath = join(work, 'evil.txt');
    writeFileSync(evilPath, evil);
    const secondSaved = new Promise<{ path: string | null }>((resolve) => bob.once('file-saved', resolve));
    await mallory.sendFile(evilPath, { to: 'bob', name: '../../etc/passwd' });
    const second = await secondSaved;
    expect(resolve(second.path!).startsWith(resolve(downloads) + '/')).toBe(true);
    expect(readdirSync(downloads).sort()).toEqual(['passwd', 'report.bin']);
    expect(readFileSync(second.path!)).toEqual(evil);
    expect(existsSync(resolve(downloads, '../../etc/passwd'))).toBe(false);
    await mallory.close();
    await bob.close();
  });
});
