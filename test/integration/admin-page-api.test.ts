import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { Peer } from '../helpers/peer.js';

// Issue 27, what the admin page needs from the gateway: charts that open with the last minutes
// already drawn (GET /api/stats/history), and an audit log that names whom an id in a path meant.

let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway({ security: { adminToken: 'page-token' } });
});
afterAll(async () => {
  await gateway.close();
});
const admin = { authorization: 'Bearer page-token' };

interface StatsReading {
  at: number;
  connections: { tcp: number; ws: number };
  framesIn: { tcp: number; ws: number };
  deliveries: { tcp: number; ws: number };
}
interface HistoryAnswer {
  everyMs: number;
  readings: StatsReading[];
}

describe('GET /api/stats/history', () => {
  it('is admin-only and holds a reading a second, oldest first, that counts the traffic already past', async () => {
    expect((await api(gateway, 'GET', '/api/stats/history')).status).toBe(401);
    const sender = await Peer.tcp(gateway.tcpPort);
    const listener = await Peer.ws(gateway.wsUrl);
    await sender.hello('history-a');
    await listener.hello('history-b');
    for (let i = 0; i < 10; i++) sender.send({ type: 'message', text: `h${i}` });
    await listener.next('message', (m) => m.text === 'h9');
    const sentAt = Date.now();
    // Readings taken after the traffic: the page draws it without having watched it happen.
    let answer: HistoryAnswer = { everyMs: 0, readings: [] };
    await expect
      .poll(
        async () => {
          answer = (await api<HistoryAnswer>(gateway, 'GET', '/api/stats/history', undefined, admin)).body;
          return answer.readings.filter((r) => r.at > sentAt).length;
        },
        { timeout: 10_000, interval: 200 },
      )
      .toBeGreaterThanOrEqual(2);
    expect(answer.everyMs).toBe(1000);
    const { readings } = answer;
    for (let i = 1; i < readings.length; i++) expect(readings[i]!.at).toBeGreaterThan(readings[i - 1]!.at);
    const latest = readings.at(-1)!;
    expect(latest.connections).toEqual({ tcp: 1, ws: 1 });
    expect(latest.framesIn.tcp).toBeGreaterThanOrEqual(11); // hello and ten messages
    expect(latest.deliveries.ws).toBeGreaterThanOrEqual(10);
    // The first reading is from the gateway's start, before anyone spoke.
    expect(readings[0]!.framesIn.tcp).toBe(0);
    sender.destroy();
    listener.destroy();
  });

  it('is in the OpenAPI document with its full response schema', async () => {
    const doc = (await api(gateway, 'GET', '/docs/json')).body;
    const given = doc.paths['/api/stats/history'].get.responses['200'].content['application/json'].schema;
    // A titled shape is named once in components and referred to.
    const ok = given.$ref === undefined ? given : doc.components.schemas[given.$ref.replace('#/components/schemas/', '')];
    expect(ok.required).toEqual(['everyMs', 'readings']);
    expect(ok.properties.readings.items.required).toEqual(['at', 'connections', 'framesIn', 'deliveries', 'queuedBytes', 'errorsSent']);
  });
});

describe('the audit log names what an id in the path meant', () => {
  it('a kick and a notice name the member, a lifted ban its value, a removed device link its name', async () => {
    const member = await Peer.tcp(gateway.tcpPort);
    const { id: memberId } = await member.hello('audited-alice');
    expect((await api(gateway, 'POST', `/api/clients/${memberId}/messages`, { text: 'hello there' }, admin)).status).toBe(200);
    expect((await api(gateway, 'POST', `/api/clients/${memberId}/kick`, { reason: 'testing' }, admin)).status).toBe(200);
    const ban = (await api(gateway, 'POST', '/api/bans', { name: 'pest', reason: 'spam' }, admin)).body as { id: number };
    expect((await api(gateway, 'DELETE', `/api/bans/${ban.id}`, undefined, admin)).status).toBe(204);
    const device = (await api(gateway, 'POST', '/api/devices', { name: 'robot9', host: '127.0.0.1', port: 9, room: 'devices' }, admin)).body as {
      id: string;
    };
    expect((await api(gateway, 'DELETE', `/api/devices/${device.id}`, undefined, admin)).status).toBe(204);

    const entries = (await api(gateway, 'GET', '/api/audit', undefined, admin)).body.entries as { action: string; detail: Record<string, unknown> }[];
    const target = (action: string) => entries.filter((e) => e.action === action).map((e) => e.detail['target']);
    expect(target('POST /api/clients/:id/messages')).toEqual(['audited-alice']);
    expect(target('POST /api/clients/:id/kick')).toEqual(['audited-alice']);
    expect(target('DELETE /api/bans/:id')).toEqual(['name pest']);
    expect(target('DELETE /api/devices/:id')).toEqual(['robot9']);
    // Routes whose path says it already carry no target.
    expect(target('POST /api/bans')).toEqual([undefined]);
  });
});
