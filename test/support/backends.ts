/**
 * Test support: the shared PostgreSQL and Redis of the machine (or `DATABASE_URL` /
 * `REDIS_URL`), `null` when unreachable, and the `gatehouse` executable run as a child
 * process.
 */
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import type { Redis } from 'ioredis'
import type { Pool } from 'pg'

export const PG_CANDIDATES = process.env.DATABASE_URL
  ? [process.env.DATABASE_URL]
  : ['postgres://postgres@127.0.0.1:5432/test', 'postgres://root@127.0.0.1:5432/test']
export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379'

export async function connectPostgres(): Promise<{ url: string; pool: Pool } | null> {
  const { default: pg } = await import('pg')
  for (const url of PG_CANDIDATES) {
    const pool = new pg.Pool({ connectionString: url, connectionTimeoutMillis: 2_000, max: 4 })
    pool.on('error', () => {})
    try {
      await pool.query('SELECT 1')
      return { url, pool }
    } catch {
      await pool.end().catch(() => {})
    }
  }
  return null
}

export async function connectRedis(): Promise<Redis | null> {
  const { Redis } = await import('ioredis')
  const client = new Redis(REDIS_URL, {
    lazyConnect: true,
    connectTimeout: 2_000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  })
  client.on('error', () => {})
  try {
    await client.connect()
    return client
  } catch {
    client.disconnect()
    return null
  }
}

/** The URL with another user (and no password), same host and database. */
export function asUser(url: string, user: string): string {
  const u = new URL(url)
  u.username = user
  u.password = ''
  return u.toString()
}

const BIN = resolve(import.meta.dirname, '../../bin/gatehouse.ts')

/** Run `node bin/gatehouse.ts …`; resolves with its exit code and output. */
export function gatehouse(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString()
    })
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString()
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    child.once('error', fail)
    child.once('close', (code) => {
      clearTimeout(timer)
      done({ code, stdout, stderr })
    })
  })
}
