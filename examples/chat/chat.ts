/**
 * @module examples/chat/chat
 * Put the demo together: the SQLite files, users and sessions, the Gatehouse app, the bundled
 * gateway in the same process, the HTTP server, and a clean shutdown.
 */
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { createLogger, openSqliteStore, startMaintenance } from 'gatehouse'
import { createAdmin } from 'gatehouse/admin'
import { createMetrics } from 'gatehouse/metrics'
import { buildAssets } from './assets.ts'
import { createChatApp } from './chat-app.ts'
import { appOrigins, type ChatConfig } from './config.ts'
import { openChatDb } from './db.ts'
import { createGatewayHost } from './gateway-host.ts'
import { createChatListener } from './server.ts'
import { openSessions } from './sessions.ts'
import { createStoreOutage, createTestCounters } from './test-hooks.ts'
import { openUsers } from './users.ts'

/** A running demo. */
export interface RunningChat {
  readonly appUrl: string
  readonly wsUrl: string
  readonly mgmtUrl: string
  /** Close every socket with 1001, stop listening, close the databases. */
  stop(): Promise<void>
}

/**
 * Start the demo.
 *
 * @example
 * ```ts
 * const chat = await startChat(readConfig(process.env))
 * console.log(chat.appUrl) // http://127.0.0.1:3000
 * await chat.stop()
 * ```
 */
export async function startChat(config: ChatConfig): Promise<RunningChat> {
  const logger = createLogger({ level: config.logLevel })
  const [sqlite, assets] = await Promise.all([
    openSqliteStore({ path: join(config.dataDir, 'gatehouse.db') }),
    buildAssets(),
  ])
  // Tests can take the store down (POST /__test/store-outage) to watch the demo fail closed.
  const outage = config.testHooks ? createStoreOutage(sqlite) : undefined
  const store = outage?.store ?? sqlite
  const db = openChatDb(config.dataDir)
  const users = await openUsers(db)
  const sessions = openSessions(db)
  // One process owns the sockets: any session still marked connected is left over from a
  // previous run that did not shut down cleanly.
  await store.markDisconnected(await store.listConnections({ all: true }), Date.now())

  // Metrics from the telemetry stream, scraped at GET /metrics on the management port.
  const metrics = await createMetrics()
  const counters = config.testHooks ? createTestCounters() : undefined
  const origins = appOrigins(config.port)
  // The gateway and the app are built together: the app from the gateway's push port, the
  // gateway routing to the app.
  const gateway = createGatewayHost({
    host: config.host,
    wsPort: config.wsPort,
    mgmtPort: config.mgmtPort,
    app: (connections) =>
      createChatApp({
        store,
        connections,
        users,
        sessions,
        origins,
        wsHosts: [`127.0.0.1:${config.wsPort}`, `localhost:${config.wsPort}`],
        logger,
      }),
    logger,
    metrics,
    observe: counters
      ? (event, response) =>
          counters.event(
            event,
            response,
            sessions.fromCookies(event.headers.cookie)?.username ?? null,
          )
      : undefined,
  })

  // The admin page, at /admin for users with chat.moderate only (server.ts checks who asks);
  // it acts through the current app, across test restarts of the gateway.
  const admin = createAdmin({
    store,
    app: {
      send: { close: (audience) => gateway.app.send.close(audience) },
      revokeUser: (userId) => gateway.app.revokeUser(userId),
    },
    allowActions: true,
    basePath: '/admin',
    logger,
  })

  const server: Server = createServer(
    { headersTimeout: 10_000, requestTimeout: 15_000 },
    createChatListener({
      port: config.port,
      wsPort: config.wsPort,
      origins,
      store,
      users,
      sessions,
      assets,
      gateway,
      logger,
      counters,
      outage,
      admin,
    }),
  )
  const { wsUrl, mgmtUrl } = await gateway.start()
  // Expired tokens, old rate-limit counters (login names an attacker makes up included) and
  // old disconnected sessions are removed on a timer; without it those tables only grow.
  // (No reconciliation against the gateway: a restart replaces it, and this process already
  // marks every session disconnected when its gateway goes.)
  const stopMaintenance = startMaintenance({
    store,
    intervalMs: config.maintenanceIntervalMs,
    logger,
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(config.port, config.host, () => {
      server.off('error', reject)
      resolve()
    })
  })

  let stopping: Promise<void> | undefined
  return {
    appUrl: `http://${config.host}:${config.port}`,
    wsUrl,
    mgmtUrl,
    stop() {
      stopping ??= (async () => {
        stopMaintenance()
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        server.closeIdleConnections()
        await gateway.stop()
        server.closeAllConnections()
        await closed
        admin.close()
        metrics.close()
        await store.close()
        db.close()
      })()
      return stopping
    },
  }
}
