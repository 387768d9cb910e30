import { describe, expect, it } from 'vitest';
import { deviceRows, type DeviceRow } from '../src/lib/console/device-rows.js';
import { appliesTo, buildRule, describeScope, ipOf, ruleMatch, type RuleForm } from '../src/lib/console/rules.js';
import type { ClientInfo, DeviceInfo, ListenerInfo } from '../src/lib/rest-client.js';

const client = (fields: Partial<ClientInfo> & { id: string }): ClientInfo => ({
  name: fields.id,
  transport: 'tcp',
  address: '127.0.0.1:5000',
  rooms: ['lobby'],
  connectedAt: '2026-11-22T00:00:00.000Z',
  legacy: false,
  state: 'joined',
  node: 'local',
  bytesIn: 10,
  bytesOut: 20,
  messagesIn: 1,
  messagesOut: 2,
  ...fields,
});

const listener = (id: string, framing: 'line' | 'raw' | 'frame', delimiter = '\\n'): ListenerInfo => ({
  id,
  host: '127.0.0.1',
  port: 9100,
  backlog: 511,
  framing,
  room: 'lobby',
  tls: false,
  listening: true,
  since: null,
  connections: 1,
  lastError: null,
  delimiter,
});

const link: DeviceInfo = {
  id: 'd1',
  name: 'robot1',
  host: '127.0.0.1',
  port: 1025,
  framing: 'line',
  delimiter: '#',
  room: 'cell1',
  state: 'connected',
  memberId: 'm9',
  attempts: 1,
  connectedAt: null,
  lastError: null,
  nextDialAt: null,
};

describe('the rows of the Devices view', () => {
  const clients = [
    client({ id: 'm1', name: 'alice', transport: 'ws' }), // a person: not a device
    client({ id: 'm2', framing: 'line', listener: 'l1' }),
    client({ id: 'm3', legacy: true, address: '10.0.0.5:4000', name: '10.0.0.5:4000' }),
    client({ id: 'm9', name: 'robot1', framing: 'line', outbound: 'd1', address: '127.0.0.1:1025', bytesIn: 99 }),
  ];
  const rows = deviceRows(clients, [link, { ...link, id: 'd2', name: 'tank', state: 'backoff', memberId: null }], [listener('l1', 'line', '\\r\\n')]);

  it('lists links, listener members and plain devices, and no people', () => {
    expect(rows.map((r) => [r.id, r.kind])).toEqual([
      ['d1', 'link'],
      ['d2', 'link'],
      ['m2', 'listener'],
      ['m3', 'plain'],
    ]);
  });

  it("gives a link its member's counters while it is connected, none while it is down", () => {
    expect(rows[0]).toMatchObject({ memberId: 'm9', state: 'connected', online: true, address: '127.0.0.1:1025', delimiter: '#', bytesIn: 99 });
    expect(rows[1]).toMatchObject({ memberId: null, state: 'backoff', online: false, bytesIn: null });
  });

  it("gives a line listener's member the listener's delimiter", () => {
    expect(rows[2]).toMatchObject({ framing: 'line', listener: 'l1', delimiter: '\\r\\n' });
    expect(rows[3]).toMatchObject({ framing: 'frame', delimiter: null, listener: null });
  });

  it('lists a link member by its link id while the link list is not in', () => {
    expect(deviceRows([clients[3]!], [], []).map((r) => [r.id, r.kind, r.memberId])).toEqual([['d1', 'link', 'm9']]);
  });
});

describe('auto-reply rules in the console', () => {
  const row: DeviceRow = deviceRows([client({ id: 'm2', framing: 'raw', listener: 'l1' })], [], [listener('l1', 'raw')])[0]!;
  const form = (fields: Partial<RuleForm>): RuleForm => ({
    scope: 'device',
    matchKind: 'equals',
    match: 'PING',
    replyKind: 'text',
    reply: 'PONG\\r\\n',
    delayMs: null,
    ...fields,
  });

  it('builds the body the gateway takes', () => {
    expect(buildRule(form({}), row)).toEqual({
      ok: true,
      body: { scope: { listener: 'l1', address: ipOf(row.address) }, match: { equals: 'PING' }, reply: 'PONG\\r\\n' },
    });
    expect(buildRule(form({ scope: 'listener', delayMs: 250 }), row)).toMatchObject({ ok: true, body: { scope: { listener: 'l1' }, delayMs: 250 } });
    expect(buildRule(form({ scope: 'all', matchKind: 'hex', match: '0x05', replyKind: 'hex', reply: '0000   06   .' }), row)).toEqual({
      ok: true,
      body: { scope: 'all', match: { hex: '05' }, reply: { hex: '06' } },
    });
  });

  it('says what is wrong before asking the gateway', () => {
    expect(buildRule(form({ matchKind: 'regex', match: '(' }), row)).toMatchObject({ ok: false, error: /does not compile/ });
    expect(buildRule(form({ reply: '\\q' }), row)).toMatchObject({ ok: false, error: /Unknown escape/ });
    expect(buildRule(form({ replyKind: 'hex', reply: 'zz' }), row)).toMatchObject({ ok: false, error: /not a hex digit/ });
    expect(buildRule(form({ match: '' }), row)).toMatchObject({ ok: false });
    expect(buildRule(form({ delayMs: 70_000 }), row)).toMatchObject({ ok: false, error: /0 to 60000/ });
  });

  it('knows which rules answer this device', () => {
    expect(appliesTo({ scope: 'all' }, row)).toBe(true);
    expect(appliesTo({ scope: { listener: 'l1' } }, row)).toBe(true);
    expect(appliesTo({ scope: { listener: 'l2' } }, row)).toBe(false);
    expect(appliesTo({ scope: { listener: 'l1', address: ipOf(row.address) } }, row)).toBe(true);
    expect(appliesTo({ scope: { listener: 'l1', address: '10.9.9.9' } }, row)).toBe(false);
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- a scope's `link` (a union with string), not String.prototype.link
    expect(appliesTo({ scope: { link: 'd4' } }, row)).toBe(false);
    expect(describeScope({ listener: 'l1', address: ipOf(row.address) }, row)).toMatch(/^this device/);
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- a scope's `link` (a union with string), not String.prototype.link
    expect(describeScope({ link: 'd4' }, row)).toBe('device link d4');
    expect(ipOf('[::1]:5000')).toBe('::1');
    expect(ipOf('127.0.0.1:5000')).toBe('127.0.0.1');
    expect(ruleMatch({ match: { contains: 'ERR' } })).toEqual({ kind: 'contains', value: 'ERR' });
  });
});
