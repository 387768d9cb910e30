import { ErrorCodes, type ErrorCode } from '@switchboard/protocol';

/**
 * Codes the HTTP API adds to the protocol's table. Together with the protocol codes these are
 * every `code` an HTTP error body can carry; docs/rest-api.md lists them and a test keeps them in step.
 */
export const HttpErrorCodes = {
  VALIDATION_FAILED: 'The request body, parameters or query do not match the route schema.',
  INVALID_JSON_BODY: 'The request body is not valid JSON.',
  UNSUPPORTED_MEDIA_TYPE: 'The request body must be application/json.',
  PAYLOAD_TOO_LARGE: 'The request body is larger than the API accepts.',
  NOT_FOUND: 'No such route.',
  CLIENT_NOT_FOUND: 'No connected client has that id.',
  LISTENER_ALREADY_RUNNING: 'The TCP listener is already listening.',
  LISTENER_NOT_RUNNING: 'The TCP listener is not listening.',
  ADDRESS_IN_USE: 'Another process already listens on that host and port.',
  ADDRESS_NOT_AVAILABLE: 'That host is not an address of this machine.',
  PERMISSION_DENIED: 'The operating system refused (ports below 1024 need privileges).',
  TOO_MANY_OPEN_FILES: 'The process ran out of file descriptors (raise ulimit -n).',
  UNAUTHORIZED: 'Admin calls need `Authorization: Bearer <token>` with the configured token.',
  FORBIDDEN: 'With no admin token configured, admin calls are accepted from loopback addresses only.',
  ORIGIN_NOT_ALLOWED: 'The WebSocket upgrade came from an Origin that is not allowed.',
  HOST_NOT_ALLOWED: 'The request named a host (`Host` header) this gateway does not answer to: see --allowed-hosts.',
  CROSS_ORIGIN_REFUSED: 'A state-changing call came from a page of another origin: see --allowed-origins.',
  BAN_INVALID: "The ban's address or CIDR block does not parse (IPv4 or IPv6, as `node:net` reads them).",
  LISTENER_NOT_FOUND: 'No listener has that id.',
  LISTENER_EXISTS: 'A listener or device link with that id already exists.',
  LISTENER_IS_DEFAULT: 'The default listener can be stopped and started, not removed.',
  DEVICE_NOT_FOUND: 'No device link or device member has that id.',
  LINK_NOT_IN_BACKOFF: 'The device link is not waiting to dial again (it is connected, connecting or stopped).',
  TARGET_NOT_ALLOWED: 'The device is outside --device-targets: the gateway is not an open proxy.',
  RULE_NOT_FOUND: 'No auto-reply rule has that id.',
  RULE_PATTERN_INVALID: "A rule's regex does not compile in RE2 (linear-time matching: no backreferences or lookaround).",
  REGISTRATION_CLOSED: 'This gateway takes no new accounts (--registration), or only from operators.',
  ACCOUNT_NOT_FOUND: 'No account has that name.',
  BAN_NOT_FOUND: 'No ban has that id.',
  MACRO_NOT_FOUND: 'No macro has that id.',
  NODE_NOT_FOUND: 'No live gateway node of this cluster has that id (`?node=`).',
  NODE_UNAVAILABLE: 'The gateway node named by `?node=` did not answer in time.',
  FILE_NOT_FOUND: 'No kept file has that id that you may read (never kept, removed by the limits or retention, or --no-file-store).',
} as const;

export type HttpErrorCode = keyof typeof HttpErrorCodes;
export type GatewayErrorCode = ErrorCode | HttpErrorCode;

export const GatewayErrorCodes: Record<GatewayErrorCode, string> = { ...ErrorCodes, ...HttpErrorCodes };

const statusOf: Partial<Record<GatewayErrorCode, number>> = {
  VALIDATION_FAILED: 400,
  INVALID_JSON_BODY: 400,
  NAME_INVALID: 400,
  ROOM_INVALID: 400,
  TEXT_TOO_LONG: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  ROOM_FORBIDDEN: 403,
  ORIGIN_NOT_ALLOWED: 403,
  CROSS_ORIGIN_REFUSED: 403,
  HOST_NOT_ALLOWED: 421,
  BAN_INVALID: 400,
  NOT_FOUND: 404,
  CLIENT_NOT_FOUND: 404,
  LISTENER_NOT_FOUND: 404,
  DEVICE_NOT_FOUND: 404,
  RULE_NOT_FOUND: 404,
  RULE_PATTERN_INVALID: 400,
  ACCOUNT_NOT_FOUND: 404,
  BAN_NOT_FOUND: 404,
  REGISTRATION_CLOSED: 403,
  BANNED: 403,
  AUTH_REQUIRED: 401,
  AUTH_FAILED: 401,
  AUTH_RATE_LIMITED: 429,
  MACRO_NOT_FOUND: 404,
  LISTENER_EXISTS: 409,
  LISTENER_IS_DEFAULT: 409,
  LINK_NOT_IN_BACKOFF: 409,
  TARGET_NOT_ALLOWED: 403,
  ROOM_NOT_FOUND: 404,
  NO_SUCH_MEMBER: 404,
  LISTENER_ALREADY_RUNNING: 409,
  LISTENER_NOT_RUNNING: 409,
  ADDRESS_IN_USE: 409,
  NAME_TAKEN: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  ADDRESS_NOT_AVAILABLE: 422,
  PERMISSION_DENIED: 422,
  RATE_LIMITED: 429,
  TOO_MANY_OPEN_FILES: 503,
  SERVER_SHUTTING_DOWN: 503,
  INTERNAL: 500,
  NODE_NOT_FOUND: 404,
  NODE_UNAVAILABLE: 504,
  FILE_NOT_FOUND: 404,
  CLUSTER_UNAVAILABLE: 503,
};

/** The HTTP status an error code is answered with (400 unless the table says otherwise). */
export function httpStatusOf(code: GatewayErrorCode): number {
  return statusOf[code] ?? 400;
}

/** An error the API reports as `{code, message}` with an HTTP status. */
export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  readonly code: GatewayErrorCode;
  readonly statusCode: number;

  constructor(code: GatewayErrorCode, message: string = GatewayErrorCodes[code], options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.statusCode = httpStatusOf(code);
  }
}

/** Turns an OS error from listen() into the operator's words, or undefined if it is not one we know. */
export function fromListenError(error: unknown, host: string, port: number): GatewayError | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const where = `${host}:${port}`;
  switch (code) {
    case 'EADDRINUSE':
      return new GatewayError('ADDRESS_IN_USE', `Cannot listen on ${where}: the address is already in use.`, { cause: error });
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new GatewayError('ADDRESS_NOT_AVAILABLE', `Cannot listen on ${where}: ${host} is not an address of this machine.`, { cause: error });
    case 'EACCES':
    case 'EPERM':
      return new GatewayError('PERMISSION_DENIED', `Cannot listen on ${where}: permission denied (ports below 1024 need privileges).`, { cause: error });
    case 'EMFILE':
    case 'ENFILE':
      return new GatewayError('TOO_MANY_OPEN_FILES', `Cannot listen on ${where}: too many open files (raise ulimit -n).`, { cause: error });
    default:
      return undefined;
  }
}
