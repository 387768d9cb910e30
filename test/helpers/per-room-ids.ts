import { InProcessCluster, type ClusterNode } from '@switchboard/gateway';

/** Room numbers fit below this: an id is `sequence × ROOM_SPACE + room number`. */
export const ROOM_SPACE = 2 ** 21;

/**
 * A cluster of one whose ids are taken per room, as when each room's counter lives on its own
 * Redis Cluster shard: unique, increasing within a room (or one recipient's private
 * conversations), but two rooms' ids do not compare. A busy room's ids run far ahead of a
 * quiet one's, so a client that resumes every room from one highest id misses the quiet rooms.
 */
export function perRoomIds(): ClusterNode {
  const node = new InProcessCluster().node('local');
  const counters = new Map<string, { number: number; sequence: number }>();
  const append: ClusterNode['log']['append'] = (entry) => {
    const room = entry.kind === 'private' ? undefined : entry.room;
    const stream = room !== undefined ? `room:${room}` : `private:${(entry.kind === 'message' ? undefined : (entry.toIdentity ?? entry.to)) ?? ''}`;
    let counter = counters.get(stream);
    if (counter === undefined) counters.set(stream, (counter = { number: counters.size + 1, sequence: 0 }));
    return ++counter.sequence * ROOM_SPACE + counter.number;
  };
  return { ...node, log: { ...node.log, append } };
}
