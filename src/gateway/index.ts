/**
 * @module gateway
 * `gatehouse/gateway`: the bundled gateway that holds the sockets, as AWS API Gateway
 * WebSocket APIs do, and calls the app for `$connect`, messages and `$disconnect`.
 *
 * @example
 * ```ts
 * import { createGateway, createLocalGateway } from 'gatehouse/gateway'
 * // An HTTP backend:
 * const gateway = createGateway({ routes: { $default: { type: 'http', url: 'http://127.0.0.1:8000/ws/default' } } })
 * await gateway.listen()
 * // Or a Gatehouse app in this process:
 * const local = createLocalGateway({ port: 3001, app: (connections) => createApp({ store, connections, identify, loadUser }) })
 * await local.gateway.listen()
 * ```
 */
export type { ClusterInfo } from './cluster/node.ts'
export type { ClusterOptions } from './cluster/options.ts'
export { ID_PATTERN, newId as newConnectionId } from './connection-id.ts'
export { createGateway, type Gateway, type GatewayStats } from './gateway.ts'
export type { Integration, LambdaContext, LambdaHandler } from './integration.ts'
export { createLocalGateway, type LocalGateway, type LocalGatewayOptions } from './local.ts'
export {
  createManagementHandler,
  createManagementServer,
  type ManagementServer,
  type ManagementServerOptions,
  type MetricsSource,
} from './management/server.ts'
export { type GatewayOptions, randomApiId } from './options.ts'
