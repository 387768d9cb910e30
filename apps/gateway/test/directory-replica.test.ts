import { describe, expect, it } from 'vitest';
import type { MemberRecord } from '../src/cluster/cluster.js';
import { DirectoryReplica } from '../src/cluster/directory-replica.js';

const record = (id: string, name: string, rooms: string[]): MemberRecord => ({
  id,
  name,
  rooms,
  node: 'b',
  transport: 'tcp',
  address: '127.0.0.1',
  identity: `name:${name}`,
  connectedAt: 0,
});

describe('directory replica: a node’s state read again', () => {
  it('replaceNode says who joined which rooms, who left which, and who is gone, since the replica last heard', () => {
    const replica = new DirectoryReplica();
    replica.put(record('b.m1', 'bob', ['lobby', 'kitchen']));
    replica.put(record('b.m2', 'erin', ['kitchen']));
    replica.put(record('b.m3', 'dave', ['lobby']));
    const changes = replica.replaceNode('b', [record('b.m1', 'bob', ['lobby']), record('b.m3', 'dave', ['lobby', 'kitchen']), record('b.m4', 'fay', ['hall'])]);
    expect(changes.left.map(({ record: r, rooms, gone }) => [r.name, rooms, gone])).toEqual([
      ['erin', ['kitchen'], true],
      ['bob', ['kitchen'], false],
    ]);
    expect(changes.joined.map(({ record: r, rooms }) => [r.name, rooms])).toEqual([
      ['dave', ['kitchen']],
      ['fay', ['hall']],
    ]);
    expect(replica.inRoom('kitchen').map((r) => r.name)).toEqual(['dave']);
    // The same state again: nothing changed.
    expect(replica.replaceNode('b', replica.ofNode('b'))).toEqual({ joined: [], left: [] });
  });
});
