/** A minimal logger shape (pino's), so the hub and its neighbours do not depend on Fastify. */
export interface HubLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}
