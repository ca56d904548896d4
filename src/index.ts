/**
 * @module gatehouse
 * Authenticated, secure WebSockets in the API Gateway model. The app answers `$connect`,
 * `$disconnect` and messages as plain request → response, and pushes through a small send
 * API, behind AWS API Gateway or the bundled gateway (`gatehouse/gateway`).
 *
 * @example
 * ```ts
 * import { createApp, openSqliteStore, parseCookies } from 'gatehouse'
 *
 * const app = createApp({
 *   store: await openSqliteStore({ path: '.data/gatehouse.db' }),
 *   allowedOrigins: ['https://app.example.com'],
 *   identify: (event) => ({ sessionId: parseCookies(event.headers.cookie).get('sessionid') ?? null }),
 *   loadUser: (id) => users.get(id) ?? null,
 *   handlers: { ping: () => ({ type: 'pong' }) },
 * })
 * ```
 */
export { changeChannelHandler } from './app/change-channel.ts'
export { type App, createApp } from './app/create-app.ts'
export { type DefinedHandler, defineHandler } from './app/define-handler.ts'
export type { RecoveredNotice } from './app/history-wire.ts'
export type { PresenceContext, PresenceEvent, PresenceHook } from './app/presence.ts'
export {
  type MaintenanceOptions,
  type ReconcileOptions,
  type ReconcileResult,
  reconcileSessions,
  startMaintenance,
} from './app/reconcile.ts'
export type { KickOptions, RevokeResult } from './app/revoke.ts'
export type { ChannelSendOptions, Sender, SendResult } from './app/send.ts'
export type {
  InferInput,
  InferOutput,
  StandardIssue,
  StandardResult,
  StandardSchemaProps,
  StandardSchemaV1,
} from './app/standard-schema.ts'
export type {
  AppOptions,
  ConnectCheck,
  ConnectIdentity,
  HandlerFn,
  HandlerMap,
  HandlerResult,
  HandlerSpec,
  MessageContext,
  PermissionRule,
  User,
} from './app/types.ts'
export { type Clock, manualClock, systemClock } from './clock.ts'
export { DEFAULTS, type Defaults } from './defaults.ts'
export { GatehouseError, type GatehouseErrorCode, isGatehouseError } from './errors.ts'
export type {
  EventHandler,
  EventTransport,
  EventType,
  GatewayEvent,
  GatewayResponse,
} from './events/event.ts'
export { decodeHttpEvent, encodeHttpResponse } from './events/http.ts'
export { parseCookies } from './http/cookies.ts'
export type {
  AppRefusalReason,
  GatewayRefusalReason,
  RefusalReason,
  TokenRefusalReason,
} from './http/refusal.ts'
export { resolveClientIp } from './limits/client-ip.ts'
export { encodeKeyPart } from './limits/keys.ts'
export {
  createLogger,
  type Logger,
  logSafe,
  redactFields,
  redactUrl,
  SENSITIVE_FIELDS,
  silentLogger,
} from './logger.ts'
export type { ConnectionInfo, Connections, PostManyResult } from './push/connections.ts'
export {
  createManagementApiConnections,
  type ManagementApiConnectionsOptions,
} from './push/management-api.ts'
export { createMemoryConnections, type MemoryConnections } from './push/memory.ts'
export { CLEANUP_DEFAULTS, type CleanupAges, cleanupStore } from './store/cleanup.ts'
export { createMemoryStore } from './store/memory.ts'
export type { SchemaStatus } from './store/schema-version.ts'
export { openSqliteStore, type SqliteStoreOptions } from './store/sqlite.ts'
export {
  SQLITE_SCHEMA_VERSION,
  sqliteMigrationSql,
  sqliteSchemaStatus,
} from './store/sqlite-schema.ts'
export type {
  Audience,
  ChannelPresence,
  CleanupCutoffs,
  CleanupResult,
  ConsumedToken,
  HistoryEntry,
  HistoryLimits,
  HistoryPosition,
  HistoryRead,
  NewSession,
  PresenceMember,
  RateDecision,
  RateKey,
  SessionGuard,
  SessionRecord,
  Store,
  TokenClaim,
  TokenCounts,
  TokenRecord,
  UserTokenClaim,
} from './store/store.ts'
export {
  type IntegrationRoute,
  type RateLimitKind,
  subscribe,
  TELEMETRY_CHANNEL,
  type TelemetryEvent,
  telemetry,
} from './telemetry.ts'
export { APP_ID_PATTERN } from './tokens/app-id.ts'
export { createTokenEndpoint, type TokenEndpointOptions } from './tokens/endpoint.ts'
export { createTokenService, type IssueResult, type TokenService } from './tokens/service.ts'
export { generateToken, hashToken } from './tokens/token.ts'
