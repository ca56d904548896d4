/**
 * @module gateway/local
 * `createLocalGateway`: the bundled gateway and an app in one process, wired both ways in one
 * call. The gateway calls the app (its `$connect`, `$disconnect` and `$default` routes are the
 * app, in process) and the app pushes through the gateway (it is built from
 * `gateway.connections`). Each needs the other first; this helper builds the gateway, hands
 * its port to the app factory, and routes to the app it returns, before anything listens, so
 * no caller has to late-bind a `let app`.
 */
import { GatehouseError } from '../errors.ts'
import type { EventHandler, GatewayEvent, GatewayResponse } from '../events/event.ts'
import type { Connections } from '../push/connections.ts'
import { booleanOption, invalidOption, isRecord } from '../util/options.ts'
import { createGateway, type Gateway } from './gateway.ts'
import type { GatewayOptions } from './options.ts'

/**
 * Options of {@link createLocalGateway}: every gateway option except `routes` (the helper
 * owns them), plus the app factory.
 *
 * @example
 * ```ts
 * const options: LocalGatewayOptions<App> = {
 *   port: 3001,
 *   app: (connections) => createApp({ store, connections, identify, loadUser }),
 * }
 * ```
 */
export interface LocalGatewayOptions<A extends EventHandler>
  extends Omit<GatewayOptions, 'routes'> {
  /**
   * Build the app from the gateway's push port. Called once, synchronously, before
   * `createLocalGateway` returns (so before the gateway can listen).
   */
  readonly app: (connections: Connections) => A
  /**
   * Send what a message handler returns back to the client (the `$default` route response).
   * Default true: Gatehouse handlers reply by returning a value.
   */
  readonly twoWay?: boolean
}

/**
 * What {@link createLocalGateway} returns: the gateway (not yet listening) and the app.
 *
 * @example
 * ```ts
 * const { gateway, app }: LocalGateway<App> = createLocalGateway({ app: (c) => createApp({ store, connections: c, identify, loadUser }) })
 * ```
 */
export interface LocalGateway<A extends EventHandler> {
  readonly gateway: Gateway
  readonly app: A
}

/**
 * Create the bundled gateway with an app behind `$connect`, `$disconnect` and `$default`,
 * the app built from the gateway's `connections`. The gateway is not listening yet: call
 * `gateway.listen()`. Refuses (`ERR_INVALID_OPTION`) an `app` that is not a function or does
 * not return an event handler, and (`ERR_OPTION_CONFLICT`) `routes`: for routes of your own,
 * use `createGateway`. If the factory throws, the gateway is closed and the error rethrown.
 *
 * @example
 * ```ts
 * import { createApp, openSqliteStore } from 'gatehouse'
 * import { createLocalGateway } from 'gatehouse/gateway'
 *
 * const store = await openSqliteStore({ path: '.data/gatehouse.db' })
 * const { gateway, app } = createLocalGateway({
 *   port: 3001,
 *   app: (connections) => createApp({ store, connections, identify, loadUser }),
 * })
 * await gateway.listen()
 * await app.send.toAll({ type: 'hello' })
 * ```
 */
export function createLocalGateway<A extends EventHandler>(
  options: LocalGatewayOptions<A>,
): LocalGateway<A> {
  if (!isRecord(options)) invalidOption('options', 'an object', options)
  const { app: factory, twoWay: rawTwoWay, ...gatewayOptions } = options
  if (Object.hasOwn(gatewayOptions, 'routes')) {
    throw new GatehouseError(
      'ERR_OPTION_CONFLICT',
      '`routes` contradicts `app`: createLocalGateway routes $connect, $disconnect and $default to the app; use createGateway for routes of your own.',
    )
  }
  if (typeof factory !== 'function') {
    invalidOption('app', 'a function (connections) => app', factory)
  }
  const twoWay = booleanOption('twoWay', rawTwoWay, true)

  // The routes need a handler before the app exists, and the app needs the gateway's port.
  // This forwarder is bound below, before `createLocalGateway` returns: no caller holds the
  // gateway before then, so nothing can listen, and no event can arrive, while it is unbound.
  let target: EventHandler | undefined
  const forward: EventHandler = {
    handle: (event: GatewayEvent): Promise<GatewayResponse> => target!.handle(event),
  }
  const gateway = createGateway({
    ...gatewayOptions,
    routes: {
      $connect: { type: 'in-process', handler: forward },
      $disconnect: { type: 'in-process', handler: forward },
      $default: { type: 'in-process', handler: forward, twoWay },
    },
  })
  let app: A
  try {
    app = factory(gateway.connections)
    if (!isRecord(app) || typeof (app as { handle?: unknown }).handle !== 'function') {
      invalidOption('app', 'a function returning an app (an object with handle(event))', app)
    }
  } catch (err) {
    // The gateway holds a sweep timer; a failed construction must not leave it behind.
    void gateway.close({ drainMs: 0 })
    throw err
  }
  target = app
  return Object.freeze({ gateway, app })
}
