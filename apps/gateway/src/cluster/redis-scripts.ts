import { defineScript, type CommandParser } from '@redis/client';

/**
 * The Lua scripts a Redis node runs: each is one atomic step on the Redis server, so two
 * nodes never see half of another's change. Times come from Redis's own clock (TIME), so the
 * nodes' clocks need not agree. Some touch keys that KEYS does not list (a lost node's names,
 * a user's tokens), built from a prefix: on a Redis Cluster those keys share the hash tag of the
 * keys listed (`{shared}`, redis-cluster.ts keyLayout), so every script call stays in one slot.
 *
 * Each is registered on the client (SCRIPTS below) with node-redis's defineScript: it runs by
 * EVALSHA and node-redis sends the source again on NOSCRIPT (first use, after a Redis restart).
 * Every script takes its keys, then its arguments: `client.claim(keys, args)`.
 */
function script(keys: number, source: string) {
  return defineScript({
    SCRIPT: source,
    NUMBER_OF_KEYS: keys,
    parseCommand(parser: CommandParser, keyNames: string[], args: string[]) {
      parser.pushKeys(keyNames);
      parser.push(...args);
    },
    transformReply: (reply: unknown) => reply,
  });
}

const NOW = `local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * Lua: the entry (`fields`) added to every stream of KEYS[2…] (trimmed to ARGV[1]) under the stream
 * id `streamId`; where a stream already holds a higher id (a counter older than the stream), under
 * a time-based id instead: in order, only no longer by message id.
 */
const addToStreams = (streamId: string, fields: string): string => `for i = 2, #KEYS do
  local added = redis.pcall('XADD', KEYS[i], 'MAXLEN', '~', ARGV[1], ${streamId}, ${fields})
  if type(added) == 'table' and added.err then
    redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[1], '*', ${fields})
  end
end`;

/**
 * Lua: `entry` added to the stream `key` (trimmed to ARGV[1]) under the stream id `streamId`, or
 * under a time-based id where the stream already holds a higher one (as addToStreams).
 */
const addEntry = (
  key: string,
  streamId: string,
  fields: string,
): string => `local added = redis.pcall('XADD', ${key}, 'MAXLEN', '~', ARGV[1], ${streamId}, ${fields})
if type(added) == 'table' and added.err then
  redis.call('XADD', ${key}, 'MAXLEN', '~', ARGV[1], '*', ${fields})
end`;

/**
 * One Redis: the messages a gateway took in one turn, each given its id and added to its streams,
 * in one step and in the order taken: the id counter and the streams cannot disagree, and ids
 * increase in that order across every room. Each entry goes to each stream it names (a room's; a
 * private one to both sides' identities) under the stream id `<message id>-0`, so a stream's
 * order is id order and a reader can start at a message id (should a stream ever hold a higher
 * id, a counter older than the stream, under a time-based id instead: in order, only no longer by
 * message id). Returns the ids, in the entries' order (as strings: exact above 2^31).
 * KEYS: counter, stream…. ARGV: max length, writer (the appending process), then per entry: ts,
 * entry (JSON), the KEYS indexes of its streams (`2` or `3,4`).
 */
const APPEND_BATCH = script(
  1,
  `
local n = (#ARGV - 2) / 3
local first = redis.call('INCRBY', KEYS[1], n) - n
local ids = {}
for e = 1, n do
  local at = 3 + (e - 1) * 3
  local id = string.format('%d', first + e)
  for index in string.gmatch(ARGV[at + 2], '%d+') do
    ${addEntry('KEYS[tonumber(index)]', "id .. '-0'", "'n', ARGV[2], 'i', id, 't', ARGV[at], 'e', ARGV[at + 1]")}
  end
  ids[e] = id
end
return ids`,
);

/**
 * A file's checksum once the file is whole, in the streams its announcement went to, after
 * everything logged so far (under `<counter>-<n>`: read from any message id up to the counter
 * on). KEYS: counter, stream, stream…. ARGV: max length, writer, file's message id, sha256.
 */
const COMPLETE_FILE = script(
  2,
  `
local at = redis.call('GET', KEYS[1]) or '0'
${addToStreams("at .. '-*'", "'n', ARGV[2], 'i', ARGV[3], 's', ARGV[4]")}
return 1`,
);

/**
 * On a Redis Cluster (history-keys.ts, `per-slot`): an id from the counter of one hash slot and the
 * entry under it in the streams named, all in that slot, in one step. The id is `sequence × 16384
 * + slot`; the sequence goes on above a floor, the highest this node knows of the slot (what it
 * stored or read, and its own history's highest at start), so a counter that went back (a promoted
 * replica that lacked the last writes, Redis restarted empty) cannot give an id twice to what this
 * node has seen: RAISE_COUNTER's job, per slot and on every append. Stream ids are
 * `<message id>-0` as in APPEND_BATCH (a stream's order is id order). No stream: the id alone (a
 * private message's, taken in its conversation's slot).
 * KEYS: the slot's counter, stream…. ARGV: max length, writer, ts, entry (JSON), floor, slot.
 */
const APPEND_IN_SLOT = script(
  1,
  `
local sequence = redis.call('INCR', KEYS[1])
local floor = tonumber(ARGV[5])
if sequence <= floor then
  sequence = floor + 1
  redis.call('SET', KEYS[1], sequence)
end
local id = string.format('%d', sequence * 16384 + tonumber(ARGV[6]))
${addToStreams("id .. '-0'", "'n', ARGV[2], 'i', id, 't', ARGV[3], 'e', ARGV[4]")}
return id`,
);

/**
 * On a Redis Cluster: the entries a gateway took for one room in one turn, in one step on the
 * room's shard, as APPEND_IN_SLOT would one by one: consecutive sequences from the counter of the
 * room's slot (above the same floor), each entry under `<its id>-0` in the room's stream, in the
 * order taken. Returns the stream id of the stream's last entry before them ('0-0': none), then
 * each entry's message id and stream id, in that order: the bus carries each entry with where it
 * sits (bus-messages.ts), so a gateway that has read the stream up to just before it takes it
 * without reading the stream. KEYS: the slot's counter, the room's stream.
 * ARGV: max length, writer, floor, slot, then per entry: ts, entry (JSON).
 */
const APPEND_IN_SLOT_BATCH = script(
  1,
  `
local n = (#ARGV - 4) / 2
local first = redis.call('INCRBY', KEYS[1], n) - n + 1
local floor = tonumber(ARGV[3])
if first <= floor then
  first = floor + 1
  redis.call('SET', KEYS[1], string.format('%d', first + n - 1))
end
local slot = tonumber(ARGV[4])
local top = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)[1]
local out = { top and top[1] or '0-0' }
for e = 1, n do
  local at = 5 + (e - 1) * 2
  local id = string.format('%d', (first + e - 1) * 16384 + slot)
  local added = redis.pcall('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], id .. '-0', 'n', ARGV[2], 'i', id, 't', ARGV[at], 'e', ARGV[at + 1])
  if type(added) == 'table' and added.err then
    added = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', 'n', ARGV[2], 'i', id, 't', ARGV[at], 'e', ARGV[at + 1])
  end
  out[#out + 1] = id
  out[#out + 1] = added
end
return out`,
);

/**
 * On a Redis Cluster: a file's checksum in one stream, after everything in it so far (under
 * `<its last entry's id>-<n>`), so a room's later entries still go under their message ids.
 * KEYS: stream. ARGV: max length, writer, file's message id, sha256.
 */
const COMPLETE_FILE_AT_TOP = script(
  1,
  `
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
local at = top and string.match(top[1], '^(%d+)') or '0'
local added = redis.pcall('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], at .. '-*', 'n', ARGV[2], 'i', ARGV[3], 's', ARGV[4])
if type(added) == 'table' and added.err then
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'n', ARGV[2], 'i', ARGV[3], 's', ARGV[4])
end
return 1`,
);

/** Ids go on from the highest this node stored (a single gateway joining a cluster keeps its history). KEYS: counter. ARGV: last id. */
const RAISE_COUNTER = script(
  1,
  `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1`,
);

/**
 * Claims a name for an owner unless another holds it; the claim expires unless its node
 * refreshes it (HEARTBEAT). KEYS: name key, the node's set of name keys. ARGV: owner value, ttl ms.
 */
const CLAIM = script(
  2,
  `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[2], KEYS[1])
return 1`,
);

/** Frees a name its owner holds. KEYS: name key, the node's set. ARGV: owner value. */
const RELEASE = script(
  2,
  `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('SREM', KEYS[2], KEYS[1])
return 1`,
);

/**
 * The node is alive: its time in the node set, its names and member hash live on. Returns 1
 * when the node was not in the set (it is new, or others gave it up for lost and it must
 * publish its state again). KEYS: node set, the node's name set, its member hash. ARGV: node, ttl ms.
 */
const HEARTBEAT = script(
  3,
  `
${NOW}
local added = redis.call('ZADD', KEYS[1], now, ARGV[1])
for _, key in ipairs(redis.call('SMEMBERS', KEYS[2])) do redis.call('PEXPIRE', key, ARGV[2]) end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
return added`,
);

/**
 * Nodes silent for longer than ARGV[1] ms are gone: out of the node set, their names and
 * member hashes deleted. Returns their ids (each lost node is returned to one caller only).
 * KEYS: node set. ARGV: silence ms, key prefix.
 */
const SWEEP = script(
  1,
  `
${NOW}
local lost = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))
for _, node in ipairs(lost) do
  redis.call('ZREM', KEYS[1], node)
  local names = ARGV[2] .. 'names:' .. node
  for _, key in ipairs(redis.call('SMEMBERS', names)) do
    local holder = redis.call('GET', key)
    if holder and string.sub(holder, 1, #node + 1) == node .. '|' then redis.call('DEL', key) end
  end
  redis.call('DEL', names, ARGV[2] .. 'members:' .. node)
end
return lost`,
);

/** The token holder took another name: each of its tokens reclaims that one. KEYS: its token set. ARGV: token key prefix, name. */
const RENAME_TOKENS = script(
  1,
  `
for _, hash in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. hash
  local value = redis.call('GET', key)
  if value then
    local token = cjson.decode(value)
    token.name = ARGV[2]
    redis.call('SET', key, cjson.encode(token), 'KEEPTTL')
  end
end
return 1`,
);

/**
 * A used token was replaced (rotation): the tokens it had replaced stop, it works until its grace
 * ends, and its successor knows it replaced it. KEYS: its token key, its predecessors' set, the
 * successor's predecessors' set. ARGV: token key prefix, its hash, the successor's hash, the grace's end (ms).
 */
const ROTATE_TOKEN = script(
  3,
  `
for _, hash in ipairs(redis.call('SMEMBERS', KEYS[2])) do redis.call('DEL', ARGV[1] .. hash) end
redis.call('DEL', KEYS[2])
local value = redis.call('GET', KEYS[1])
if not value then return 0 end
local token = cjson.decode(value)
local ends = tonumber(ARGV[4])
if ends < token.expiresAt then token.expiresAt = ends end
token.rotatedTo = ARGV[3]
${NOW}
local ttl = token.expiresAt - now
if ttl < 1 then redis.call('DEL', KEYS[1]) return 0 end
redis.call('SET', KEYS[1], cjson.encode(token), 'PX', ttl)
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('PEXPIRE', KEYS[3], ttl)
return 1`,
);

/** Signing out: the token and the ones it replaced stop. KEYS: its token key, its predecessors' set. ARGV: token key prefix. */
const REVOKE_TOKEN = script(
  2,
  `
for _, hash in ipairs(redis.call('SMEMBERS', KEYS[2])) do redis.call('DEL', ARGV[1] .. hash) end
redis.call('DEL', KEYS[1], KEYS[2])
return 1`,
);

/** Ends every session of an account (a new password, a deleted account). KEYS: its token set. ARGV: token key prefix. */
const REVOKE_TOKENS = script(
  1,
  `
for _, hash in ipairs(redis.call('SMEMBERS', KEYS[1])) do redis.call('DEL', ARGV[1] .. hash) end
redis.call('DEL', KEYS[1])
return 1`,
);

/** The scripts, by the name each has on the client. */
export const SCRIPTS = {
  appendBatch: APPEND_BATCH,
  completeFile: COMPLETE_FILE,
  appendInSlot: APPEND_IN_SLOT,
  appendInSlotBatch: APPEND_IN_SLOT_BATCH,
  completeFileAtTop: COMPLETE_FILE_AT_TOP,
  raiseCounter: RAISE_COUNTER,
  claim: CLAIM,
  release: RELEASE,
  heartbeat: HEARTBEAT,
  sweep: SWEEP,
  renameTokens: RENAME_TOKENS,
  rotateToken: ROTATE_TOKEN,
  revokeToken: REVOKE_TOKEN,
  revokeTokens: REVOKE_TOKENS,
};
export type ScriptName = keyof typeof SCRIPTS;
