/**
 * @module cli/gateway
 * `gatehouse gateway`: the bundled gateway in front of any HTTP backend, with HTTP
 * integrations shaped like API Gateway's and the `@connections` management API on its own
 * loopback port. It prints both URLs once listening and shuts down gracefully on SIGTERM or
 * SIGINT: every socket closed with 1001, in-flight calls drained, exit 0.
 */

import { isGatehouseError } from '../errors.ts'
import { createGateway, type Gateway } from '../gateway/gateway.ts'
import { isLoopbackAddress } from '../gateway/management/access.ts'
import { createManagementServer, type ManagementServer } from '../gateway/management/server.ts'
import { createLogger, type Logger } from '../logger.ts'
import { createMetrics, type GatehouseMetrics } from '../metrics/index.ts'
import { GATEWAY_USAGE, parseGatewayArgs } from './gateway-args.ts'
import type { CliIo } from './io.ts'
import { usageError } from './io.ts'

/** The management API always listens on loopback: it can push to and close any socket. */
const MANAGEMENT_HOST = '127.0.0.1'

/** Resolves when the command is asked to stop; `dispose` removes the signal handlers. */
function waitForStop(io: CliIo): { stopped: Promise<string>; dispose(): void } {
  if (io.stop) {
    const stop = io.stop
    return {
      stopped: new Promise((resolve) => {
        if (stop.aborted) resolve('abort')
        else stop.addEventListener('abort', () => resolve('abort'), { once: true })
      }),
      dispose: () => {},
    }
  }
  let onSignal: (signal: NodeJS.Signals) => void = () => {}
  const dispose = (): void => {
    process.off('SIGTERM', onSignal)
    process.off('SIGINT', onSignal)
  }
  const stopped = new Promise<string>((resolve) => {
    onSignal = (signal) => {
      dispose()
      // A second signal while draining means "now".
      process.once('SIGTERM', () => process.exit(1))
      process.once('SIGINT', () => process.exit(130))
      resolve(signal)
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
  })
  return { stopped, dispose }
}

/**
 * Run `gatehouse gateway` with the arguments after the command name. Resolves to the exit
 * status once the gateway has shut down: 0 after a graceful stop, 1 when it could not start
 * (port in use), 2 on bad usage.
 *
 * @example
 * ```ts
 * // gatehouse gateway --integration http://127.0.0.1:8000/ws/ --route chat=http://127.0.0.1:8000/ws/chat
 * process.exitCode = await runGatewayCli(['--integration', 'http://127.0.0.1:8000/ws/'], process)
 * ```
 */
export async function runGatewayCli(argv: readonly string[], io: CliIo): Promise<number> {
  const env = io.env ?? process.env
  const parsed = parseGatewayArgs(argv, env)
  if (parsed.kind === 'help') {
    io.stdout.write(GATEWAY_USAGE)
    return 0
  }
  if (parsed.kind === 'error') return usageError(io, parsed.message, GATEWAY_USAGE)
  const { config } = parsed

  const logger: Logger = createLogger({
    level: env.GATEHOUSE_LOG_LEVEL ?? 'info',
    destination: io.stderr as NodeJS.WritableStream,
  })

  let metrics: GatehouseMetrics | undefined
  if (config.metrics) {
    try {
      // Created before the gateway, so nothing is missed; the gauge reads the live table.
      metrics = await createMetrics({ openConnections: () => gateway.stats().openConnections })
    } catch (err) {
      return usageError(io, (err as Error).message, GATEWAY_USAGE)
    }
  }

  let gateway: Gateway
  let management: ManagementServer
  try {
    gateway = createGateway({
      port: config.port,
      host: config.host,
      stage: config.stage,
      routes: config.routes,
      trustedProxies: config.trustedProxies,
      trustedHops: config.trustedHops,
      logger,
      ...(config.apiId !== undefined ? { apiId: config.apiId } : {}),
      ...(config.cluster !== undefined ? { cluster: config.cluster } : {}),
    })
    management = createManagementServer({
      connections: gateway.connections,
      stage: config.stage,
      host: MANAGEMENT_HOST,
      port: config.managementPort,
      allowedHosts: config.allowedHosts,
      logger,
      ...(metrics !== undefined ? { metrics } : {}),
      // Without key pairs the API is unsigned: said explicitly, and served to loopback only.
      ...(config.credentials !== undefined
        ? { credentials: config.credentials }
        : { allowUnauthenticated: true }),
    })
  } catch (err) {
    if (
      isGatehouseError(err, 'ERR_INVALID_OPTION') ||
      isGatehouseError(err, 'ERR_OPTION_CONFLICT')
    ) {
      return usageError(io, err.message, GATEWAY_USAGE)
    }
    throw err
  }

  const { stopped, dispose } = waitForStop(io)
  let wsUrl: string
  let managementUrl: string
  try {
    wsUrl = (await gateway.listen()).url
    managementUrl = (await management.listen()).url
  } catch (err) {
    io.stderr.write(`gatehouse gateway: cannot listen: ${(err as Error).message}\n`)
    dispose()
    await Promise.allSettled([gateway.close({ drainMs: 0 }), management.close()])
    return 1
  }
  const unsigned = Object.values(config.routes).some(
    (route) => route.type === 'http' && route.secret === undefined,
  )
  if (unsigned && config.host !== 'localhost' && !isLoopbackAddress(config.host)) {
    // Beyond loopback anyone who reaches the backend can forge a gateway call; the app
    // refuses unsigned calls unless it opted out, which is what this warns about.
    logger.warn(
      { event: 'gateway_unsigned', host: config.host },
      'integration requests are unsigned on a non-loopback address: pass --secret',
    )
  }
  logger.info(
    { event: 'gateway_listening', websocket: wsUrl, management: managementUrl },
    'gateway listening',
  )
  io.stdout.write(
    `gatehouse gateway ${gateway.apiId} (stage ${gateway.stage})\n` +
      `websocket: ${wsUrl}\n` +
      `management: ${managementUrl}\n` +
      // listen() resolved after the node registered: its slot is known.
      (gateway.cluster
        ? `cluster: node ${gateway.cluster.nodeId} slot ${gateway.cluster.slot}\n`
        : ''),
  )

  const signal = await stopped
  logger.info({ event: 'gateway_stopping', signal }, 'shutting down')
  // Close the gateway first: its sockets get 1001 while the management API can still answer.
  await gateway.close()
  await management.close()
  metrics?.close()
  io.stdout.write('gatehouse gateway stopped\n')
  return 0
}
