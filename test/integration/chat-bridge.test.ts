import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '@switchboard/protocol';
import { api, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { Peer } from '../helpers/peer.js';

let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(async () => {
  await gateway.close();
});

describe('TCP and WebSocket members in one room', () => {
  it('exchange messages both ways, with sender, transport, id and server time', async () => {
    const tcp = await Peer.tcp(gateway.tcpPort);
    const browser = await Peer.ws(gateway.wsUrl);
    const tcpWelcome = await tcp.hello('alice');
    const wsWelcome = await browser.hello('bob');
    expect(tcpWelcome).toMatchObject({ name: 'alice', room: 'lobby', rooms: ['lobby'], v: 1 });
    expect(wsWelcome).toMatchObject({ name: 'bob', room: 'lobby' });
    // alice sees bob arrive from a browser
    const joined = await tcp.next('presence', (p) => p.event === 'join' && p.member.name === 'bob');
    expect(joined.member.transport).toBe('ws');

    const before = Date.now();
    tcp.send({ type: 'message', text: 'hello from TCP' });
    const atBrowser = await browser.next('message', (m) => m.text === 'hello from TCP');
    expect(atBrowser).toMatchObject({ from: 'alice', transport: 'tcp', room: 'lobby' });
    expect(atBrowser.ts).toBeGreaterThanOrEqual(before - 5);
    expect(atBrowser.ts).toBeLessThanOrEqual(Date.now() + 5);
    // The sender gets the same message back: its acknowledgement, with the same id.
    const echo = await tcp.next('message', (m) => m.text === 'hello from TCP');
    expect(echo.id).toBe(atBrowser.id);

    browser.send({ type: 'message', text: 'hello from the browser ✓' });
    const atTcp = await tcp.next('message', (m) => m.text === 'hello from the browser ✓');
    expect(atTcp).toMatchObject({ from: 'bob', transport: 'ws' });
    expect(atTcp.id).toBeGreaterThan(atBrowser.id);

    // The roster lists both with transport and address.
    tcp.send({ type: 'roster' });
    const roster = await tcp.next('roster');
    const names = roster.members.map((m) => `${m.name}/${m.transport}`).sort();
    expect(names).toContain('alice/tcp');
    expect(names).toContain('bob/ws');
    expect(roster.members.every((m) => /^127\.0\.0\.1:\d+$/.test(m.address))).toBe(true);

    browser.end();
    const left = await tcp.next('presence', (p) => p.event === 'leave' && p.member.name === 'bob');
    expect(left.reason).toBe('quit');
    tcp.end();
  });

  it('a type-0 text frame from a hello member is said in its current room', async () => {
    const a = await Peer.tcp(gateway.tcpPort);
    const b = await Peer.ws(gateway.wsUrl);
    await a.hello('carol');
    await b.hello('dave');
    a.send({ type: 'text', text: 'plain text frame' });
    await expect(b.next('message', (m) => m.text === 'plain text frame')).resolves.toMatchObject({ from: 'carol' });
    a.end();
    b.end();
  });

  it('a hello-less device is a full member named by its address and gets text lines', async () => {
    const browser = await Peer.ws(gateway.wsUrl);
    await browser.hello('erin');
    const device = await Peer.tcp(gateway.tcpPort);
    const local = device.socket!.localPort;
    // It never says hello: just a type-0 frame, like the classic WinForms client.
    device.sendBytes(encodeFrame(0x00, new TextEncoder().encode('temperature=21.5')));
    const fromDevice = await browser.next('message', (m) => m.text === 'temperature=21.5');
    expect(fromDevice.from).toBe(`127.0.0.1:${local}`);
    expect(fromDevice.transport).toBe('tcp');

    browser.send({ type: 'message', text: 'set point 22' });
    await expect(device.waitForLine((line) => line === 'erin: set point 22')).resolves.toBeDefined();
    // Only type-0 frames (and error frames) ever reach a plain device; never its own words.
    expect(device.received.every((m) => m.type === 'text')).toBe(true);
    expect(device.lines).not.toContain(`127.0.0.1:${local}: temperature=21.5`);

    const clients = await api<{ clients: { name: string; legacy: boolean; transport: string }[] }>(gateway, 'GET', '/api/clients');
    expect(clients.body.clients).toContainEqual(expect.objectContaining({ name: `127.0.0.1:${local}`, legacy: true, transport: 'tcp' }));
    device.end();
    browser.end();
  });

  it('a silent device still joins after the hello timeout and receives the room', async () => {
    const device = await Peer.tcp(gateway.tcpPort);
    const speaker = await Peer.tcp(gateway.tcpPort);
    await speaker.hello('frank');
    await speaker.next('presence', (p) => p.event === 'join' && p.member.name === `127.0.0.1:${device.socket!.localPort}`);
    speaker.send({ type: 'message', text: 'anyone listening?' });
    await expect(device.waitForLine((l) => l === 'frank: anyone listening?')).resolves.toBeDefined();
    device.end();
    speaker.end();
  });

  it('frames split across many writes and many frames in one write are read alike', async () => {
    const a = await Peer.tcp(gateway.tcpPort);
    const b = await Peer.tcp(gateway.tcpPort);
    await a.hello('gina');
    await b.hello('hank');
    const { encodeMessage } = await import('@switchboard/protocol');
    const many = Buffer.concat(Array.from({ length: 20 }, (_, i) => encodeMessage({ type: 'message', text: `burst ${i}` })));
    a.sendBytes(many);
    for (let i = 0; i < 20; i++) await b.next('message', (m) => m.text === `burst ${i}`);
    const slow = encodeMessage({ type: 'message', text: 'one byte at a time' });
    for (const byte of slow) {
      a.sendBytes(new Uint8Array([byte]));
      await new Promise((r) => setImmediate(r));
    }
    await expect(b.next('message', (m) => m.text === 'one byte at a time')).resolves.toBeDefined();
    a.end();
    b.end();
  });
});
