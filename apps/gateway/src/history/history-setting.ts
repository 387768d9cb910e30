/**
 * How a room's or the private conversations' messages are kept (docs/chat.md, "History settings";
 * PROTOCOL.md §6): `durable` in the history database, committed before the acknowledgement leaves;
 * `memory` in a bounded ring per room or conversation (the last `size`, none older than
 * `ttlSeconds`), forgotten on restart; `none` not at all (delivered live only).
 */
export const historyModes = ['durable', 'memory', 'none'] as const;
export type HistoryMode = (typeof historyModes)[number];

export interface HistorySetting {
  mode: HistoryMode;
  /** With `memory`: the most entries the ring keeps (default --history-memory-size). */
  size?: number;
  /** With `memory`: how long an entry stays, in seconds (default --history-memory-ttl). */
  ttlSeconds?: number;
}

/** A room's setting as it is stored and shared between gateways, like its access. */
export interface RoomHistoryRow extends HistorySetting {
  room: string;
}

/** A setting with its ring's size and TTL filled in (memory), or without them (durable, none). */
export interface EffectiveHistory {
  mode: HistoryMode;
  size?: number;
  ttlSeconds?: number;
}

export const MAX_MEMORY_HISTORY_SIZE = 10_000;
export const MAX_MEMORY_HISTORY_TTL_SECONDS = 30 * 24 * 3600;

/** Rooms, device rooms included, keep history in the database unless an operator says otherwise. */
export const ROOM_HISTORY_DEFAULT: HistorySetting = { mode: 'durable' };

/** The JSON schema of a setting: the body of PUT /api/rooms/:name/history and `history` in a config file's room. */
export const historySettingBody = {
  type: 'object',
  properties: {
    mode: { type: 'string', enum: historyModes },
    size: { type: 'integer', minimum: 1, maximum: MAX_MEMORY_HISTORY_SIZE },
    ttlSeconds: { type: 'integer', minimum: 1, maximum: MAX_MEMORY_HISTORY_TTL_SECONDS },
  },
  required: ['mode'],
  additionalProperties: false,
} as const;

/** Why a setting is refused (size and TTL go with `memory` only), or undefined. */
export function historySettingProblem(setting: HistorySetting): string | undefined {
  if (setting.mode !== 'memory' && (setting.size !== undefined || setting.ttlSeconds !== undefined))
    return '`size` and `ttlSeconds` go with mode "memory" only.';
  return undefined;
}

/** One form for every place a setting comes from: size and TTL only with `memory`. */
export function normalHistory(setting: HistorySetting): HistorySetting {
  if (setting.mode !== 'memory') return { mode: setting.mode };
  return {
    mode: 'memory',
    ...(setting.size !== undefined && { size: setting.size }),
    ...(setting.ttlSeconds !== undefined && { ttlSeconds: setting.ttlSeconds }),
  };
}

/** The gateway-wide defaults a setting leaves out. */
export interface MemoryHistoryDefaults {
  size: number;
  ttlSeconds: number;
}

export function effectiveHistory(setting: HistorySetting, defaults: MemoryHistoryDefaults): EffectiveHistory {
  if (setting.mode !== 'memory') return { mode: setting.mode };
  return { mode: 'memory', size: setting.size ?? defaults.size, ttlSeconds: setting.ttlSeconds ?? defaults.ttlSeconds };
}
