/**
 * @module examples/chat/config
 * The demo's settings, read once from the environment (see shared DEMO.md "Start").
 */
import { resolve } from 'node:path'

/** Everything the demo needs to start. */
export interface ChatConfig {
  /** The HTTP app: pages, login, token endpoint. */
  readonly port: number
  /** The gateway's WebSocket endpoint. */
  readonly wsPort: number
  /** The gateway's `@connections` management API. */
  readonly mgmtPort: number
  /** Where the SQLite files live (absolute). */
  readonly dataDir: string
  /** Always loopback: the demo is for one machine. */
  readonly host: '127.0.0.1'
  /** pino level. */
  readonly logLevel: string
  /**
   * `GATEHOUSE_DEMO_TEST=1`: expose the test-only routes under `/__test/` (counters, gateway
   * restart). Never set it outside the end-to-end tests.
   */
  readonly testHooks: boolean
  /** How often cleanup and reconciliation run (`MAINTENANCE_INTERVAL_MS`, default 5 min). */
  readonly maintenanceIntervalMs: number
}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 1 || value > 65_535) {
    throw new Error(`${name} must be a TCP port (1-65535); got ${JSON.stringify(raw)}`)
  }
  return value
}

function interval(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 100) {
    throw new Error(
      `${name} must be a whole number of ms, at least 100; got ${JSON.stringify(raw)}`,
    )
  }
  return value
}

/**
 * Read the demo's configuration.
 *
 * @example
 * ```ts
 * const config = readConfig(process.env) // { port: 3000, wsPort: 3001, mgmtPort: 3002, ... }
 * ```
 */
export function readConfig(env: NodeJS.ProcessEnv): ChatConfig {
  const config = {
    port: port(env, 'PORT', 3000),
    wsPort: port(env, 'WS_PORT', 3001),
    mgmtPort: port(env, 'MGMT_PORT', 3002),
    dataDir: resolve(env.DATA_DIR || './.data'),
    host: '127.0.0.1' as const,
    logLevel: env.LOG_LEVEL || 'info',
    testHooks: env.GATEHOUSE_DEMO_TEST === '1',
    maintenanceIntervalMs: interval(env, 'MAINTENANCE_INTERVAL_MS', 300_000),
  }
  if (new Set([config.port, config.wsPort, config.mgmtPort]).size !== 3) {
    throw new Error('PORT, WS_PORT and MGMT_PORT must be three different ports')
  }
  return config
}

/**
 * The two origins a browser may show the app under; the gateway accepts exactly these.
 *
 * @example
 * ```ts
 * appOrigins(3000) // ['http://127.0.0.1:3000', 'http://localhost:3000']
 * ```
 */
export function appOrigins(appPort: number): string[] {
  return [`http://127.0.0.1:${appPort}`, `http://localhost:${appPort}`]
}
