// The gateway's REST API under /api. Every failure becomes an ApiError with the code the
// gateway sent ({code, message} bodies), or a local code when there was no such body.
// The body types come from the gateway's route schemas (types only: nothing of the gateway
// reaches the bundle).
import type { ErrorBody, ServerConfig } from '@switchboard/gateway/api-types';

export type {
  Client as ClientInfo,
  ClientList,
  DeviceInfo,
  DeviceList,
  ErrorBody,
  HistoryEntry,
  HistoryPage,
  ListenerInfo,
  ListenerList,
  ListenerStatus,
  NewDevice,
  NewListener,
  OkId,
  Room as RoomSummary,
  RoomList,
  ServerConfig,
  ServerStats,
  StatsHistory,
} from '@switchboard/gateway/api-types';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly code: string;
  /** HTTP status, or 0 when the request never got an answer. */
  readonly status: number;

  constructor(code: string, message: string, status: number, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.status = status;
  }
}

export interface RequestOptions {
  body?: unknown;
  token?: string | null;
  signal?: AbortSignal;
}

export type HttpMethod = 'GET' | 'POST' | 'DELETE';

/** A JSON answer, or undefined for `204 No Content` (DELETE). */
export async function requestJson<T>(method: HttpMethod, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.token) headers['authorization'] = `Bearer ${options.token}`;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: options.body === undefined ? null : JSON.stringify(options.body),
      signal: options.signal ?? null,
    });
  } catch (cause) {
    throw new ApiError('NETWORK_ERROR', `Could not reach the gateway (${method} ${path}).`, 0, { cause });
  }
  const text = await response.text();
  let json: unknown = undefined;
  if (text.length > 0) {
    try {
      json = JSON.parse(text);
    } catch {
      // Left undefined: handled below as a body that is not the JSON we expect.
    }
  }
  if (!response.ok) {
    const body = json as Partial<Record<keyof ErrorBody, unknown>> | undefined;
    const code = typeof body?.code === 'string' ? body.code : `HTTP_${response.status}`;
    const message = typeof body?.message === 'string' ? body.message : `${method} ${path} answered ${response.status} ${response.statusText}.`;
    throw new ApiError(code, message, response.status);
  }
  if (response.status === 204) return undefined as T;
  if (json === undefined) {
    throw new ApiError('INVALID_RESPONSE', `${method} ${path} did not answer with JSON.`, response.status);
  }
  return json as T;
}

export function fetchServerConfig(): Promise<ServerConfig> {
  return requestJson<ServerConfig>('GET', '/api/config');
}
