#!/usr/bin/env node
import { buildApp } from './app.js';
import { ConfigError, helpText, loadConfig, printableConfig, type GatewayConfig } from './config.js';
import { GatewayError } from './errors.js';

function readConfig(): GatewayConfig {
  try {
    const { config, help, print } = loadConfig(process.argv.slice(2));
    if (help) {
      console.log(helpText());
      process.exit(0);
    }
    if (print) {
      console.log(JSON.stringify(printableConfig(config), null, 2));
      process.exit(0);
    }
    return config;
  } catch (error) {
    const message = error instanceof ConfigError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? (error as Error).message : String(error);
    console.error(`switchboard: ${message}\nRun with --help for the options.`);
    process.exit(2);
  }
}

const config = readConfig();
const app = await buildApp(config).catch((error: unknown) => {
  // Redis unreachable at start, a data directory that cannot be opened: one line, no stack.
  console.error(`switchboard: ${(error as Error).message}`);
  process.exit(1);
});

const memberBudget = app.hub.memberDescriptorBudget;
if (memberBudget < config.limits.maxConnections) {
  app.log.warn(
    `The open-file limit allows about ${Math.max(0, memberBudget)} members, fewer than --max-connections ${config.limits.maxConnections}; ` +
      'raise it (ulimit -n) to serve more.',
  );
}

if (config.security.adminToken === null) {
  app.log.warn('No admin token configured (--admin-token / SWITCHBOARD_ADMIN_TOKEN): admin API calls are accepted from loopback addresses only.');
}

try {
  await app.listen({ host: config.http.host, port: config.http.port });
  await app.listeners.startAll();
  await app.deviceLinks.startAll();
} catch (error) {
  const message = error instanceof GatewayError ? error.message : (error as Error).message;
  app.log.fatal({ code: (error as { code?: string }).code }, message);
  console.error(`switchboard: ${message}`);
  await app.close();
  process.exit(1);
}

const { port } = app.server.address() as { port: number };
const scheme = config.security.tlsCert ? 'https' : 'http';
const tcp = app.tcpListener.status();
console.log(
  `Switchboard is up: page ${scheme}://${config.http.host}:${port}/  ` +
    `WebSocket ${scheme === 'https' ? 'wss' : 'ws'}://${config.http.host}:${port}/ws  ` +
    `TCP ${tcp.listening ? `${tcp.host}:${tcp.port}` : '(not listening)'}`,
);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  app.log.info({ signal }, 'shutting down: telling members, flushing queues and history');
  const force = setTimeout(
    () => {
      app.log.error('shutdown took too long; exiting');
      process.exit(1);
    },
    config.timing.drainMs + config.timing.shutdownGraceMs + 5_000,
  );
  force.unref();
  // Not ready from now on: a load balancer that probes /readyz stops sending before members are told.
  app.hub.beginShutdown();
  if (config.timing.drainMs > 0) await new Promise((resolve) => setTimeout(resolve, config.timing.drainMs));
  await app.close();
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
