import { ProtocolError, type ServerMessageOf } from '@switchboard/protocol';

/**
 * Errors the client raises on its own side of the wire. Errors the server reports in an
 * error frame become a ProtocolError from @switchboard/protocol with the server's code, so a
 * caller tells them apart with `instanceof` and switches on `code` either way.
 */
export const ClientErrorCodes = {
  CONNECT_FAILED: 'The connection could not be opened (refused, unreachable, unknown host, TLS failure).',
  CONNECT_TIMEOUT: 'No connection, or no welcome, within the connect timeout.',
  CLOSED: 'The connection is closed, or closed before the awaited reply arrived.',
  TIMEOUT: 'The awaited reply or frame did not arrive in time.',
  INVALID_ARGUMENT: 'An argument is not acceptable (bad name, bad room, bad option).',
  FILE_UNREADABLE: 'The file to send cannot be read, or is not a regular file.',
  FILE_CHANGED: 'The file to send changed size while it was being sent.',
  FILE_CANCELLED: 'The caller aborted the file transfer.',
  FILE_WRITE_FAILED: 'A received file could not be written to the download directory.',
} as const;

export type ClientErrorCode = keyof typeof ClientErrorCodes;

export class ClientError extends Error {
  override readonly name = 'ClientError';
  readonly code: ClientErrorCode;

  constructor(code: ClientErrorCode, message: string = ClientErrorCodes[code], options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

const socketErrorWords: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  EADDRNOTAVAIL: 'address not available',
};

/** "connection refused" rather than "connect ECONNREFUSED 127.0.0.1:9000". */
export function describeSocketError(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code in socketErrorWords) return socketErrorWords[code]!;
  return error instanceof Error ? error.message : String(error);
}

/** An error frame from the server as the ProtocolError it rejects with (its ref kept). */
export function serverFailure(frame: ServerMessageOf<'error'>): ProtocolError {
  const failure = new ProtocolError(frame.code, frame.message);
  failure.ref = frame.ref;
  return failure;
}
