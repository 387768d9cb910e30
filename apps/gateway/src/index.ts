export { buildApp, type BuildOptions } from './app.js';
export { defaultConfig, loadConfig, helpText, ConfigError, type GatewayConfig } from './config.js';
export { GatewayError, GatewayErrorCodes, HttpErrorCodes, type GatewayErrorCode } from './errors.js';
export { Hub, SERVER_NAME } from './hub/hub.js';
export type { Link } from './transports/link.js';
export { InProcessCluster } from './cluster/in-process-cluster.js';
export type {
  ClusterNode,
  ClusterBus,
  NameClaims,
  MemberDirectory,
  MemberRecord,
  IdAllocator,
  RoomEvent,
  MemberEvent,
  AdminAction,
} from './cluster/cluster.js';
export type { HistoryStore, HistoryQuery, HistoryPage } from './history/history-store.js';
export { SqliteHistoryStore } from './history/sqlite-history-store.js';
export type { ListenerStatus } from './devices/listener-registry.js';
