import type { ServerMessage } from '@switchboard/protocol';
import { describe, expect, it } from 'vitest';
import { api } from '../helpers/gateway.js';
import type { ClusterNodeProcess } from '../helpers/cluster-node.js';
import { Peer } from '../helpers/peer.js';
import { useRedisCluster } from '../helpers/redis-cluster-suite.js';
import { until } from '../helpers/until.js';

type Of<K extends ServerMessage['type']> = Extract<ServerMessage, { type: K }>;

/**
 * Races between gateways on a real Redis Cluster (three masters, three replicas), where the shared
 * state (names, the directory) and a gateway's own channel live on different shards, so what one
 * gateway does reaches another by two paths that do not keep each other's order.
 */
const suite = useRedisCluster();

const node = (id: string): Promise<ClusterNodeProcess> => suite.gateway(id);
const peer = (gateway: ClusterNodeProcess): Promise<Peer> => suite.tcpPeer(gateway.tcpPort);

describe('races between gateways on a Redis Cluster', () => {
  it('a token resumes on another gateway at once, whether the old connection just dropped or is still open (SESSION_REPLACED), never NAME_TAKEN', async () => {
    const gws = [await node('a'), await node('b')];
    const first = await peer(gws[0]!);
    let { token } = await first.hello('olga');
    let holder = first;
    // Each round moves the session to the other gateway; odd rounds drop the old connection first, even ones leave it open.
    for (let round = 1; round <= 40; round++) {
      const dropped = round % 2 === 1;
      if (dropped) holder.destroy();
      const next = await peer(gws[round % 2]!);
      next.send({ type: 'hello', v: 1, token, ref: `resume-${round}` });
      const reply = await until(
        `an answer to resume-${round}`,
        () => next.received.find((m): m is Of<'welcome'> | Of<'error'> => (m.type === 'welcome' || m.type === 'error') && m.ref === `resume-${round}`),
        10_000,
      );
      expect(reply, `round ${round} (${dropped ? 'old connection dropped' : 'old connection open'}): ${JSON.stringify(reply)}`).toMatchObject({
        type: 'welcome',
        name: 'olga',
      });
      if (reply.type !== 'welcome') return;
      if (!dropped) {
        await expect(holder.next('notice', (n) => n.code === 'SESSION_REPLACED', 10_000)).resolves.toBeDefined();
        await holder.waitClosed(10_000);
      }
      token = reply.token!;
      holder = next;
    }
  }, 120_000);

  it('an account signing in on another gateway takes its name from the guest that held it (NAME_RECLAIMED) at once, never NAME_TAKEN', async () => {
    const [a, b] = [await node('a'), await node('b')];
    for (let round = 1; round <= 10; round++) {
      const name = `nina${round}`;
      const guest = await peer(a);
      await guest.hello(name);
      expect((await api(b, 'POST', '/api/accounts', { name, password: 'correct horse battery' })).status).toBe(201);
      const owner = await peer(b);
      owner.send({ type: 'hello', v: 1, name, password: 'correct horse battery', ref: `h${round}` });
      const reply = await until(
        `an answer to h${round}`,
        () => owner.received.find((m): m is Of<'welcome'> | Of<'error'> => (m.type === 'welcome' || m.type === 'error') && m.ref === `h${round}`),
        10_000,
      );
      expect(reply, `round ${round}: ${JSON.stringify(reply)}`).toMatchObject({ type: 'welcome', name, account: true });
      await expect(guest.next('notice', (n) => n.code === 'NAME_RECLAIMED', 10_000)).resolves.toBeDefined();
    }
  }, 120_000);
  it('a private to a member whose welcome came from another gateway a moment ago reaches it, never NO_SUCH_MEMBER', async () => {
    const [a, b] = [await node('a'), await node('b')];
    const alice = await peer(a);
    await alice.hello('alice');
    for (let round = 1; round <= 20; round++) {
      const name = `bea${round}`;
      const bea = await peer(b);
      await bea.hello(name, { room: `r${round}` });
      // Told at once (a member says hello, then gives its name out): alice writes to it through her own gateway.
      const ref = `p${round}`;
      alice.send({ type: 'private', to: name, text: `hi ${round}`, ref });
      const reply = await until(
        `an answer to ${ref}`,
        () => alice.received.find((m): m is Of<'private'> | Of<'error'> => (m.type === 'private' || m.type === 'error') && m.ref === ref),
        10_000,
      );
      expect(reply, `round ${round}: ${JSON.stringify(reply)}`).toMatchObject({ type: 'private', to: name });
      await bea.find('private', (m) => m.text === `hi ${round}`, 10_000);
    }
  }, 120_000);

  it('a file offered {to} a name this gateway has not heard of yet, but Redis has (its claim, its record), is offered, never NO_SUCH_MEMBER', async () => {
    const [a] = [await node('a'), await node('b')];
    const alice = await peer(a);
    await alice.hello('alice');
    // What a member's hello on b leaves in Redis (its name's claim, its record in b's hash), without the bus message that
    // would tell a of it: a's directory does not have it, as for a member welcomed on b a moment ago.
    const record = {
      id: 'b.m99',
      name: 'ghost',
      transport: 'tcp',
      address: '127.0.0.1',
      node: 'b',
      rooms: ['lobby'],
      identity: 'name:ghost',
      connectedAt: Date.now(),
    };
    const shared = await suite.cluster.masterOf('switchboard:{shared}:nodes');
    await suite.cluster.cli(shared, ['SET', 'switchboard:{shared}:name:ghost', 'b|b.m99', 'PX', '60000']);
    await suite.cluster.cli(shared, ['HSET', 'switchboard:{shared}:members:b', 'b.m99', JSON.stringify(record)]);
    const bytes = Buffer.from('one chunk\n');
    alice.send({ type: 'file-offer', transfer: 1, name: 'f.txt', size: bytes.length, to: 'ghost', ref: 'offer' });
    const reply = await until(
      'an answer to the offer',
      () => alice.received.find((m): m is Of<'file-offer'> | Of<'error'> => (m.type === 'file-offer' || m.type === 'error') && m.ref === 'offer'),
      10_000,
    );
    expect(reply).toMatchObject({ type: 'file-offer', to: 'ghost', from: 'alice' });
    // A name nobody holds, anywhere, is still NO_SUCH_MEMBER.
    alice.send({ type: 'file-offer', transfer: 2, name: 'g.txt', size: bytes.length, to: 'nobody', ref: 'none' });
    await expect(alice.find('error', (e) => e.ref === 'none', 10_000)).resolves.toMatchObject({ code: 'NO_SUCH_MEMBER' });
  }, 60_000);

  it('two members joining one room on two gateways at once end up in each other’s roster (roster, then presence)', async () => {
    const [a, b] = [await node('a'), await node('b')];
    // Who a member believes is in a room: its roster, then the presence events after it.
    const view = (p: Peer, room: string): Set<string> => {
      const names = new Set<string>();
      let rostered = false;
      for (const m of p.received) {
        if (m.type === 'roster' && m.room === room && !rostered) {
          rostered = true;
          for (const member of m.members) names.add(member.name);
        } else if (rostered && m.type === 'presence' && m.room === room) {
          if (m.event === 'join') names.add(m.member.name);
          else if (m.event === 'leave') names.delete(m.member.name);
        }
      }
      return names;
    };
    for (let round = 1; round <= 10; round++) {
      const room = `both${round}`;
      const [x, y] = [await peer(a), await peer(b)];
      const xName = `x${round}`;
      const yName = `y${round}`;
      x.send({ type: 'hello', v: 1, name: xName, room });
      y.send({ type: 'hello', v: 1, name: yName, room });
      await until(
        `round ${round}: each in the other's roster`,
        () => {
          const [seenByX, seenByY] = [view(x, room), view(y, room)];
          return seenByX.has(yName) && seenByY.has(xName) ? true : undefined;
        },
        10_000,
      ).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}: x sees ${[...view(x, room)].join(',')}, y sees ${[...view(y, room)].join(',')}`);
      });
    }
  }, 120_000);
});
