import type { ServerMessage } from '@switchboard/protocol';
import { describe, expect, it } from 'vitest';
import { busIn } from '../helpers/bus-metrics.js';
import type { ClusterNodeProcess } from '../helpers/cluster-node.js';
import { Peer, sleep } from '../helpers/peer.js';
import { useRedisCluster } from '../helpers/redis-cluster-suite.js';
import { until } from '../helpers/until.js';

/**
 * A gateway added to a running chat (issue 25, "a gateway added under load serves its rooms'
 * history"), on a real Redis Cluster (three masters, three replicas) with gateways as child
 * processes. Black-box: only the wire and /metrics, so it holds whatever the key layout and the id
 * scheme are. Every loop is bounded in count and time.
 */
type Of<K extends ServerMessage['type']> = Extract<ServerMessage, { type: K }>;

const suite = useRedisCluster(['--metrics-public']);

const node = (id: string): Promise<ClusterNodeProcess> => suite.gateway(id);

async function connect(gateway: ClusterNodeProcess, name: string, room?: string): Promise<{ peer: Peer; welcome: Of<'welcome'> }> {
  const peer = await suite.tcpPeer(gateway.tcpPort);
  const welcome = await peer.hello(name, room === undefined ? {} : { room });
  return { peer, welcome };
}

/** A member joined to `room` once its roster came: from then on what is said there reaches it. */
async function member(gateway: ClusterNodeProcess, name: string, room: string): Promise<Peer> {
  const { peer } = await connect(gateway, name, room);
  await peer.find('roster', (r) => r.room === room, 10_000);
  return peer;
}

/** Says `text` in `room` with a ref and waits (bounded) for its acknowledgement: the stored message's id. */
async function say(peer: Peer, room: string, text: string): Promise<number> {
  peer.send({ type: 'message', room, text, ref: text });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const reply = peer.received.find((m): m is Of<'message'> | Of<'error'> => (m.type === 'message' || m.type === 'error') && m.ref === text);
    if (reply?.type === 'message') return reply.id;
    if (reply !== undefined) throw new Error(`${text} refused: ${JSON.stringify(reply)}`);
    if (Date.now() > deadline) throw new Error(`no answer to ${text}; got ${peer.describe()}`);
    await sleep(10);
  }
}

/** A speaker saying a numbered message in its room every ~25 ms until stopped (at most `max`); `acknowledged` are the ids it was given. */
function chat(speaker: Peer, room: string, max = 1_500): { acknowledged: number[]; stop: () => Promise<void> } {
  const acknowledged: number[] = [];
  const state = { stopped: false };
  const running = (async () => {
    for (let n = 0; !state.stopped && n < max; n++) {
      acknowledged.push(await say(speaker, room, `${room}-${n}`));
      await sleep(25);
    }
  })();
  return {
    acknowledged,
    stop: async () => {
      state.stopped = true;
      await running;
    },
  };
}

/** Pages back through `room` with `history {room, before}` from `oldest` until `more` is false: the ids got, newest page first. */
async function pageBack(peer: Peer, room: string, oldest: number): Promise<number[]> {
  const ids: number[] = [];
  let before = oldest;
  for (let page = 0; page < 200; page++) {
    const ref = `${room}-before-${before}`;
    peer.send({ type: 'history', room, before, limit: 20, ref });
    const reply = await peer.next('history', (h) => h.ref === ref, 10_000);
    const got = reply.entries.map((entry) => entry.id);
    // Each page is older than the one before it, oldest first.
    expect(
      got.every((id, i) => id < before && (i === 0 || id > got[i - 1]!)),
      `${room} before ${before}: ${got.join(' ')}`,
    ).toBe(true);
    ids.push(...got);
    if (!reply.more) return ids;
    before = got[0]!;
  }
  throw new Error(`${room}: more than 200 pages`);
}

const ascending = (ids: number[]): number[] => [...ids].sort((x, y) => x - y);

describe('a gateway added to a running chat', () => {
  it('serves its rooms: recent history on join, every earlier message by paging back, nothing missing or repeated, then live messages in order; it hears nothing of a room it does not serve', async () => {
    const [a, b] = [await node('a'), await node('b')];

    // "attic" has history but, by the time the new gateway starts, no member anywhere: only the new gateway will serve it.
    const atticWriter = await member(a, 'writer', 'attic');
    const attic: number[] = [];
    for (let n = 0; n < 70; n++) attic.push(await say(atticWriter, 'attic', `attic-${n}`));
    atticWriter.send({ type: 'leave', room: 'attic', ref: 'gone' });
    await atticWriter.next('presence', (p) => p.ref === 'gone', 10_000);

    // "hall" is spoken on a and heard on b; "den" is spoken on b and heard on a. The new gateway will serve hall, never den.
    const hallSpeaker = await member(a, 'hallspeaker', 'hall');
    const hallListener = await member(b, 'halllistener', 'hall');
    const denSpeaker = await member(b, 'denspeaker', 'den');
    const denListener = await member(a, 'denlistener', 'den');
    await hallSpeaker.next('presence', (p) => p.event === 'join' && p.member.name === 'halllistener', 10_000);
    await denSpeaker.next('presence', (p) => p.event === 'join' && p.member.name === 'denlistener', 10_000);
    const hall = chat(hallSpeaker, 'hall');
    const den = chat(denSpeaker, 'den');
    try {
      // More than a join's recent history (50) is said before the new gateway exists.
      await until('80 messages acknowledged in hall', () => (hall.acknowledged.length >= 80 ? true : undefined), 30_000);
      const c = await node('c');

      // Joined by hello: the welcome, the roster, then the room's recent history.
      const { peer: newcomer, welcome } = await connect(c, 'newcomer', 'hall');
      expect(welcome.room).toBe('hall');
      const recent = (await newcomer.next('history', (h) => h.room === 'hall', 10_000)).entries.map((entry) => entry.id);
      expect(recent.length).toBeGreaterThan(0);
      const paged = await pageBack(newcomer, 'hall', recent[0]!);
      // Joined by `join`, to a room no gateway serves now.
      const { peer: atticReader } = await connect(c, 'atticreader');
      atticReader.send({ type: 'join', room: 'attic', ref: 'j' });
      await atticReader.next('roster', (r) => r.ref === 'j', 10_000);
      const atticRecent = (await atticReader.next('history', (h) => h.ref === 'j', 10_000)).entries.map((entry) => entry.id);
      expect(atticRecent.length).toBeGreaterThan(0);
      const atticPaged = await pageBack(atticReader, 'attic', atticRecent[0]!);
      expect(ascending([...atticPaged, ...atticRecent])).toEqual(attic);

      // Live from then on, while hall goes on; then hall stops and its last message reaches the newcomer.
      const liveHall = (): number[] => newcomer.received.flatMap((m) => (m.type === 'message' && m.room === 'hall' ? [m.id] : []));
      await until('20 live hall messages on the new gateway', () => (liveHall().length >= 20 ? true : undefined), 30_000);
      await hall.stop();
      const last = hall.acknowledged.at(-1)!;
      await until(`the last hall message (${last}) on the new gateway`, () => (liveHall().includes(last) ? true : undefined), 10_000);

      const live = liveHall();
      expect(
        live.every((id, i) => i === 0 || id > live[i - 1]!),
        `live: ${live.join(' ')}`,
      ).toBe(true); // in order, each once
      expect(live[0]!).toBeGreaterThan(recent.at(-1)!); // the live ones follow the history
      const seen = [...paged, ...recent, ...live];
      expect(new Set(seen).size).toBe(seen.length); // nothing repeated
      expect(ascending(seen)).toEqual(hall.acknowledged); // nothing missing, nothing else

      // den goes on: the new gateway, with no member in it, receives none of it.
      const quiet = await busIn(c);
      const denFrom = den.acknowledged.length;
      await until(
        '20 more den messages heard on a',
        () => {
          const more = den.acknowledged.slice(denFrom, denFrom + 20);
          if (more.length < 20) return undefined;
          const heard = new Set(denListener.received.flatMap((m) => (m.type === 'message' && m.room === 'den' ? [m.id] : [])));
          return more.every((id) => heard.has(id)) ? true : undefined;
        },
        30_000,
      );
      await sleep(300); // what c would have heard has long arrived by now
      expect(await busIn(c)).toBe(quiet);
      console.log(
        `hall: ${hall.acknowledged.length} acknowledged (${paged.length} paged back, ${recent.length} on join, ${live.length} live on the new gateway)`,
      );
    } finally {
      await Promise.all([hall.stop(), den.stop()]);
    }
    expect(hallListener.closed).toBe(false);
  }, 120_000);
  it('a join on a gateway newly serving a room gets a message stored during its read-up once: in its history, not again live (the message held unpublished by a paused replica)', async () => {
    // a waits up to 10 s for the replica's WAIT: the message stays stored and unpublished while the replica is paused.
    const [a, c] = [await suite.gateway('a', ['--cluster-timeout-ms', '10000']), await node('c')];
    const room = 'overlap';
    const stream = `switchboard:{room:${room}}:log`;
    const master = await suite.cluster.masterOf(stream);
    const [replica] = await suite.cluster.replicasOf(master);
    if (replica === undefined) throw new Error(`the master of ${room} has no replica`);
    const speaker = await member(a, 'speaker', room);
    const before = await say(speaker, room, 'before');

    suite.cluster.pause(replica);
    let joiner: Peer;
    let joinHistory: number[];
    try {
      speaker.send({ type: 'message', room, text: 'overlap', ref: 'overlap' });
      // Stored (in the stream), not yet acknowledged nor published: a waits for the paused replica.
      await until(
        'the overlap message in the stream',
        async () => ((await suite.cluster.cli(master, ['XLEN', stream])).trim() === '2' ? true : undefined),
        5_000,
      );
      // c starts serving the room: its read-up finds the message.
      joiner = (await connect(c, 'joiner', room)).peer;
      joinHistory = (await joiner.next('history', (h) => h.room === room, 10_000)).entries.map((entry) => entry.id);
    } finally {
      suite.cluster.resume(replica);
    }
    const overlap = (await speaker.next('message', (m) => m.ref === 'overlap', 15_000)).id;
    expect(joinHistory).toEqual([before, overlap]);
    const after = await say(speaker, room, 'after');
    await joiner.next('message', (m) => m.id === after, 10_000);
    await sleep(300); // a second live copy of overlap would have come by now
    expect(joiner.received.flatMap((m) => (m.type === 'message' ? [m.id] : []))).toEqual([after]);
  }, 60_000);
});
