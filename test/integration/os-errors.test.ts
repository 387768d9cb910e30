import { spawn } from 'node:child_process';
import net from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, spawnGateway } from '../helpers/gateway-process.js';
import { Peer, sleep } from '../helpers/peer.js';

describe('errors from the operating system reach the operator', () => {
  it('at the open-file limit: new members are refused with a reason, the API keeps working and reports it', async () => {
    const gateway = await spawnGateway(['--data-dir', ''], {}, { openFileLimit: 100 });
    try {
      expect(gateway.output()).toMatch(/open-file limit allows about 36 members/);
      const peers: Peer[] = [];
      for (let i = 0; i < 50; i++) peers.push(await Peer.tcp(gateway.tcpPort));
      await sleep(300);
      const refused = peers.filter((p) => p.received.some((m) => m.type === 'error' && m.code === 'TOO_MANY_CONNECTIONS'));
      expect(refused.length).toBeGreaterThanOrEqual(10);
      const error = refused[0]!.received.find((m) => m.type === 'error');
      expect(error).toMatchObject({ message: expect.stringContaining('open-file limit (100)') });
      // The reserve keeps the REST API reachable, and it says what is wrong.
      const status = (await (await fetch(`${gateway.httpUrl}/api/listener`)).json()) as { lastError: { code: string; message: string } | null };
      expect(status.lastError).toMatchObject({ code: 'TOO_MANY_OPEN_FILES', message: expect.stringContaining('ulimit -n 100') });
      expect(gateway.output()).toMatch(/open-file limit \(ulimit -n 100\)/);
      for (const p of peers) p.destroy();
    } finally {
      await gateway.stop();
    }
  });

  it('a taken port at start: a clear message on the console and exit code 1', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    const child = spawn(process.execPath, [join(repoRoot, 'apps/gateway/dist/main.js'), '--http-port', '0', '--tcp-port', String(port), '--data-dir', ''], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    blocker.close();
    expect(code).toBe(1);
    expect(output).toContain(`switchboard: Cannot listen on 127.0.0.1:${port}: the address is already in use.`);
  });

  it('a bad flag: a clear message and exit code 2', async () => {
    const child = spawn(process.execPath, [join(repoRoot, 'apps/gateway/dist/main.js'), '--tcp-port', 'ninety'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stderr.on('data', (c) => (output += c));
    expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(2);
    expect(output).toContain('--tcp-port (SWITCHBOARD_TCP_PORT) must be a port from 0 to 65535, got "ninety".');
  });
});
