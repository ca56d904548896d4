/**
 * @module bench/servers/gatehouse-app
 * The Gatehouse app every Gatehouse bench server runs: the full security pipeline on the
 * embedded SQLite store, sessions read from a cookie, one permission, an `echo` handler, and
 * the CSRF-protected token endpoint. Only the rate limits are raised (see docs/performance.md):
 * the bench opens thousands of connections from a handful of users and addresses in seconds,
 * which the defaults (20 per minute) rightly refuse. The checks still run on every call.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type App,
  type Connections,
  createApp,
  openSqliteStore,
  parseCookies,
  type Store,
  type User,
} from '../../src/index.ts'
import { BENCH_ORIGIN, BENCH_RATE_LIMIT } from './gatehouse-config.ts'

const PERMISSION = 'bench.use'
const SESSION = /^bench-session-(\d{1,6})$/

/** The bench app, its token endpoint and its store. */
export interface BenchApp {
  readonly app: App
  readonly tokenEndpoint: (request: Request) => Promise<Response>
  readonly store: Store
  /** Close the store and delete its file. */
  close(): Promise<void>
}

/** The user behind a bench session cookie value, or null. */
function userOfSession(sessionId: string | undefined): string | null {
  const m = sessionId === undefined ? null : SESSION.exec(sessionId)
  return m ? `user-${m[1]}` : null
}

/**
 * Build the bench app on a fresh SQLite file in a temporary folder.
 *
 * @example
 * ```ts
 * const bench = await createBenchApp({ connections: gateway.connections })
 * ```
 */
export async function createBenchApp(options: {
  connections?: Connections
  gatewaySecret?: string
  /** `memory`: SQLite `:memory:` (a diagnostic: the pipeline without disk writes). */
  store?: 'file' | 'memory'
}): Promise<BenchApp> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'))
  const path = options.store === 'memory' ? ':memory:' : join(dir, 'gatehouse.db')
  const store = await openSqliteStore({ path })
  const users = new Map<string, User>()
  const loadUser = (id: string): User => {
    let user = users.get(id)
    if (!user) {
      user = { id, permissions: [PERMISSION] }
      users.set(id, user)
    }
    return user
  }
  const app = createApp({
    store,
    ...(options.connections ? { connections: options.connections } : {}),
    ...(options.gatewaySecret ? { gatewaySecret: options.gatewaySecret } : {}),
    allowedOrigins: [BENCH_ORIGIN],
    identify: (event) => {
      const sessionId = parseCookies(event.headers.cookie).get('sid') ?? null
      return { sessionId, userId: userOfSession(sessionId ?? undefined) }
    },
    loadUser,
    permissions: { anyOf: [PERMISSION] },
    connectFailureLimitPerIp: BENCH_RATE_LIMIT,
    connectLimitPerIp: BENCH_RATE_LIMIT,
    connectLimitPerUser: BENCH_RATE_LIMIT,
    tokenIssueLimit: BENCH_RATE_LIMIT,
    handlers: { echo: (ctx) => ctx.body },
  })
  const tokenEndpoint = app.tokenEndpoint({
    authenticate: async (request) => {
      const sessionId = parseCookies(request.headers.get('cookie')).get('sid')
      const userId = userOfSession(sessionId)
      return userId && sessionId ? { userId, sessionId } : null
    },
  })
  return {
    app,
    tokenEndpoint,
    store,
    async close() {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
