// A gateway (apps/gateway/dist, built by tsc -b) whose message ids are taken per room, as when
// each room's counter lives on its own Redis Cluster shard: `sequence * 2^21 + room number`.
// Ids increase within a room only; a busy room's run far ahead of a quiet one's. Started by
// conftest.py like main.js (it reads --data-dir and ignores the other flags) and prints the
// same banner with its ports.
import { buildApp, defaultConfig, InProcessCluster } from '../../../apps/gateway/dist/index.js';

const ROOM_SPACE = 2 ** 21;
const node = new InProcessCluster().node('local');
const counters = new Map();
const append = (entry) => {
  const room = entry.kind === 'private' ? undefined : entry.room;
  const stream = room !== undefined ? `room:${room}` : `private:${entry.toIdentity ?? entry.to ?? ''}`;
  let counter = counters.get(stream);
  if (counter === undefined) counters.set(stream, (counter = { number: counters.size + 1, sequence: 0 }));
  return ++counter.sequence * ROOM_SPACE + counter.number;
};

const config = defaultConfig();
const dataDir = process.argv.indexOf('--data-dir');
config.dataDir = dataDir > 0 ? process.argv[dataDir + 1] : null;
config.http = { host: '127.0.0.1', port: 0 };
config.tcp = { ...config.tcp, host: '127.0.0.1', port: 0 };
config.webRoot = null;
const app = await buildApp(config, { logger: false, cluster: { ...node, log: { ...node.log, append } } });
await app.listen({ host: '127.0.0.1', port: 0 });
await app.listeners.startAll();
console.log(`page http://127.0.0.1:${app.server.address().port}/ TCP 127.0.0.1:${app.tcpListener.status().port}`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
