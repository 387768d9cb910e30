import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, defaultConfig, type ClusterNode, type GatewayConfig } from '@switchboard/gateway';

type GatewayApp = Awaited<ReturnType<typeof buildApp>>;

export interface RunningGateway {
  app: GatewayApp;
  config: GatewayConfig;
  httpUrl: string;
  wsUrl: string;
  tcpPort: number;
  dataDir: string;
  close(): Promise<void>;
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] };

/** A real gateway on ephemeral ports (HTTP and TCP), with its own data directory. */
export async function startGateway(
  overrides: DeepPartial<GatewayConfig> = {},
  options: {
    keepDataDir?: string;
    /** Collects the gateway's log lines (JSON) at the config's level. */
    logLines?: string[];
    /** Its place in a cluster instead of the default cluster of one. */
    cluster?: ClusterNode;
  } = {},
): Promise<RunningGateway> {
  const dataDir = options.keepDataDir ?? mkdtempSync(join(tmpdir(), 'switchboard-test-'));
  const base = defaultConfig();
  const config: GatewayConfig = {
    ...base,
    ...overrides,
    http: { ...base.http, port: 0, ...overrides.http },
    tcp: { ...base.tcp, port: 0, ...overrides.tcp },
    limits: { ...base.limits, ...overrides.limits },
    timing: { ...base.timing, helloTimeoutMs: 150, ...overrides.timing },
    history: { ...base.history, ...overrides.history },
    files: { ...base.files, ...overrides.files },
    devices: { ...base.devices, ...overrides.devices } as GatewayConfig['devices'],
    identity: { ...base.identity, ...overrides.identity },
    security: { ...base.security, ...overrides.security },
    cluster: { ...base.cluster, ...overrides.cluster },
    rooms: (overrides.rooms ?? base.rooms) as GatewayConfig['rooms'],
    dataDir,
    webRoot: overrides.webRoot ?? null,
    logLevel: overrides.logLevel ?? 'silent',
  };
  const lines = options.logLines;
  const logger =
    lines !== undefined
      ? { level: config.logLevel, stream: { write: (line: string) => void lines.push(line) } }
      : config.logLevel === 'silent'
        ? false
        : { level: config.logLevel };
  const app = await buildApp(config, { logger, ...(options.cluster !== undefined && { cluster: options.cluster }) });
  await app.listen({ host: config.http.host, port: config.http.port });
  await app.listeners.startAll();
  await app.deviceLinks.startAll();
  const status = app.tcpListener.status();
  const { port } = app.server.address() as { port: number };
  return {
    app,
    config,
    httpUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    tcpPort: status.port,
    dataDir,
    async close() {
      await app.close();
      if (options.keepDataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** JSON over real HTTP (not inject): status and parsed body. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters, @typescript-eslint/no-explicit-any -- tests read bodies as `any` unless they name a type
export async function api<T = any>(
  gateway: { httpUrl: string },
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T }> {
  const response = await fetch(gateway.httpUrl + path, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}
