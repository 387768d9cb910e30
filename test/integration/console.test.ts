import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { api, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { Peer, sleep } from '../helpers/peer.js';
import { RawSocket } from '../helpers/raw-socket.js';
import type { TrafficEntry } from '../../apps/gateway/src/routes/api-types.js';
import { trafficCsv as pageTrafficCsv } from '../../apps/web/src/lib/console/traffic-export.js';
import { itemFromEntry } from '../../apps/web/src/lib/console/traffic-item.js';

// Issue 11, the gateway's side of the device console: auto-replies that run with no browser
// open, their rate cap, the bounded traffic log and its export, shared macros.

const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-console-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
const settings = {
  limits: { ratePerSecond: 100_000, rateBurst: 100_000 } as never,
  devices: { listen: [], targets: '127.0.0.1', backoffMaxMs: 400, trafficEntries: 200, ruleMaxPerSecond: 5 },
};

async function lineListener(gateway: RunningGateway, id: string): Promise<number> {
  const created = await api(gateway, 'POST', '/api/listeners', { id, port: 0, framing: 'line', delimiter: '\\r\\n' });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body.port;
}

describe('auto-reply rules', () => {
  it('answer PING with PONG within 100 ms with no browser open, and survive a restart', async () => {
    const first = await startGateway(settings, { keepDataDir: dataDir });
    const port = await lineListener(first, 'plc');
    const rule = await api(first, 'POST', '/api/rules', { scope: { listener: 'plc' }, match: { equals: 'PING' }, reply: 'PONG\\r\\n' });
    expect(rule.status, JSON.stringify(rule.body)).toBe(201);
    expect(rule.body).toMatchObject({ id: expect.any(String), enabled: true, delayMs: 0 });
    const device = await RawSocket.connect(port);
    const sentAt = performance.now();
    device.write('PING\r\n');
    expect((await device.until('\r\n', 1000)).toString()).toBe('PONG\r\n'); // the delimiter once, not twice
    expect(performance.now() - sentAt).toBeLessThan(100);
    device.destroy();
    await first.close();

    const second = await startGateway(settings, { keepDataDir: dataDir });
    try {
      expect((await api(second, 'GET', '/api/rules')).body.rules).toEqual([expect.objectContaining({ id: rule.body.id, match: { equals: 'PING' } })]);
      const listener = (await api(second, 'GET', '/api/listeners')).body.listeners.find((l: { id: string }) => l.id === 'plc');
      const again = await RawSocket.connect(listener.port);
      again.write('PING\r\n');
      expect((await again.until('\r\n', 1000)).toString()).toBe('PONG\r\n');
      // Templates, hex replies and matches.
      await api(second, 'POST', '/api/rules', { scope: 'all', match: { hex: '02 53 03' }, reply: { hex: '06' } });
      await api(second, 'POST', '/api/rules', { scope: { link: 'nobody' }, match: { contains: 'X' }, reply: 'never' });
      expect((await api(second, 'POST', '/api/rules', { scope: { client: 'nobody' }, match: { contains: 'X' }, reply: 'never' })).body.code).toBe(
        'DEVICE_NOT_FOUND',
      );
      await api(second, 'POST', '/api/rules', { scope: 'all', match: { regex: '^COUNT$' }, reply: 'n={{counter}}' });
      again.write(Buffer.from([0x02, 0x53, 0x03, 0x0d, 0x0a]));
      expect([...(await again.take(3))]).toEqual([0x06, 0x0d, 0x0a]);
      again.write('COUNT\r\nCOUNT\r\nX\r\n');
      expect((await again.until('n=2\r\n')).toString()).toBe('n=1\r\nn=2\r\n');
      await sleep(100);
      expect(again.received.length).toBe(0); // the rule scoped to another client stayed quiet
      expect((await api(second, 'POST', '/api/rules', { scope: 'all', match: { regex: '(' }, reply: 'x' })).body.code).toBe('RULE_PATTERN_INVALID');
      expect((await api(second, 'DELETE', '/api/rules/r999')).status).toBe(404);
      again.destroy();
    } finally {
      await second.close();
    }
  });

  it('hold a reply storm between a rule and a device that answers back to the rate cap', async () => {
    const gateway = await startGateway({ ...settings, dataDir: undefined });
    try {
      const port = await lineListener(gateway, 'storm');
      await api(gateway, 'POST', '/api/rules', { scope: 'all', match: { equals: 'PING' }, reply: 'PONG' });
      // A device whose own logic answers every PONG with PING: left alone, an endless loop.
      const device = await RawSocket.connect(port);
      let pongs = 0;
      device.socket.on('data', (chunk: Buffer) => {
        const count = chunk.toString().split('PONG').length - 1;
        pongs += count;
        for (let i = 0; i < count; i++) device.write('PING\r\n');
      });
      device.write('PING\r\n');
      await sleep(2100);
      // 5 a second at most: in a little over two seconds, no more than three windows' worth.
      expect(pongs).toBeGreaterThanOrEqual(5);
      expect(pongs).toBeLessThanOrEqual(15);
      const auto = (await api(gateway, 'GET', `/api/clients/${(await clientOf(gateway)).id}/traffic`)).body.entries.filter((e: { auto: boolean }) => e.auto);
      expect(auto.length).toBe(pongs); // each firing is in the traffic log, marked as an auto-reply
      device.destroy();
    } finally {
      await gateway.close();
    }
  });
});

async function clientOf(gateway: RunningGateway): Promise<{ id: string }> {
  return (await api(gateway, 'GET', '/api/clients')).body.clients.find((c: { framing?: string }) => c.framing !== undefined);
}

describe('the traffic log', () => {
  it('exports both directions as JSON, CSV and text', async () => {
    const gateway = await startGateway(settings);
    try {
      const listener = await api(gateway, 'POST', '/api/listeners', { port: 0, framing: 'raw' });
      const device = await RawSocket.connect(listener.body.port);
      device.write(Buffer.of(0x00, 0x01, 0x02, 0xff, 0x41, 0x42));
      await sleep(100);
      const { id } = await clientOf(gateway);
      // What the device is sent shows as "out".
      const pipe = await api(gateway, 'POST', '/api/clients/' + id + '/messages', { text: 'hello' });
      expect(pipe.status).toBe(200);
      await device.until('hello');
      const json = (await api(gateway, 'GET', `/api/clients/${id}/traffic`)).body;
      // The connection's own log: its connect event first, then its bytes, numbered in the gateway's order.
      expect(json.entries[0]).toMatchObject({ seq: 0, direction: 'event', text: `connected from 127.0.0.1:${device.socket.localPort}` });
      expect(json.entries[1]).toMatchObject({ seq: 1, direction: 'in', length: 6, hex: '00 01 02 ff 41 42', text: '....AB', auto: false });
      expect(json.next).toBe(json.entries.length);
      expect(json.entries.some((e: { direction: string }) => e.direction === 'out')).toBe(true);
      const csv = await fetch(`${gateway.httpUrl}/api/clients/${id}/traffic?format=csv`);
      expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
      const rows = (await csv.text()).trim().split('\r\n');
      expect(rows[0]).toBe('time,direction,length,hex,text,auto');
      expect(rows[1]).toMatch(/^\d{4}-.*Z,in,6,00 01 02 ff 41 42,\.\.\.\.AB,false$/);
      expect(rows.some((r) => /,out,/.test(r))).toBe(true);
      const text = await (await fetch(`${gateway.httpUrl}/api/clients/${id}/traffic?format=text&limit=1`)).text();
      expect(text.trim().split('\n')).toHaveLength(1);
      expect((await api(gateway, 'GET', '/api/clients/m9999/traffic')).status).toBe(404);
      device.destroy();
    } finally {
      await gateway.close();
    }
  });

  it("the page's CSV export of the log is the gateway's CSV, byte for byte (one writer: @switchboard/protocol's trafficCsv)", async () => {
    const gateway = await startGateway(settings);
    try {
      const port = await lineListener(gateway, 'csv');
      const rule = await api(gateway, 'POST', '/api/rules', { scope: { listener: 'csv' }, match: { equals: 'PING' }, reply: 'PONG, "ok"\\r\\n' });
      expect(rule.status, JSON.stringify(rule.body)).toBe(201);
      const device = await RawSocket.connect(port);
      // Commas, quotes, line ends, bytes past ASCII: everything the CSV must quote or show as dots.
      device.write(Buffer.concat([Buffer.from('a,"b"\r\n'), Buffer.of(0x00, 0xff, 0xc3, 0xa9, 0x0d, 0x0a), Buffer.from('PING\r\n')]));
      await device.until('PONG, "ok"\r\n');
      const { id } = await clientOf(gateway);
      const json = (await api(gateway, 'GET', `/api/clients/${id}/traffic`)).body as { entries: TrafficEntry[] };
      expect(json.entries.some((e) => e.auto)).toBe(true);
      const csv = await (await fetch(`${gateway.httpUrl}/api/clients/${id}/traffic?format=csv`)).text();
      expect(csv).toMatch(/,in,.*\r\n.*,out,.*,true\r\n$/s); // bytes both ways, the auto-reply's marked
      // The page builds its export from the JSON entries it shows.
      expect(pageTrafficCsv(json.entries.map(itemFromEntry))).toBe(csv);
      device.destroy();
    } finally {
      await gateway.close();
    }
  });

  it('is kept for a plain device (frames, no hello): what crossed its socket both ways, by listener and address, across a restart', async () => {
    const plainDir = mkdtempSync(join(tmpdir(), 'switchboard-plain-'));
    const frame = (text: string): Buffer => Buffer.concat([Buffer.from([0, 0, 0, Buffer.byteLength(text) + 1, 0]), Buffer.from(text)]);
    const hexOf = (bytes: Buffer): string => bytes.toString('hex').replace(/(..)(?!$)/g, '$1 ');
    type Entry = { direction: string; hex: string; length: number };
    const traffic = async (gateway: RunningGateway, id: string): Promise<{ status: number; body: { entries: Entry[]; code?: string } }> =>
      api(gateway, 'GET', `/api/clients/${id}/traffic`);
    const first = await startGateway(settings, { keepDataDir: plainDir });
    try {
      // A protocol client on the same listener, from the same address: not a device, no log.
      const person = await Peer.ws(first.wsUrl);
      await person.hello('web');
      const native = await Peer.tcp(first.tcpPort);
      const welcome = await native.hello('native');
      expect(await traffic(first, welcome.id)).toMatchObject({ status: 404, body: { code: 'DEVICE_NOT_FOUND' } });

      // The device's first frame in two reads: held while undecided, logged once it is a plain device.
      const device = await RawSocket.connect(first.tcpPort);
      const said = frame('temp=21.5 C');
      device.write(said.subarray(0, 3));
      await sleep(30);
      device.write(said.subarray(3));
      await person.next('message', (m) => m.text === 'temp=21.5 C');
      const clients = (await api(first, 'GET', '/api/clients')).body.clients as { id: string; legacy?: boolean; name: string }[];
      const plain = clients.find((c) => c.legacy === true)!;
      expect(plain.name).toMatch(/^127\.0\.0\.1:\d+$/);
      person.send({ type: 'message', text: 'hi device' });
      const line = await device.until('web: hi device');
      const log = await traffic(first, plain.id);
      expect(log.status).toBe(200);
      const incoming = log.body.entries.filter((e) => e.direction === 'in');
      expect(incoming.map((e) => e.hex).join(' ')).toBe(hexOf(said));
      expect(
        log.body.entries
          .filter((e) => e.direction === 'out')
          .map((e) => e.hex)
          .join(' '),
      ).toBe(hexOf(line));
      expect(log.body.entries.map((e) => e.direction).join(' ')).toMatch(/^event (in )+out$/); // in the order they crossed
      expect(line.toString('latin1')).not.toContain('joined'); // its own arrival is not sent back to it
      // Nothing of the protocol client's hello is in it.
      expect(log.body.entries.some((e) => Buffer.from(e.hex.replaceAll(' ', ''), 'hex').includes('native'))).toBe(false);
      device.destroy();
      native.destroy();
      person.destroy();
    } finally {
      await first.close();
    }

    // After a restart a new connection from the same address has a log of its own (the first one's stays in traffic.bin).
    const second = await startGateway(settings, { keepDataDir: plainDir });
    try {
      const again = await RawSocket.connect(second.tcpPort);
      again.write(frame('back'));
      let id: string | undefined;
      for (let i = 0; i < 100 && id === undefined; i++) {
        await sleep(20);
        id = ((await api(second, 'GET', '/api/clients')).body.clients as { id: string; legacy?: boolean; state?: string }[]).find(
          (c) => c.legacy === true && c.state === 'joined',
        )?.id;
      }
      const log = await traffic(second, id!);
      expect(
        log.body.entries
          .filter((e) => e.direction === 'in')
          .map((e) => e.hex)
          .join(' '),
      ).toBe(hexOf(frame('back')));
      again.destroy();
    } finally {
      await second.close();
      rmSync(plainDir, { recursive: true, force: true });
    }
  });

  it('stays at its cap, and memory flat, while a device sends 100 MB', async () => {
    const gateway = await startGateway({ ...settings, history: { onJoin: 0, maxPage: 500 } });
    try {
      const listener = await api(gateway, 'POST', '/api/listeners', { port: 0, framing: 'raw' });
      const device = await RawSocket.connect(listener.body.port);
      const chunk = Buffer.alloc(1024 * 1024, 0x41);
      // Flat: what is live (heap and buffers, after a collection) once a quarter has passed, the
      // other three quarters do not add to.
      const liveNow = (): number => {
        (globalThis as { gc?: () => void }).gc?.();
        const { heapUsed, arrayBuffers } = process.memoryUsage();
        return heapUsed + arrayBuffers;
      };
      // Retained, not in flight: the least of several readings over a second (a save or a
      // checkpoint still holding its buffers on a busy machine is not growth).
      const live = async (): Promise<number> => {
        let least = Infinity;
        for (let i = 0; i < 5; i++) {
          await sleep(200);
          least = Math.min(least, liveNow());
        }
        return least;
      };
      const { id } = await clientOf(gateway);
      /** Waits until the gateway has read `bytes` from the device (its wire counter), then a little for the last of it to pass. */
      const readBy = async (bytes: number): Promise<void> => {
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline) {
          const client = (await api(gateway, 'GET', '/api/clients')).body.clients.find((c: { id: string }) => c.id === id);
          if (client.bytesIn >= bytes) break;
          await sleep(50);
        }
        await sleep(200);
      };
      let afterQuarter = 0;
      for (let i = 0; i < 100; i++) {
        if (!device.socket.write(chunk)) await new Promise((resolve) => device.socket.once('drain', resolve));
        if (i === 25) {
          await readBy(26 * chunk.length); // settled: nothing of the first quarter still in flight
          afterQuarter = await live();
        }
      }
      await readBy(100 * chunk.length);
      const atEnd = await live();
      const entries = (await api(gateway, 'GET', `/api/clients/${id}/traffic`)).body.entries as { length: number; hex: string }[];
      expect(entries).toHaveLength(200); // the cap
      expect(Math.max(...entries.map((e) => e.hex.length))).toBeLessThanOrEqual(4096 * 3); // at most 4 KiB kept of each
      expect(typeof (globalThis as { gc?: unknown }).gc).toBe('function');
      const grown = (atEnd - afterQuarter) / 1024 / 1024;
      expect(grown, `live memory grew ${grown.toFixed(1)} MiB over the last 75 MB`).toBeLessThan(8);
      device.destroy();
    } finally {
      await gateway.close();
    }
  }, 60_000);
});

describe('macros', () => {
  it('are shared and stored', async () => {
    const gateway = await startGateway(settings, { keepDataDir: dataDir });
    try {
      const saved = await api(gateway, 'POST', '/api/macros', { name: 'status', mode: 'text', data: '\\x02STATUS\\x03', append: 'none' });
      expect(saved.status).toBe(201);
      expect((await api(gateway, 'GET', '/api/macros')).body.macros).toContainEqual(saved.body);
      expect((await api(gateway, 'POST', '/api/macros', { name: 'x', mode: 'morse', data: '', append: 'none' })).status).toBe(400);
      expect((await api(gateway, 'DELETE', `/api/macros/${saved.body.id}`)).status).toBe(204);
    } finally {
      await gateway.close();
    }
  });
});

describe('the console tells the truth', () => {
  it("a second connection of a device from the same address has a log of its own: its burst is not in the first one's", async () => {
    const gateway = await startGateway(settings);
    try {
      const listener = await api(gateway, 'POST', '/api/listeners', { port: 0, framing: 'line', room: 'two' });
      const first = await RawSocket.connect(listener.body.port);
      const second = await RawSocket.connect(listener.body.port);
      const idOf = async (socket: RawSocket) => {
        for (let i = 0; i < 100; i++) {
          const found = ((await api(gateway, 'GET', '/api/clients')).body.clients as { id: string; address: string }[]).find(
            (c) => c.address === `127.0.0.1:${socket.socket.localPort}`,
          );
          if (found !== undefined) return found.id;
          await sleep(20);
        }
        throw new Error('no member');
      };
      const [a, b] = [await idOf(first), await idOf(second)];
      first.write('one\n');
      second.write('burst 1\nburst 2\nburst 3\n');
      const texts = async (id: string) => {
        for (let i = 0; i < 100; i++) {
          const entries = (await api(gateway, 'GET', `/api/clients/${id}/traffic`)).body.entries as { direction: string; text: string }[];
          if (entries.some((e) => e.direction === 'in')) return entries.map((e) => `${e.direction} ${e.text}`);
          await sleep(20);
        }
        throw new Error('no traffic');
      };
      expect(await texts(a)).toEqual([`event connected from 127.0.0.1:${first.socket.localPort}`, 'in one.']);
      expect(await texts(b)).toEqual([`event connected from 127.0.0.1:${second.socket.localPort}`, 'in burst 1.burst 2.burst 3.']);
      first.destroy();
      second.destroy();
    } finally {
      await gateway.close();
    }
  });

  it("a link's log has its dials, backoffs and connections; in backoff it says when it dials next, and dial now dials now", async () => {
    const gateway = await startGateway({ ...settings, devices: { ...settings.devices, backoffMaxMs: 60_000 } });
    const server = net.createServer((socket) => socket.on('error', () => {}));
    try {
      // A free port where nothing listens yet.
      const port = await new Promise<number>((resolve) => {
        const probe = net.createServer().listen(0, '127.0.0.1', () => {
          const { port } = probe.address() as net.AddressInfo;
          probe.close(() => resolve(port));
        });
      });
      const created = await api(gateway, 'POST', '/api/devices', { name: 'late-robot', host: '127.0.0.1', port, framing: 'line' });
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      // Waits are doubled each failure: wait for one of at least two seconds.
      let status: { state: string; attempts: number; nextDialAt: string | null } | undefined;
      for (let i = 0; i < 400; i++) {
        status = (await api(gateway, 'GET', '/api/devices')).body.devices[0];
        if (status!.state === 'backoff' && status!.attempts >= 4) break;
        await sleep(25);
      }
      expect(status).toMatchObject({ state: 'backoff' });
      const next = Date.parse(status!.nextDialAt!);
      expect(next - Date.now()).toBeGreaterThan(500);
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      const dialed = await api(gateway, 'POST', `/api/devices/${id}/dial`);
      expect(dialed.status, JSON.stringify(dialed.body)).toBe(200);
      expect(dialed.body).toMatchObject({ nextDialAt: null });
      for (let i = 0; i < 200 && status!.state !== 'connected'; i++) {
        await sleep(10);
        status = (await api(gateway, 'GET', '/api/devices')).body.devices[0];
      }
      expect(status!.state).toBe('connected');
      expect(Date.now()).toBeLessThan(next); // it did not wait for its timer
      expect((await api(gateway, 'POST', `/api/devices/${id}/dial`)).body.code).toBe('LINK_NOT_IN_BACKOFF');
      const log = (await api(gateway, 'GET', `/api/clients/${id}/traffic`)).body.entries as { seq: number; direction: string; text: string }[];
      const events = log.filter((e) => e.direction === 'event').map((e) => e.text);
      expect(events[0]).toBe(`dialing 127.0.0.1:${port} (attempt 1)`);
      expect(events[1]).toMatch(/^ECONNREFUSED: .*; dialing again in \d+ ms$/);
      expect(events.at(-2)).toMatch(/^dialing 127\.0\.0\.1:\d+ \(attempt \d+\)$/);
      expect(events.at(-1)).toBe(`connected to 127.0.0.1:${port}`);
      expect(log.map((e) => e.seq)).toEqual(log.map((_e, i) => log[0]!.seq + i));
    } finally {
      server.close();
      await gateway.close();
    }
  });

  it('ids people can rely on: a given listener id is kept, generated ids are never handed out again, a delimiter is escaped text everywhere', async () => {
    const idsDir = mkdtempSync(join(tmpdir(), 'switchboard-ids-'));
    const withListen = { ...settings, devices: { ...settings.devices, listen: ['line://127.0.0.1:0?delimiter=%0D%0A&id=crlf'] } };
    const first = await startGateway(withListen, { keepDataDir: idsDir });
    try {
      const given = await api(first, 'POST', '/api/listeners', { id: 'plc-line', port: 0, framing: 'line', delimiter: '\\r\\n' });
      expect(given.status, JSON.stringify(given.body)).toBe(201);
      expect(given.body).toMatchObject({ id: 'plc-line', delimiter: '\\r\\n' });
      expect((await api(first, 'POST', '/api/listeners', { id: 'plc-line', port: 0 })).body.code).toBe('LISTENER_EXISTS');
      const a = (await api(first, 'POST', '/api/listeners', { port: 0 })).body.id;
      const b = (await api(first, 'POST', '/api/listeners', { port: 0 })).body.id;
      expect([a, b]).toEqual(['l1', 'l2']);
      expect((await api(first, 'DELETE', `/api/listeners/${b}`)).status).toBe(204);
      expect((await api(first, 'POST', '/api/listeners', { port: 0 })).body.id).toBe('l3');
      expect((await api(first, 'DELETE', '/api/listeners/l3')).status).toBe(204);
      const rule = (await api(first, 'POST', '/api/rules', { scope: 'all', match: { equals: 'x' }, reply: 'y' })).body.id;
      expect((await api(first, 'DELETE', `/api/rules/${rule}`)).status).toBe(204);
      // The --listen delimiter %0D%0A is listed as a REST body gives it.
      const listed = (await api(first, 'GET', '/api/listeners')).body.listeners as { id: string; delimiter: string }[];
      expect(listed.find((l) => l.id === 'crlf')?.delimiter).toBe('\\r\\n');
    } finally {
      await first.close();
    }
    const second = await startGateway(withListen, { keepDataDir: idsDir });
    try {
      expect((await api(second, 'POST', '/api/listeners', { port: 0 })).body.id).toBe('l4');
      expect((await api(second, 'POST', '/api/rules', { scope: 'all', match: { equals: 'x' }, reply: 'y' })).body.id).toBe('r2');
    } finally {
      await second.close();
      rmSync(idsDir, { recursive: true, force: true });
    }
  });
});
