/**
 * Stores the fault suite may break: a redis-server of its own on a free port (never the
 * machine's shared one) and a PostgreSQL database it creates and drops on the shared server
 * (faults there are confined to that database's own connections).
 */
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Pool } from 'pg'
import { freePort, killChild, readJsonLine, startChild, until } from './processes.ts'

/** A private redis-server. */
export interface PrivateRedis {
  readonly url: string
  readonly port: number
  readonly pid: number
  /** SIGTERM it and wait (it writes its append-only file first). */
  stop(): Promise<void>
  /** SIGKILL it by its pid and wait: a crash, nothing written. */
  crash(): Promise<void>
  /** Start it again on the same port and data folder. */
  start(): Promise<void>
  /** Freeze it (SIGSTOP): it keeps its sockets and answers nothing. */
  pause(): void
  /** Thaw it (SIGCONT). */
  resume(): void
  /** Stop it for good and delete its folder. */
  destroy(): Promise<void>
}

/**
 * Start a redis-server of this test's own: a free port, `--save ''` (no RDB snapshots), and
 * an append-only file fsynced on every write in a temporary folder, so a stop and a start
 * keep the data as a production Redis with AOF would. With `persist: false`, no append-only
 * file either (`--appendonly no`): a restart comes back empty, as a cluster's Redis may.
 *
 * @example
 * ```ts
 * const redis = await startPrivateRedis()
 * await redis.stop(); await redis.start()
 * await redis.destroy()
 * ```
 */
export async function startPrivateRedis(
  options: { persist?: boolean } = {},
): Promise<PrivateRedis> {
  const persist = options.persist ?? true
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-faults-redis-'))
  let child: ChildProcess | undefined
  async function start(): Promise<void> {
    const proc = startChild('redis-server', {
      args: [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        persist ? 'yes' : 'no',
        ...(persist ? ['--appendfsync', 'always'] : []),
        '--dir',
        dir,
        '--loglevel',
        'warning',
      ],
    })
    child = proc
    await until(
      async () => {
        if (proc.exitCode !== null) throw new Error('redis-server exited at start')
        return await pingRedis(port)
      },
      10_000,
      50,
      'redis-server to answer',
    )
  }
  await start()
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return child?.pid ?? 0
    },
    async stop() {
      if (child) await killChild(child, 'SIGTERM')
    },
    async crash() {
      if (child) await killChild(child, 'SIGKILL')
    },
    start,
    pause() {
      if (child?.pid) process.kill(child.pid, 'SIGSTOP')
    },
    resume() {
      if (child?.pid) process.kill(child.pid, 'SIGCONT')
    },
    async destroy() {
      if (child?.pid && child.exitCode === null) {
        process.kill(child.pid, 'SIGCONT')
        await killChild(child, 'SIGKILL')
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** One PING over a raw socket: true when redis answers +PONG. */
async function pingRedis(port: number): Promise<boolean> {
  const { connect } = await import('node:net')
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const timer = setTimeout(() => {
      socket.destroy()
      resolve(false)
    }, 500)
    socket.once('error', () => {
      clearTimeout(timer)
      resolve(false)
    })
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (d) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(d.toString().startsWith('+PONG'))
    })
  })
}

/** A PostgreSQL database of this test's own. */
export interface PrivateDatabase {
  /** Connection string of the database. */
  readonly url: string
  readonly name: string
  /** Refuse new connections to it and terminate the ones it has (its own only). */
  cutOff(): Promise<number>
  /** Terminate its current connections once, leaving new ones allowed. */
  terminate(): Promise<number>
  /** Allow connections again. */
  restore(): Promise<void>
  /** Drop it (terminating what is left). */
  drop(): Promise<void>
}

const PG_CANDIDATES = process.env.DATABASE_URL
  ? [process.env.DATABASE_URL]
  : ['postgres://postgres@127.0.0.1:5432/test', 'postgres://root@127.0.0.1:5432/test']

/**
 * Create a fresh database on the shared server, or `null` when PostgreSQL is unreachable.
 *
 * @example
 * ```ts
 * const db = await createPrivateDatabase()
 * await db?.cutOff(); await db?.restore(); await db?.drop()
 * ```
 */
export async function createPrivateDatabase(): Promise<PrivateDatabase | null> {
  const { default: pg } = await import('pg')
  let admin: Pool | undefined
  let base = ''
  for (const url of PG_CANDIDATES) {
    const pool = new pg.Pool({ connectionString: url, connectionTimeoutMillis: 2_000, max: 2 })
    pool.on('error', () => {})
    try {
      await pool.query('SELECT 1')
      admin = pool
      base = url
      break
    } catch {
      await pool.end().catch(() => {})
    }
  }
  if (!admin) return null
  const pool = admin
  const name = `gh_faults_${process.pid}_${randomBytes(4).toString('hex')}`
  await pool.query(`CREATE DATABASE "${name}"`)
  const u = new URL(base)
  u.pathname = `/${name}`
  const terminate = async (): Promise<number> => {
    const r = await pool.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [name],
    )
    return r.rowCount ?? 0
  }
  return {
    url: u.toString(),
    name,
    async cutOff() {
      await pool.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`)
      return terminate()
    },
    terminate,
    async restore() {
      await pool.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS true`)
    },
    async drop() {
      await pool.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`).catch(() => {})
      await terminate().catch(() => 0)
      await pool.query(`DROP DATABASE IF EXISTS "${name}"`)
      await pool.end()
    },
  }
}

/**
 * Hold an exclusive lock on an SQLite file from another process for `holdMs`: the child
 * prints `{"locked":true}` once it holds the lock, and exits when it lets go.
 *
 * @example
 * ```ts
 * const locker = await lockSqlite(path, 3_000)
 * ```
 */
export async function lockSqlite(path: string, holdMs: number): Promise<ChildProcess> {
  const script = new URL('./sqlite-locker.ts', import.meta.url).pathname
  const child = startChild(script, { args: [path, String(holdMs)] })
  await readJsonLine(child, (m) => m.locked === true, 15_000)
  return child
}
