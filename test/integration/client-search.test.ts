import { ClientError, connect, type SearchReply, type SwitchboardClient } from '@switchboard/client';
import { ProtocolError } from '@switchboard/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startGateway, type RunningGateway } from '../helpers/gateway.js';

// The Node client's search() (issue 27) against a real gateway: it finds what its member may
// read, and nothing of a room that does not admit it.

const TOKEN = 'client-search-token';
const PASSWORD = 'correct horse battery';
let gateway: RunningGateway;
const clients: SwitchboardClient[] = [];

beforeAll(async () => {
  gateway = await startGateway({ security: { adminToken: TOKEN } });
  const admin = { authorization: `Bearer ${TOKEN}` };
  expect((await api(gateway, 'POST', '/api/accounts', { name: 'bob', password: PASSWORD })).status).toBe(201);
  expect((await api(gateway, 'PUT', '/api/rooms/vault', { access: 'named', accounts: ['bob'] }, admin)).status).toBe(200);
  const bob = await open({ name: 'bob', password: PASSWORD });
  await bob.say('the pump combination is ready');
  await bob.join('vault');
  await bob.say('vault combination 4711');
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await gateway.close();
});

async function open(options: { name: string; password?: string }): Promise<SwitchboardClient> {
  const client = await connect({ port: gateway.tcpPort, ...options });
  clients.push(client);
  return client;
}

/** The words of each hit (a file's name, else its text), in the order the reply gives them. */
const words = (reply: SearchReply): string[] => reply.entries.map((e) => ('text' in e ? e.text : e.name));

describe('client.search()', () => {
  it('finds a stored message by a word prefix, newest first, with the reply the protocol gives', async () => {
    const carol = await open({ name: 'carol' });
    const reply = await carol.search('pump combi');
    expect(reply).toMatchObject({ type: 'search', q: 'pump combi', more: false });
    expect(reply.entries).toHaveLength(1);
    expect(reply.entries[0]).toMatchObject({ kind: 'message', room: 'lobby', from: 'bob', text: 'the pump combination is ready' });
    // Narrowed to the room, paged by limit and before.
    const page = await carol.search('combination', { room: 'lobby', limit: 1 });
    expect(words(page)).toEqual(['the pump combination is ready']);
    expect((await carol.search('combination', { room: 'lobby', before: page.entries[0]!.id })).entries).toEqual([]);
  });

  it('finds nothing from a room it may not read; asking for that room rejects with ROOM_FORBIDDEN', async () => {
    const carol = await open({ name: 'carol2' });
    const everything = await carol.search('combination');
    expect(words(everything)).toEqual(['the pump combination is ready']);
    expect((await carol.search('4711')).entries).toEqual([]);
    const refused = await carol.search('combination', { room: 'vault' }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ProtocolError);
    expect((refused as ProtocolError).code).toBe('ROOM_FORBIDDEN');
    // The account the room names finds it: the message is there to be found.
    const bob = await open({ name: 'bob', password: PASSWORD });
    expect(words(await bob.search('combination'))).toEqual(['vault combination 4711', 'the pump combination is ready']);
  });

  it('checks its arguments before sending anything', async () => {
    const carol = await open({ name: 'carol3' });
    for (const call of [() => carol.search(''), () => carol.search('x'.repeat(257)), () => carol.search('pump', { room: 'no room!' })]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ClientError);
      expect((error as ClientError).code).toBe('INVALID_ARGUMENT');
    }
    expect(carol.isOpen).toBe(true);
  });
});
