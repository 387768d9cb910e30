import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { Peer } from '../helpers/peer.js';

let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(async () => {
  await gateway.close();
});

type Client = {
  id: string;
  name: string;
  transport: string;
  address: string;
  rooms: string[];
  connectedAt: string;
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
};

async function clientNamed(name: string): Promise<Client> {
  const { body } = await api<{ clients: Client[] }>(gateway, 'GET', '/api/clients');
  const found = body.clients.find((c) => c.name === name);
  if (!found) throw new Error(`no client ${name} in ${JSON.stringify(body.clients.map((c) => c.name))}`);
  return found;
}

describe('admin over REST', () => {
  it('lists clients with transport, address, rooms, time and counters', async () => {
    const tcp = await Peer.tcp(gateway.tcpPort);
    const web = await Peer.ws(gateway.wsUrl);
    await tcp.hello('listed-tcp');
    await web.hello('listed-web', { room: 'ops' });
    tcp.send({ type: 'message', text: 'count me' });
    await tcp.next('message', (m) => m.text === 'count me');
    const t = await clientNamed('listed-tcp');
    expect(t).toMatchObject({ transport: 'tcp', rooms: ['lobby'], address: `127.0.0.1:${tcp.socket!.localPort}` });
    expect(t.messagesIn).toBe(2);
    expect(t.bytesIn).toBeGreaterThan(20);
    expect(t.messagesOut).toBeGreaterThanOrEqual(5);
    expect(Date.parse(t.connectedAt)).toBeLessThanOrEqual(Date.now());
    const w = await clientNamed('listed-web');
    expect(w).toMatchObject({ transport: 'ws', rooms: ['ops'] });
    tcp.end();
    web.end();
  });

  it('kick: the member hears why, its socket closes, the room sees it leave as kicked', async () => {
    const victim = await Peer.tcp(gateway.tcpPort);
    const watcher = await Peer.ws(gateway.wsUrl);
    await victim.hello('victim');
    await watcher.hello('watcher');
    const { id } = await clientNamed('victim');
    const result = await api(gateway, 'POST', `/api/clients/${id}/kick`, { reason: 'spamming' });
    expect(result).toEqual({ status: 200, body: { ok: true, id } });
    const notice = await victim.next('notice');
    expect(notice).toMatchObject({ code: 'KICKED', text: expect.stringContaining('spamming') });
    await victim.waitClosed();
    await expect(watcher.next('presence', (p) => p.event === 'leave' && p.member.name === 'victim')).resolves.toMatchObject({ reason: 'kicked' });
    expect((await api(gateway, 'POST', `/api/clients/${id}/kick`, {})).body.code).toBe('CLIENT_NOT_FOUND');
    watcher.end();
  });

  it('kick works for a plain device too', async () => {
    const device = await Peer.tcp(gateway.tcpPort);
    const name = `127.0.0.1:${device.socket!.localPort}`;
    await new Promise((r) => setTimeout(r, 300)); // past the hello timeout
    const { id } = await clientNamed(name);
    expect((await api(gateway, 'POST', `/api/clients/${id}/kick`)).status).toBe(200);
    // A plain device gets room text only (PROTOCOL.md §2): it is closed, with no server line first.
    await device.waitClosed();
    expect(device.received).toEqual([]);
  });

  it('messages one member privately and broadcasts to a room or everyone', async () => {
    const a = await Peer.tcp(gateway.tcpPort);
    const b = await Peer.ws(gateway.wsUrl);
    const device = await Peer.tcp(gateway.tcpPort);
    await a.hello('bc-a');
    await b.hello('bc-b', { room: 'ops' });
    await new Promise((r) => setTimeout(r, 300));
    const { id } = await clientNamed('bc-a');
    expect((await api(gateway, 'POST', `/api/clients/${id}/messages`, { text: 'just you' })).status).toBe(200);
    await expect(a.next('notice', (n) => n.text === 'just you')).resolves.toMatchObject({ private: true });

    const toOps = await api(gateway, 'POST', '/api/broadcast', { text: 'ops meeting', room: 'ops' });
    expect(toOps.body).toEqual({ ok: true, delivered: 1, unanswered: [] });
    await expect(b.next('notice', (n) => n.text === 'ops meeting')).resolves.toMatchObject({ room: 'ops' });

    const all = await api(gateway, 'POST', '/api/broadcast', { text: 'everyone' });
    expect(all.body.delivered).toBeGreaterThanOrEqual(2);
    await a.next('notice', (n) => n.text === 'everyone');
    await b.next('notice', (n) => n.text === 'everyone');
    expect(a.received.some((m) => m.type === 'notice' && m.text === 'ops meeting')).toBe(false);

    expect((await api(gateway, 'POST', '/api/broadcast', { text: 'x', room: 'nowhere' })).body.code).toBe('ROOM_NOT_FOUND');
    expect((await api(gateway, 'POST', '/api/broadcast', { text: '' })).body.code).toBe('VALIDATION_FAILED');
    expect((await api(gateway, 'POST', '/api/clients/m999999/messages', { text: 'x' })).status).toBe(404);
    // A plain device gets room text only: no notices (PROTOCOL.md §2).
    expect(device.lines.filter((l) => l.includes('everyone'))).toEqual([]);
    for (const p of [a, b, device]) p.end();
  });

  it('lists rooms', async () => {
    const a = await Peer.tcp(gateway.tcpPort);
    await a.hello('roomy', { room: 'listed-room' });
    const { body } = await api(gateway, 'GET', '/api/rooms');
    expect(body.rooms).toEqual(
      expect.arrayContaining([
        { name: 'lobby', members: expect.any(Number), access: 'anyone', history: { mode: 'durable' } },
        { name: 'listed-room', members: 1, access: 'anyone', history: { mode: 'durable' } },
      ]),
    );
    a.end();
  });
});
