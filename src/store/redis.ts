/**
 * @module store/redis
 * The Store on Redis (`ioredis`, loaded lazily so the core package never requires it), for
 * several gateway nodes sharing one Redis. Every read-then-write is one Lua script (see
 * `redis-scripts.ts`), which Redis runs atomically, so the single-use consume and the
 * rate-limit step hold under any number of clients; reads are single commands.
 *
 * Every key carries a Redis TTL (a duration, so the injected clock and Redis's own agree on
 * it), so Redis stays bounded with no cleanup at all: see `redis-scripts.ts` for each key's
 * bound and {@link RedisRetention} for the durations. `cleanup()` (the CLI or the app's
 * timer) still removes rows by logical time, earlier than their TTL when asked to.
 * On Redis Cluster, give a hash-tagged prefix (`{gatehouse}:`) so all keys share a slot.
 */
import type { Cluster, Redis } from 'ioredis'
import { DEFAULTS } from '../defaults.ts'
import { GatehouseError } from '../errors.ts'
import {
  ALLOWED,
  bucketStart,
  charges,
  hitInOrder,
  validateRateKeys,
} from '../limits/sliding-window.ts'
import { positiveInt } from '../util/options.ts'
import { audienceTarget } from './audience.ts'
import { newEpoch, readOf, validateHistoryLimits, validateSince } from './history.ts'
import { validateNonce } from './nonce.ts'
import { REDIS_SCRIPTS, type RedisScript } from './redis-scripts.ts'

export { RATE_TTL_SLACK_MS } from './redis-scripts.ts'

import { importOptional } from '../util/optional.ts'
import type {
  Audience,
  ChannelPresence,
  CleanupCutoffs,
  CleanupResult,
  HistoryEntry,
  HistoryLimits,
  HistoryPosition,
  NewSession,
  RateDecision,
  RateKey,
  SessionActivity,
  SessionGuard,
  SessionRecord,
  Store,
  TokenClaim,
  TokenCounts,
  TokenRecord,
  UserTokenClaim,
} from './store.ts'
import { storeUnavailable } from './unavailable.ts'

/**
 * Options of {@link createRedisStore}: a client you own, or a URL.
 *
 * @example
 * ```ts
 * const options: RedisStoreOptions = { url: 'redis://127.0.0.1:6379', prefix: '{gatehouse}:' }
 * ```
 */
export type RedisStoreOptions = (
  | {
      /** An ioredis client (or Cluster); `close()` leaves it connected. */
      readonly redis: Redis | Cluster
      readonly url?: never
    }
  | {
      /** `redis://127.0.0.1:6379`; the store makes its own client and quits it on `close()`. */
      readonly url: string
      readonly redis?: never
      /** Fail instead of waiting longer to connect. Default 5000. */
      readonly connectTimeoutMs?: number
      /** Fail a command that gets no reply within this time. Default 5000. */
      readonly commandTimeoutMs?: number
    }
) & {
  /** Prepended to every key. Default `gatehouse:`. */
  readonly prefix?: string
  /** How long rows live on Redis before their TTL removes them; see {@link RedisRetention}. */
  readonly retention?: RedisRetention
}

/**
 * The TTLs of the Redis store's rows, in milliseconds. Rate counters need no setting: they
 * live two of their own windows after their last hit.
 *
 * @example
 * ```ts
 * await createRedisStore({ url, retention: { connectedSessionMs: 26 * 3_600_000 } }) // gateway maxConnectionMs 24 h
 * ```
 */
export interface RedisRetention {
  /** A token row lives its own TTL plus this. Default `DEFAULTS.tokenRetentionGraceMs` (240 000). */
  readonly tokenGraceMs?: number
  /** A disconnected session stays readable this long. Default `DEFAULTS.disconnectedSessionRetentionMs` (24 h). */
  readonly disconnectedSessionMs?: number
  /**
   * The longest a connected session's row lives without a `$disconnect`. Keep it above the
   * gateway's connection lifetime (AWS: 2 h). Default `DEFAULTS.connectedSessionRetentionMs`.
   */
  readonly connectedSessionMs?: number
}

interface Retention {
  readonly tokenGraceMs: number
  readonly disconnectedSessionMs: number
  readonly connectedSessionMs: number
}

const RETENTION_KEYS = ['tokenGraceMs', 'disconnectedSessionMs', 'connectedSessionMs'] as const

// Copied, checked (unknown keys refused: a misspelt TTL must not silently keep the default).
function resolveRetention(r: RedisRetention | undefined): Retention {
  if (r !== undefined && (r === null || typeof r !== 'object')) {
    throw new GatehouseError('ERR_INVALID_OPTION', 'createRedisStore: retention must be an object')
  }
  for (const key of Object.keys(r ?? {})) {
    if (!(RETENTION_KEYS as readonly string[]).includes(key)) {
      throw new GatehouseError(
        'ERR_INVALID_OPTION',
        `createRedisStore: unknown retention option ${JSON.stringify(key)}`,
      )
    }
  }
  return Object.freeze({
    tokenGraceMs: positiveInt(
      'retention.tokenGraceMs',
      r?.tokenGraceMs ?? DEFAULTS.tokenRetentionGraceMs,
      0,
    ),
    disconnectedSessionMs: positiveInt(
      'retention.disconnectedSessionMs',
      r?.disconnectedSessionMs ?? DEFAULTS.disconnectedSessionRetentionMs,
    ),
    connectedSessionMs: positiveInt(
      'retention.connectedSessionMs',
      r?.connectedSessionMs ?? DEFAULTS.connectedSessionRetentionMs,
    ),
  })
}

/** Extra Redis TTL on a nonce beyond its expiry, so skew between clocks never drops it early. */
const NONCE_TTL_MARGIN_MS = 60_000

// Rows visited per cleanup script call, so one call never blocks Redis for long.
const CLEANUP_BATCH = 1_000
// Ids per markDisconnected or recordActivity script call, for the same reason.
const DISCONNECT_BATCH = 1_000
// Upper bound on cleanup batches in one call; the rest waits for the next cleanup.
const CLEANUP_MAX_BATCHES = 1_000

/**
 * Connect (or adopt a client) and return the Store. Throws `ERR_STORE_UNAVAILABLE` when
 * Redis cannot be reached and `ERR_INVALID_OPTION` for bad options.
 *
 * @example
 * ```ts
 * const store = await createRedisStore({ url: 'redis://127.0.0.1:6379', prefix: 'myapp:' })
 * // or, sharing the app's client (left connected by store.close()):
 * const shared = await createRedisStore({ redis, prefix: '{gatehouse}:' })
 * ```
 */
export async function createRedisStore(options: RedisStoreOptions): Promise<Store> {
  const prefix = options?.prefix ?? 'gatehouse:'
  if (typeof prefix !== 'string' || prefix.length === 0 || prefix.length > 128) {
    throw new GatehouseError('ERR_INVALID_OPTION', 'createRedisStore: prefix must be 1-128 chars')
  }
  const retention = resolveRetention(options?.retention)
  if (options?.redis !== undefined) {
    if (typeof options.redis?.evalsha !== 'function') {
      throw new GatehouseError(
        'ERR_INVALID_OPTION',
        'createRedisStore: redis must be an ioredis client',
      )
    }
    return redisStore(options.redis, prefix, false, retention)
  }
  if (typeof options?.url !== 'string' || options.url === '') {
    throw new GatehouseError('ERR_INVALID_OPTION', 'createRedisStore: pass { redis } or { url }')
  }
  const client = await ownClient(options)
  try {
    await client.connect()
  } catch (err) {
    client.disconnect()
    throw storeUnavailable('redis', 'connect', err)
  }
  return redisStore(client, prefix, true, retention)
}

async function ownClient(options: {
  url: string
  connectTimeoutMs?: number
  commandTimeoutMs?: number
}): Promise<Redis> {
  const ms = (v: number | undefined, fallback: number, name: string) =>
    positiveInt(name, v ?? fallback)
  const config = {
    lazyConnect: true,
    connectTimeout: ms(options.connectTimeoutMs, 5_000, 'connectTimeoutMs'),
    commandTimeout: ms(options.commandTimeoutMs, 5_000, 'commandTimeoutMs'),
    // Fail closed at once while disconnected instead of queueing callers behind reconnects.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  }
  const RedisClass: typeof Redis = (
    await importOptional('ioredis', 'createRedisStore', () => import('ioredis'))
  ).Redis
  const client = new RedisClass(options.url, config)
  // Connection errors are also emitted as events; the failing command reports them to the
  // caller as ERR_STORE_UNAVAILABLE, so the event needs no second handling.
  client.on('error', () => {})
  return client
}

function redisStore(
  redis: Redis | Cluster,
  p: string,
  owned: boolean,
  retention: Retention,
): Store {
  let closed = false

  async function run<T>(op: string, body: () => Promise<T>): Promise<T> {
    try {
      if (closed) throw new Error('store closed')
      return await body()
    } catch (err) {
      throw storeUnavailable('redis', op, err)
    }
  }

  // EVALSHA, falling back to EVAL (which caches the script) after a SCRIPT FLUSH or restart.
  async function call(s: RedisScript, args: (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(s.sha, 1, p, ...args)
    } catch (err) {
      if (!String((err as Error)?.message).startsWith('NOSCRIPT')) throw err
      return await redis.eval(s.lua, 1, p, ...args)
    }
  }

  const opt = (v: string | null): string => (v === null ? '' : `=${v}`)
  // The token match arguments, as both token scripts take them.
  const claimArgs = (c: TokenClaim, now: number) => [
    c.hash,
    c.sessionHash,
    c.appId,
    opt(c.userId),
    now,
  ]

  return {
    // Every app process and gateway node may point at the same Redis.
    shared: true,

    insertToken: (t: TokenRecord) =>
      run('insertToken', async () => {
        // Its own lifetime plus the grace; at least 1 ms, as PEXPIRE refuses 0.
        const ttl = Math.max(1, Math.trunc(t.expiresAt - t.createdAt)) + retention.tokenGraceMs
        const args = [t.hash, t.userId, t.sessionHash, t.appId, t.createdAt, t.expiresAt, ttl]
        if ((await call(REDIS_SCRIPTS.insertToken, args)) !== 1) {
          // Never overwritten: rebinding an existing hash would hand a token to someone else.
          throw new Error('duplicate token hash')
        }
      }),

    consumeToken: (c: TokenClaim, now: number) =>
      run('consumeToken', async () => {
        const r = (await call(REDIS_SCRIPTS.consumeToken, claimArgs(c, now))) as
          | [string, string]
          | null
        return r === null ? null : { userId: r[0], sessionHash: r[1] }
      }),

    revokeTokens: (owner: { userId: string } | { sessionHash: string }) =>
      run('revokeTokens', async () => {
        const args = 'userId' in owner ? ['u', owner.userId] : ['s', owner.sessionHash]
        return Number(await call(REDIS_SCRIPTS.revokeTokens, args))
      }),

    hit: (keys: readonly RateKey[], now: number) =>
      run('hit', async (): Promise<RateDecision> => {
        validateRateKeys(keys)
        if (keys.length === 0) return ALLOWED
        const args: (string | number)[] = [now]
        for (const k of keys) {
          args.push(k.key, k.windowMs, bucketStart(now, k.windowMs), k.limit, charges(k) ? 1 : 0)
        }
        // The script stops where a key refuses; the same judgement here stops at the same row.
        const rows = (await call(REDIS_SCRIPTS.hit, args)) as [number, number, number][]
        let i = 0
        return hitInOrder(keys, now, (k) => {
          const r = rows[i++]
          if (r === undefined) throw new Error(`rate row for ${k.key} missing`)
          return { windowStart: r[0], count: r[1], prevCount: r[2] }
        })
      }),

    createSession: (n: NewSession, guard?: SessionGuard) =>
      run('createSession', async () => {
        const written = await call(REDIS_SCRIPTS.createSession, [
          n.connectionId,
          opt(n.userId),
          opt(n.sessionHash),
          opt(n.channel),
          n.connectedAt,
          opt(guard === undefined ? null : guard.tokenHash),
          retention.connectedSessionMs,
        ])
        return written === 1
      }),

    openSession: (t: UserTokenClaim, n: NewSession, now: number) =>
      run('openSession', async () => {
        const r = (await call(REDIS_SCRIPTS.openSession, [
          ...claimArgs(t, now),
          n.connectionId,
          opt(n.userId),
          opt(n.sessionHash),
          opt(n.channel),
          n.connectedAt,
          retention.connectedSessionMs,
        ])) as [string, string] | null
        return r === null ? null : { userId: r[0], sessionHash: r[1] }
      }),

    touchSession: (connectionId: string, now: number) =>
      run('touchSession', async () => {
        const flat = (await call(REDIS_SCRIPTS.touchSession, [connectionId, now])) as
          | string[]
          | null
        return flat === null ? null : toSession(connectionId, pairs(flat))
      }),

    recordActivity: (activity: readonly SessionActivity[]) =>
      run('recordActivity', async () => {
        for (let i = 0; i < activity.length; i += DISCONNECT_BATCH) {
          const args: (string | number)[] = []
          for (const a of activity.slice(i, i + DISCONNECT_BATCH))
            args.push(a.connectionId, a.count, a.lastSeenAt)
          await call(REDIS_SCRIPTS.recordActivity, args)
        }
      }),

    getSession: (connectionId: string) =>
      run('getSession', async () => {
        const h = await redis.hgetall(`${p}s:${connectionId}`)
        return Object.keys(h).length === 0 ? null : toSession(connectionId, h)
      }),

    setChannel: (connectionId: string, channel: string | null) =>
      run('setChannel', async () => {
        const args = [connectionId, opt(channel), retention.connectedSessionMs]
        return (await call(REDIS_SCRIPTS.setChannel, args)) === 1
      }),

    markDisconnected: (connectionIds: readonly string[], now: number, connectedBefore?: number) =>
      run('markDisconnected', async () => {
        const cutoff = connectedBefore ?? Number.MAX_SAFE_INTEGER
        let n = 0
        for (let i = 0; i < connectionIds.length; i += DISCONNECT_BATCH) {
          const ids = connectionIds.slice(i, i + DISCONNECT_BATCH)
          const args = [now, cutoff, retention.disconnectedSessionMs, ...ids]
          n += Number(await call(REDIS_SCRIPTS.markDisconnected, args))
        }
        return n
      }),

    countTokens: (now: number) =>
      run(
        'countTokens',
        async (): Promise<TokenCounts> => ({
          outstanding: Number(await call(REDIS_SCRIPTS.countTokens, [now])),
        }),
      ),

    listConnections: (audience: Audience) =>
      run('listConnections', async () => {
        const t = audienceTarget(audience)
        switch (t.kind) {
          case 'connectionId':
            return (await redis.hget(`${p}s:${t.value}`, 'con')) === '1' ? [t.value] : []
          case 'all':
            return listed(await call(REDIS_SCRIPTS.listConnections, ['sa']))
          case 'userId':
            return listed(await call(REDIS_SCRIPTS.listConnections, [`su:${t.value}`]))
          case 'sessionHash':
            return listed(await call(REDIS_SCRIPTS.listConnections, [`sh:${t.value}`]))
          case 'channel':
            return listed(await call(REDIS_SCRIPTS.listConnections, [`sc:${t.value}`]))
        }
      }),

    claimNonce: (key: string, expiresAt: number, now: number) =>
      run('claimNonce', async () => {
        validateNonce(key, expiresAt, now)
        // The Redis TTL outlives the injected-clock expiry by a margin for clock skew
        // between this process and Redis; the script judges expiry on the injected clock.
        const ttlMs = Math.max(1, expiresAt - now) + NONCE_TTL_MARGIN_MS
        return (await call(REDIS_SCRIPTS.claimNonce, [key, expiresAt, now, ttlMs])) === 1
      }),

    appendHistory: (channel: string, message: string, limits: HistoryLimits, now: number) =>
      run('appendHistory', async (): Promise<HistoryPosition> => {
        validateHistoryLimits(limits, now)
        const [epoch, offset] = (await call(REDIS_SCRIPTS.appendHistory, [
          channel,
          newEpoch(),
          message,
          now,
          limits.size,
          limits.ttlMs,
        ])) as [string, number]
        return { offset: Number(offset), epoch: String(epoch) }
      }),

    readHistory: (channel: string, since: number, limits: HistoryLimits, now: number) =>
      run('readHistory', async () => {
        validateHistoryLimits(limits, now)
        validateSince(since)
        const out = (await call(REDIS_SCRIPTS.readHistory, [channel, since, limits.size])) as
          | [string, string, [string, string[]][]]
          | null
        if (out === null) return readOf(null, 0, [], since, limits, now)
        const entries: HistoryEntry[] = out[2].map(([id, fields]) => {
          const f = new Map<string, string>()
          for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!)
          return {
            offset: Number(id.slice(id.indexOf('-') + 1)),
            message: f.get('m') ?? '',
            at: Number(f.get('t')),
          }
        })
        return readOf(out[0], Number(out[1]), entries, since, limits, now)
      }),

    channelPresence: (channel: string) =>
      run('channelPresence', async (): Promise<ChannelPresence> => {
        const flat = (await call(REDIS_SCRIPTS.channelPresence, [channel])) as (string | number)[]
        const members: { userId: string; connections: number }[] = []
        for (let i = 0; i + 1 < flat.length; i += 2) {
          members.push({ userId: String(flat[i]), connections: Number(flat[i + 1]) })
        }
        members.sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0))
        return { channel, members, anonymous: Number(flat.at(-1) ?? 0) }
      }),

    cleanup: (c: CleanupCutoffs, onProgress?: (soFar: CleanupResult) => void) =>
      run('cleanup', async () => {
        // Nonces carry a Redis TTL and expire on their own: none to count here.
        const total = { tokens: 0, rateLimits: 0, sessions: 0, nonces: 0 }
        for (let batch = 0; batch < CLEANUP_MAX_BATCHES; batch++) {
          const r = (await call(REDIS_SCRIPTS.cleanup, [
            c.tokensCreatedBefore,
            c.rateLimitsBefore,
            c.sessionsDisconnectedBefore,
            CLEANUP_BATCH,
          ])) as number[]
          total.tokens += r[0] ?? 0
          total.rateLimits += r[1] ?? 0
          total.sessions += r[2] ?? 0
          onProgress?.({ ...total })
          if (Math.max(r[3] ?? 0, r[4] ?? 0, r[5] ?? 0) < CLEANUP_BATCH) break
        }
        return total
      }),

    close: async () => {
      if (closed) return
      closed = true
      if (owned) await redis.quit().catch(() => redis.disconnect())
    },
  }
}

function listed(reply: unknown): string[] {
  return Array.isArray(reply) ? reply.map(String) : []
}

function pairs(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!
  return out
}

function toSession(connectionId: string, h: Record<string, string>): SessionRecord {
  return {
    connectionId,
    userId: h.u ?? null,
    sessionHash: h.h ?? null,
    channel: h.ch ?? null,
    connected: h.con === '1',
    requestCount: Number(h.rc ?? 0),
    connectedAt: Number(h.ca),
    lastSeenAt: Number(h.ls),
    disconnectedAt: h.da === undefined ? null : Number(h.da),
  }
}
