import { readFileSync } from 'node:fs';
import helmet from '@fastify/helmet';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import { publicReadOn, type GatewayConfig } from './config.js';
import { GatewayError } from './errors.js';
import { HttpConnections } from './http-connections.js';
import { HostPolicy, requestGuard } from './request-guard.js';
import type { HistoryStore } from './history/history-store.js';
import { normalHistory } from './history/history-setting.js';
import { SqliteHistoryStore } from './history/sqlite-history-store.js';
import { Hub } from './hub/hub.js';
import type { HubLogger } from './logger.js';
import { normalAccess } from './room-access.js';
import type { ClusterNode } from './cluster/cluster.js';
import { InProcessCluster } from './cluster/in-process-cluster.js';
import { adminGuard } from './routes/admin-guard.js';
import { clientRoutes } from './routes/client-routes.js';
import { clusterRoutes, forwardToNode, serveForwardedCalls } from './routes/cluster-routes.js';
import { healthRoutes } from './routes/health-routes.js';
import { readStats, StatsHistory } from './stats-history.js';
import { consoleRoutes } from './routes/console-routes.js';
import { openApiPlugin } from './routes/openapi.js';
import { operationsRoutes } from './routes/operations-routes.js';
import { identityRoutes, redacted } from './routes/identity-routes.js';
import { Identity } from './identity/identity.js';
import { IdentityStore } from './identity/identity-store.js';
import { deviceRoutes } from './routes/device-routes.js';
import { listenerRoutes } from './routes/listener-routes.js';
import { roomRoutes } from './routes/room-routes.js';
import { searchRoutes } from './routes/search-routes.js';
import { fileRoutes } from './routes/file-routes.js';
import { FileStore } from './files/file-store.js';
import { devicesPlugin } from './devices/devices-plugin.js';
import { devicePipeRoutes } from './devices/device-pipe.js';
import { wsBridgePlugin } from './transports/ws-bridge.js';
import { webUiPlugin } from './web-ui.js';

declare module 'fastify' {
  interface FastifyInstance {
    hub: Hub;
    httpConnections: HttpConnections;
  }
}

export interface BuildOptions {
  /** Pino options or false; defaults to the config's log level. */
  logger?: FastifyServerOptions['logger'];
  /** This gateway's place in a cluster (default: a cluster of one), or another history store. */
  cluster?: ClusterNode;
  history?: HistoryStore;
}

/** With --redis-url: this gateway joins the others on that Redis (docs/several-gateways.md, "Running several gateways"). */
async function joinCluster(config: GatewayConfig, history: HistoryStore, log: HubLogger): Promise<ClusterNode> {
  const { redisUrl, nodeId, heartbeatMs, timeoutMs, historyRetention, waitReplicas } = config.cluster;
  // Loaded only here: the Redis client is about a quarter of a lone gateway's heap (4.7 of
  // ~20 MB), which every full collection would mark again for nothing.
  const { RedisCluster } = await import('./cluster/redis-cluster.js');
  return RedisCluster.start({ url: redisUrl!, nodeId, heartbeatMs, timeoutMs, historyRetention, waitReplicas, lastHistoryId: history.lastId(), log });
}

/** Largest REST request body: operator texts are small. */
const API_BODY_LIMIT = 256 * 1024;

/**
 * What the built page needs and no more: its own scripts (no inline ones), inline styles
 * (Svelte writes style attributes and transition <style>s), images from itself, data: and
 * blob: URLs, fetch and WebSocket to its own origin, and no framing by anyone.
 */
const PAGE_CSP = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:', 'blob:'],
  mediaSrc: ["'self'", 'blob:'],
  fontSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

/**
 * Builds the gateway without listening: tests use `inject()` or listen on port 0 themselves;
 * main.ts listens on the configured ports and starts the TCP listener.
 */
export async function buildApp(config: GatewayConfig, options: BuildOptions = {}): Promise<FastifyInstance> {
  const { tlsCert, tlsKey } = config.security;
  const tlsOptions = tlsCert !== null && tlsKey !== null ? { cert: readFileSync(tlsCert), key: readFileSync(tlsKey) } : undefined;
  // How often Node looks for requests past --http-request-timeout-ms (its default, 30 s, would
  // let a slow sender hold its socket that much longer).
  const serverOptions = { connectionsCheckingInterval: Math.min(1_000, config.timing.httpRequestTimeoutMs) };
  const app = Fastify({
    logger: options.logger ?? { level: config.logLevel },
    // One line per API call drowns what an operator needs to see; --log-level debug shows the hub's own events.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: API_BODY_LIMIT,
    ...(tlsOptions ? { https: { ...tlsOptions, ...serverOptions } } : { http: serverOptions }),
    // Members' sockets are closed by the hub on shutdown; keep-alive HTTP ones should not hold us up.
    forceCloseConnections: true,
    // Unknown fields are an error the caller should hear about, not something to drop silently.
    ajv: { customOptions: { removeAdditional: false } },
  }).withTypeProvider<JsonSchemaToTsProvider>();
  // The API speaks JSON only; anything else is a 415.
  app.removeContentTypeParser('text/plain');
  const httpConnections = new HttpConnections({
    max: config.limits.maxHttpConnections,
    maxPerIp: config.limits.maxHttpConnectionsPerIp,
    idleTimeoutMs: config.timing.httpIdleTimeoutMs,
    requestTimeoutMs: config.timing.httpRequestTimeoutMs,
  });
  httpConnections.attach(app.server);
  httpConnections.onRefused = (refused, reason) =>
    app.log.warn({ refused }, `HTTP connections refused at the cap (--max-http-connections, --max-http-connections-per-ip): ${reason}`);
  app.decorate('httpConnections', httpConnections);

  const history = options.history ?? new SqliteHistoryStore(config.dataDir, { synchronous: config.history.sync as 'normal' | 'full' });
  // By default a cluster of one, in process; its log starts after what the history holds.
  const cluster =
    options.cluster ??
    (config.cluster.redisUrl === null
      ? new InProcessCluster(history.lastId()).node(config.cluster.nodeId ?? 'local')
      : await joinCluster(config, history, app.log));
  const { registration, requireLogin, requireLoginDevices, tokenTtlDays } = config.identity;
  const identity = new Identity(new IdentityStore(config.dataDir, { shared: cluster.identity }), {
    registration,
    requireLogin,
    requireLoginDevices,
    tokenTtlMs: tokenTtlDays * 86_400_000,
  });
  // Rooms' access from --config: what the operator wrote is in force at every start.
  for (const [room, { history, ...access }] of Object.entries(config.rooms)) {
    if (access.access !== undefined) identity.store.configureRoomAccess({ room, ...normalAccess({ ...access, access: access.access }) });
    // And how its messages are kept: a room the file leaves out keeps what was set over REST.
    if (history !== undefined) identity.store.configureRoomHistory({ room, ...normalHistory(history) });
  }
  // Files kept for later: on by default, wherever there is a data directory to keep them in.
  const { store, maxFileBytes, maxRoomBytes, maxTotalBytes, retentionDays } = config.files;
  const fileStore =
    store && config.dataDir !== null
      ? new FileStore(config.dataDir, { maxFileBytes, maxRoomBytes, maxTotalBytes, retentionMs: retentionDays * 86_400_000 })
      : undefined;
  const hub = new Hub({ config, history, cluster, log: app.log, identity, fileStore });
  app.decorate('hub', hub);
  // What the admin page's charts open with: a reading a second for the last ten minutes.
  const statsHistory = new StatsHistory(() => readStats(hub));
  statsHistory.start();

  app.setErrorHandler((error, request, reply) => {
    const err = error as Error & { code?: string; statusCode?: number; validation?: unknown };
    if (error instanceof GatewayError) return reply.code(error.statusCode).send({ code: error.code, message: error.message });
    if (err.validation) return reply.code(400).send({ code: 'VALIDATION_FAILED', message: err.message });
    switch (err.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return reply.code(413).send({ code: 'PAYLOAD_TOO_LARGE', message: `Request bodies are limited to ${API_BODY_LIMIT} bytes.` });
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return reply.code(415).send({ code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Send the request body as application/json.' });
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
        return reply.code(400).send({ code: 'INVALID_JSON_BODY', message: 'The request body is not valid JSON.' });
    }
    if (err.statusCode !== undefined && err.statusCode < 500) {
      return reply.code(err.statusCode).send({ code: 'VALIDATION_FAILED', message: err.message });
    }
    // Never a stack trace to the caller; the log has it.
    request.log.error({ err: error }, 'request failed');
    return reply.code(500).send({ code: 'INTERNAL', message: 'The server failed to handle the request; it has been logged.' });
  });
  // Before every route: the security headers (CSP, nosniff, no framing) on every answer, then
  // Host (DNS rebinding), then Origin for state changes (CSRF).
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: PAGE_CSP },
    frameguard: { action: 'deny' },
    // HSTS only where there is HTTPS to insist on.
    strictTransportSecurity: tlsOptions === undefined ? false : { maxAge: 31_536_000, includeSubDomains: false },
  });
  const hostPolicy = new HostPolicy(config);
  app.decorate('hostPolicy', hostPolicy);
  requestGuard(app, hostPolicy);
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ code: 'NOT_FOUND', message: `No route for ${request.method} ${request.url.split('?')[0]}.` }),
  );

  // Registered before the plugins so it runs first: members hear why they are disconnected
  // and their queues drain before the WebSocket plugin closes its sockets; then history is
  // committed and closed.
  app.addHook('preClose', async () => {
    await hub.close();
  });
  app.addHook('onClose', async () => {
    statsHistory.stop();
    hub.history.close();
    fileStore?.close();
    identity.store.close();
  });
  // The audit log: every change made through the API (who, from where, what, when).
  app.addHook('onResponse', async (request, reply) => {
    if (request.method === 'GET' || request.method === 'HEAD' || reply.statusCode >= 400 || !request.url.startsWith('/api/')) return;
    identity.store.audit({
      actor: request.actor ?? 'anonymous',
      address: request.ip,
      action: `${request.method} ${request.routeOptions.url ?? request.url}`,
      detail: { params: request.params, body: redacted(request.body), ...(request.auditTarget !== undefined && { target: request.auditTarget }) },
    });
  });

  const requireAdmin = adminGuard(config.security.adminToken, identity);
  // Before every route it documents.
  await openApiPlugin(app, requireAdmin);
  await app.register(devicesPlugin, { hub, tlsOptions });
  await app.register(wsBridgePlugin, { hub });
  await app.register(devicePipeRoutes, { requireAdmin });
  await app.register(
    async (api) => {
      api.addHook('preValidation', forwardToNode(hub, requireAdmin));
      await api.register(clusterRoutes, { hub, requireAdmin });
      await api.register(healthRoutes, { hub, requireAdmin, statsHistory });
      await api.register(listenerRoutes, { requireAdmin });
      await api.register(deviceRoutes, { requireAdmin });
      await api.register(consoleRoutes, { requireAdmin });
      await api.register(identityRoutes, { hub, requireAdmin });
      await api.register(clientRoutes, { hub, requireAdmin, publicRead: publicReadOn(config) });
      await api.register(roomRoutes, { hub, requireAdmin, publicRead: publicReadOn(config) });
      await api.register(searchRoutes, { hub, requireAdmin, publicRead: publicReadOn(config) });
      await api.register(fileRoutes, { hub, requireAdmin, publicRead: publicReadOn(config) });
    },
    { prefix: '/api' },
  );
  await app.register(operationsRoutes, { hub, requireAdmin, metricsPublic: config.security.metricsPublic });
  await app.register(webUiPlugin, { root: config.webRoot });
  serveForwardedCalls(app, hub);

  return app;
}
