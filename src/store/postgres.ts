/**
 * @module store/postgres
 * The Store on PostgreSQL (`pg`, loaded lazily so the core package never requires it), for
 * several gateway nodes sharing one database. Every method is one statement and one round
 * trip: `UPDATE … RETURNING` for the single-use consume (row locks make concurrent consumes
 * of one token serialise, and the loser re-checks `used_at IS NULL` and gets no row), and one
 * statement of data-modifying CTEs for cleanup; `hit` is one chain of CTEs that visits its
 * keys in order and stops at the first refusing key (`postgres-hit.ts`). With a `pg.Pool`,
 * the writes of connects and token issues of one event-loop turn run on one pooled client in
 * one `BEGIN … COMMIT` (group commit, `store/group-commit.ts`).
 *
 * All tables live in one PostgreSQL schema (default `gatehouse`), so they never collide with
 * an application's own `sessions` table.
 */
import type { Pool, PoolConfig } from 'pg'
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
import { groupCommit } from './group-commit.ts'
import { newEpoch, readOf, validateHistoryLimits, validateSince } from './history.ts'
import { validateNonce } from './nonce.ts'
import { postgresHitSql } from './postgres-hit.ts'
import {
  assertPostgresSchema,
  migratePostgres,
  type PgQueryable,
  quoteSchema,
} from './postgres-schema.ts'
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

export {
  assertPostgresSchema,
  migratePostgres,
  type PgQueryable,
  POSTGRES_SCHEMA_VERSION,
  postgresMigrationSql,
  postgresSchemaStatus,
} from './postgres-schema.ts'

import { importOptional } from '../util/optional.ts'

export type { SchemaStatus } from './schema-version.ts'

/**
 * Options of {@link createPostgresStore}: a pool you own, or a connection string.
 *
 * @example
 * ```ts
 * const options: PostgresStoreOptions = { connectionString: 'postgres://app@127.0.0.1/app', schema: 'gatehouse' }
 * ```
 */
export type PostgresStoreOptions = (
  | {
      /** A `pg.Pool` (or anything with `query(text, values)`); `close()` leaves it open. */
      readonly pool: PgQueryable
      readonly connectionString?: never
    }
  | {
      /** `postgres://user@host:5432/db`; the store creates its own pool and ends it on `close()`. */
      readonly connectionString: string
      readonly pool?: never
      /** Fail instead of waiting longer for a connection. Default 5000. */
      readonly connectTimeoutMs?: number
      /** Server-side limit per statement (a lock held too long fails the call). Default 5000. */
      readonly statementTimeoutMs?: number
      /** Connections in the pool. Default 10. */
      readonly maxConnections?: number
    }
) & {
  /** PostgreSQL schema (namespace) holding the tables; created when missing. Default `gatehouse`. */
  readonly schema?: string
  /**
   * Migrate the schema when the store opens (default `true`). With `false` the store only
   * reads the schema's version and refuses to open (`ERR_STORE_MIGRATION_REQUIRED`) when it
   * is missing or older than this code needs, so the app's role needs no DDL rights: run
   * `gatehouse migrate` with an owner role at deploy time instead.
   */
  readonly migrate?: boolean
}

interface SessionRow {
  connection_id: string
  user_id: string | null
  session_hash: string | null
  channel: string | null
  connected: boolean
  request_count: string | number
  connected_at: string | number
  last_seen_at: string | number
  disconnected_at: string | number | null
}

/**
 * Connect (or adopt a pool), migrate the schema (unless `migrate: false`), and return the
 * Store. Throws `ERR_STORE_SCHEMA` for a schema written by a newer Gatehouse,
 * `ERR_STORE_MIGRATION_REQUIRED` for a missing or older one with `migrate: false`,
 * `ERR_STORE_UNAVAILABLE` when the database cannot be reached, and `ERR_INVALID_OPTION` for
 * bad options.
 *
 * @example
 * ```ts
 * const store = await createPostgresStore({ connectionString: process.env.DATABASE_URL! })
 * // or, sharing the app's pool (left open by store.close()):
 * const shared = await createPostgresStore({ pool, schema: 'gatehouse' })
 * ```
 */
export async function createPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const schemaName = options?.schema ?? 'gatehouse'
  const s = quoteSchema(schemaName)
  const migrate = options?.migrate ?? true
  if (typeof migrate !== 'boolean') {
    throw new GatehouseError('ERR_INVALID_OPTION', 'createPostgresStore: migrate must be a boolean')
  }
  let db: PgQueryable
  let owned: Pool | undefined
  if (options?.pool !== undefined) {
    if (typeof options.pool?.query !== 'function') {
      throw new GatehouseError('ERR_INVALID_OPTION', 'createPostgresStore: pool must have query()')
    }
    db = options.pool
  } else if (typeof options?.connectionString === 'string' && options.connectionString !== '') {
    owned = await ownPool(options)
    db = owned
  } else {
    throw new GatehouseError(
      'ERR_INVALID_OPTION',
      'createPostgresStore: pass { pool } or { connectionString }',
    )
  }

  try {
    if (migrate) await migratePostgres(db, schemaName, Date.now())
    else await assertPostgresSchema(db, schemaName)
  } catch (err) {
    await owned?.end().catch(() => {})
    throw storeUnavailable('postgres', 'open', err)
  }
  return postgresStore(db, s, owned)
}

async function ownPool(options: {
  connectionString: string
  connectTimeoutMs?: number
  statementTimeoutMs?: number
  maxConnections?: number
}): Promise<Pool> {
  const ms = (v: number | undefined, fallback: number, name: string) =>
    positiveInt(name, v ?? fallback)
  const config: PoolConfig = {
    connectionString: options.connectionString,
    connectionTimeoutMillis: ms(options.connectTimeoutMs, 5_000, 'connectTimeoutMs'),
    statement_timeout: ms(options.statementTimeoutMs, 5_000, 'statementTimeoutMs'),
    max: ms(options.maxConnections, 10, 'maxConnections'),
    // Queries of one client go out without waiting for the previous answer, so a group
    // commit of N writes costs three round trips (BEGIN, the writes, COMMIT), not N + 2.
    pipeline: true,
  } as PoolConfig
  const pg = await importOptional('pg', 'createPostgresStore', () => import('pg'))
  const PoolClass = (pg.default ?? pg).Pool
  const pool = new PoolClass(config)
  // An idle client's network error is emitted on the pool; unhandled it would crash the
  // process. The next query fails on its own and surfaces as ERR_STORE_UNAVAILABLE.
  pool.on('error', () => {})
  return pool
}

function postgresStore(db: PgQueryable, s: string, owned: Pool | undefined): Store {
  // The one token match of consumeToken and openSession ($1-$5 in both): session, audience
  // and (when $5 is not NULL) user, unused, unexpired, in the statement that marks it used.
  // Concurrent uses lock the token row; the loser re-checks used_at after the winner commits
  // and updates nothing.
  const useToken = `UPDATE ${s}.tokens SET used_at = $1::bigint
        WHERE hash = $2::text AND session_hash = $3::text AND app_id = $4::text
          AND ($5::text IS NULL OR user_id = $5::text)
          AND used_at IS NULL AND expires_at > $1::bigint
        RETURNING user_id, session_hash`
  const sql = {
    countTokens: `SELECT count(*)::int AS n FROM ${s}.tokens WHERE used_at IS NULL AND expires_at > $1::bigint`,
    insertToken: `INSERT INTO ${s}.tokens (hash, user_id, session_hash, app_id, created_at, expires_at, used_at)
      VALUES ($1, $2, $3, $4, $5, $6, NULL)`,
    consumeToken: useToken,
    revokeByUser: `DELETE FROM ${s}.tokens WHERE user_id = $1`,
    revokeBySession: `DELETE FROM ${s}.tokens WHERE session_hash = $1`,
    // A NULL $6 writes unconditionally; a token hash writes only while that token row exists.
    // The row is locked (KEY SHARE) rather than just read: a snapshot read would let a
    // concurrent revocation delete the token and list connections before this insert commits,
    // and miss it. Locked, the revocation's DELETE waits for this commit (then finds the
    // session), or this statement waits for the DELETE (then sees no row and writes nothing).
    createSession: `INSERT INTO ${s}.sessions (connection_id, user_id, session_hash, channel, connected,
        request_count, connected_at, last_seen_at, disconnected_at)
      SELECT $1::text, $2::text, $3::text, $4::text, true, 0, $5::bigint, $5::bigint, NULL
      WHERE $6::text IS NULL
        OR EXISTS (SELECT 1 FROM ${s}.tokens WHERE hash = $6::text FOR KEY SHARE)
      ON CONFLICT (connection_id) DO UPDATE SET user_id = excluded.user_id,
        session_hash = excluded.session_hash, channel = excluded.channel, connected = true,
        request_count = 0, connected_at = excluded.connected_at,
        last_seen_at = excluded.last_seen_at, disconnected_at = NULL`,
    // The token use and an unguarded createSession as one statement: the insert reads the
    // CTE, so it writes only when the token was used, in one commit. A revocation's DELETE
    // either runs first (no row to use) or waits for this commit (then finds the session).
    openSession: `WITH t AS (${useToken})
      INSERT INTO ${s}.sessions (connection_id, user_id, session_hash, channel, connected,
        request_count, connected_at, last_seen_at, disconnected_at)
      SELECT $6::text, $7::text, $8::text, $9::text, true, 0, $10::bigint, $10::bigint, NULL FROM t
      ON CONFLICT (connection_id) DO UPDATE SET user_id = excluded.user_id,
        session_hash = excluded.session_hash, channel = excluded.channel, connected = true,
        request_count = 0, connected_at = excluded.connected_at,
        last_seen_at = excluded.last_seen_at, disconnected_at = NULL
      RETURNING (SELECT user_id FROM t) AS user_id, (SELECT session_hash FROM t) AS token_session`,
    touchSession: `UPDATE ${s}.sessions SET request_count = request_count + 1, last_seen_at = $1
      WHERE connection_id = $2 AND connected RETURNING *`,
    recordActivity: `UPDATE ${s}.sessions AS s SET request_count = s.request_count + a.n,
        last_seen_at = GREATEST(s.last_seen_at, a.t)
      FROM unnest($1::text[], $2::int[], $3::bigint[]) AS a(id, n, t) WHERE s.connection_id = a.id`,
    getSession: `SELECT * FROM ${s}.sessions WHERE connection_id = $1`,
    setChannel: `UPDATE ${s}.sessions SET channel = $1 WHERE connection_id = $2 AND connected`,
    markDisconnected: `UPDATE ${s}.sessions SET connected = false, disconnected_at = $1
      WHERE connected AND connected_at < $3 AND connection_id = ANY($2::text[])`,
    list: {
      connectionId: `SELECT connection_id FROM ${s}.sessions WHERE connection_id = $1 AND connected`,
      userId: `SELECT connection_id FROM ${s}.sessions WHERE user_id = $1 AND connected`,
      sessionHash: `SELECT connection_id FROM ${s}.sessions WHERE session_hash = $1 AND connected`,
      channel: `SELECT connection_id FROM ${s}.sessions WHERE channel = $1 AND connected`,
      all: `SELECT connection_id FROM ${s}.sessions WHERE connected`,
    },
    // The next offset (a new stream starts at 1 with epoch $2), the entry, and the trim of
    // entries beyond the size or older than the age, in one statement. The upsert locks the
    // stream row, so concurrent appends to a channel get consecutive offsets; the DELETE sees
    // the snapshot before the INSERT, so it never removes the new entry.
    appendHistory: `WITH st AS (
        INSERT INTO ${s}.history_streams AS hs (channel, epoch, last_seq) VALUES ($1::text, $2::text, 1)
        ON CONFLICT (channel) DO UPDATE SET last_seq = hs.last_seq + 1
        RETURNING epoch, last_seq
      ), ins AS (
        INSERT INTO ${s}.history (channel, seq, message, created_at)
        SELECT $1::text, last_seq, $3::text, $4::bigint FROM st
      ), trimmed AS (
        DELETE FROM ${s}.history WHERE channel = $1::text
          AND (seq <= (SELECT last_seq FROM st) - $5::bigint OR created_at <= $4::bigint - $6::bigint)
      )
      SELECT epoch, last_seq FROM st`,
    // Every Nth append: expired rows of all channels (an append trims only its own).
    sweepHistory: `DELETE FROM ${s}.history WHERE (channel, seq) IN (
        SELECT channel, seq FROM ${s}.history WHERE created_at <= $1::bigint
        LIMIT ${DEFAULTS.historySweepBatch})`,
    // One statement, so the stream row and its entries are read as one snapshot.
    readHistory: `SELECT s.epoch, s.last_seq, h.seq, h.message, h.created_at
      FROM ${s}.history_streams s LEFT JOIN ${s}.history h ON h.channel = s.channel AND h.seq > $2::bigint
      WHERE s.channel = $1::text ORDER BY h.seq`,
    presence: `SELECT user_id, count(*)::int AS n FROM ${s}.sessions
      WHERE channel = $1 AND connected GROUP BY user_id`,
    // One statement, so the three deletes commit together. A rate bucket still weighs on
    // the estimate for one window after it ends (as "previous"), hence the 2 * window_ms.
    cleanup: `WITH
      t AS (DELETE FROM ${s}.tokens WHERE created_at < $1 RETURNING 1),
      r AS (DELETE FROM ${s}.rate_limits WHERE window_start + 2 * window_ms < $2 RETURNING 1),
      x AS (DELETE FROM ${s}.sessions WHERE NOT connected AND disconnected_at < $3 RETURNING 1),
      n AS (DELETE FROM ${s}.nonces WHERE expires_at < $4 RETURNING 1)
      SELECT (SELECT count(*) FROM t)::int AS tokens, (SELECT count(*) FROM r)::int AS rate_limits,
             (SELECT count(*) FROM x)::int AS sessions, (SELECT count(*) FROM n)::int AS nonces`,
    // Held unless the held row has expired: the conflict's WHERE leaves a live row alone,
    // and RETURNING then yields no row. Concurrent claims serialise on the primary key.
    claimNonce: `INSERT INTO ${s}.nonces AS n (key, expires_at) VALUES ($1, $2)
      ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE n.expires_at <= $3
      RETURNING 1 AS claimed`,
    // The same claim, in the same round trip, with a bounded delete of expired rows: without
    // it nothing but cleanup removes them, and the shared check (on by default here) writes
    // a row per signed message. The claimed key is left out of the delete, so one statement
    // never both deletes and upserts a row.
    claimNonceAndSweep: `WITH swept AS (
        DELETE FROM ${s}.nonces WHERE ctid IN (
          SELECT ctid FROM ${s}.nonces WHERE expires_at < $3 AND key <> $1 LIMIT ${DEFAULTS.nonceSweepBatch}
        )
      )
      INSERT INTO ${s}.nonces AS n (key, expires_at) VALUES ($1, $2)
      ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE n.expires_at <= $3
      RETURNING 1 AS claimed`,
  }
  let claims = 0
  let appends = 0

  // One statement per shape of call (which keys charge), built once and reused.
  const hitSql = new Map<string, string>()
  const hitStatement = (keys: readonly RateKey[]): string => {
    const shape = keys.map((k) => (charges(k) ? 'c' : 'p')).join('')
    let text = hitSql.get(shape)
    if (text === undefined) {
      text = postgresHitSql(s, keys.map(charges))
      hitSql.set(shape, text)
    }
    return text
  }

  let closed = false
  async function run<T>(op: string, body: () => Promise<T>): Promise<T> {
    try {
      if (closed) throw new Error('store closed')
      return await body()
    } catch (err) {
      throw storeUnavailable('postgres', op, err)
    }
  }

  // Group commit (store/group-commit.ts) where the pool hands out clients: the connect writes
  // of one event-loop turn go in one BEGIN … COMMIT on one client, one commit for all. A bare
  // `query()` object, or a single client (which may be in a transaction of its caller's), has
  // no client to lend, so each write then runs alone. A `pg.Pool` is told by its counters: a
  // `pg.Client` has `connect()` too, but it connects itself rather than lending a client.
  const pool = isPool(db) ? db : null
  const batch =
    pool === null
      ? null
      : groupCommit<PgQueryable>(
          async (bodies) => {
            // Two processes' batches can lock the same rate-limit rows in opposite orders
            // (one item per connect, each with its own keys): PostgreSQL then aborts one of
            // them as a deadlock. Its transaction rolled back whole, so it is run again, up
            // to twice, rather than failing honest connects with 503.
            for (let attempt = 0; ; attempt++) {
              try {
                return await commitOnce(bodies)
              } catch (err) {
                if (attempt >= DEADLOCK_RETRIES || !isRetryable(err)) throw err
              }
            }
          },
          (op, err) => storeUnavailable('postgres', op, err),
        )
  async function commitOnce(
    bodies: readonly ((tx: PgQueryable) => unknown)[],
  ): Promise<readonly unknown[]> {
    if (pool === null) throw new Error('no pool')
    if (closed) throw new Error('store closed')
    const client = await pool.connect()
    let broken: Error | undefined
    // A checked-out client that loses its connection emits 'error' on itself (the pool
    // listens only while it is idle); unheard, that event would crash the process. The
    // failure reaches this batch through its queries' rejections.
    const swallow = (err: Error): void => {
      broken ??= err
    }
    ;(client as { on(event: 'error', fn: (err: Error) => void): unknown }).on('error', swallow)
    try {
      // BEGIN is awaited on its own: a failed BEGIN must not leave the writes to run
      // one by one outside a transaction. A pipelining client (the store's own pool)
      // then gets every write at once and puts them on the wire together; any other
      // gets them one after the other (pg deprecates queueing on a busy client).
      // COMMIT goes only once all succeeded: in an aborted transaction PostgreSQL
      // answers COMMIT with a silent ROLLBACK.
      await client.query('BEGIN')
      let out: unknown[]
      if ((client as { pipeline?: boolean }).pipeline === true) {
        out = await Promise.all(bodies.map((body) => body(client)))
      } else {
        out = []
        for (const body of bodies) out.push(await body(client))
      }
      await client.query('COMMIT')
      return out
    } catch (err) {
      // Nothing of the batch stays: a client that cannot even roll back is discarded.
      await client.query('ROLLBACK').catch((e: Error) => {
        broken = e
      })
      throw err
    } finally {
      ;(client as { off(event: 'error', fn: (err: Error) => void): unknown }).off('error', swallow)
      client.release(broken)
    }
  }
  function write<T>(op: string, body: (q: PgQueryable) => Promise<T>): Promise<T> {
    if (batch === null || closed) return run(op, () => body(db))
    return batch.add(op, body)
  }

  return {
    // Every app process and gateway node may point at the same database.
    shared: true,

    insertToken: (t: TokenRecord) =>
      write('insertToken', async (q) => {
        // Plain INSERT: a duplicate hash fails rather than rebinding a token to someone else.
        await q.query(sql.insertToken, [
          t.hash,
          t.userId,
          t.sessionHash,
          t.appId,
          t.createdAt,
          t.expiresAt,
        ])
      }),

    consumeToken: (c: TokenClaim, now: number) =>
      write('consumeToken', async (q) => {
        const { rows } = await q.query(sql.consumeToken, claimParams(c, now))
        const row = rows[0]
        return row === undefined
          ? null
          : { userId: String(row.user_id), sessionHash: String(row.session_hash) }
      }),

    revokeTokens: (owner: { userId: string } | { sessionHash: string }) =>
      run('revokeTokens', async () => {
        const res =
          'userId' in owner
            ? await db.query(sql.revokeByUser, [owner.userId])
            : await db.query(sql.revokeBySession, [owner.sessionHash])
        return res.rowCount ?? 0
      }),

    hit: (keys: readonly RateKey[], now: number) => {
      // A caller's mistake is refused alone, before it can join (and fail) a batch.
      try {
        validateRateKeys(keys)
      } catch (err) {
        return Promise.reject(err)
      }
      if (keys.length === 0) return Promise.resolve(ALLOWED)
      return write('hit', async (q): Promise<RateDecision> => {
        const params: (string | number)[] = [now]
        for (const k of keys) params.push(k.key, k.windowMs, bucketStart(now, k.windowMs), k.limit)
        // The statement stops where a key refuses; the same judgement here stops at the same row.
        const { rows } = await q.query(hitStatement(keys), params)
        let i = 0
        return hitInOrder(keys, now, (k) => {
          const r = rows[i++]
          if (r === undefined) throw new Error(`rate row for ${k.key} missing`)
          return {
            windowStart: Number(r.window_start),
            count: Number(r.count),
            prevCount: Number(r.prev_count),
          }
        })
      })
    },

    createSession: (n: NewSession, guard?: SessionGuard) =>
      write('createSession', async (q) => {
        const res = await q.query(sql.createSession, [
          n.connectionId,
          n.userId,
          n.sessionHash,
          n.channel,
          n.connectedAt,
          guard === undefined ? null : guard.tokenHash,
        ])
        return (res.rowCount ?? 0) > 0
      }),

    openSession: (t: UserTokenClaim, n: NewSession, now: number) =>
      write('openSession', async (q) => {
        const { rows } = await q.query(sql.openSession, [
          ...claimParams(t, now),
          n.connectionId,
          n.userId,
          n.sessionHash,
          n.channel,
          n.connectedAt,
        ])
        const row = rows[0]
        return row === undefined
          ? null
          : { userId: String(row.user_id), sessionHash: String(row.token_session) }
      }),

    touchSession: (connectionId: string, now: number) =>
      run('touchSession', async () => {
        const { rows } = await db.query(sql.touchSession, [now, connectionId])
        return rows[0] === undefined ? null : toSession(rows[0] as unknown as SessionRow)
      }),

    recordActivity: (activity: readonly SessionActivity[]) =>
      run('recordActivity', async () => {
        if (activity.length === 0) return
        await db.query(sql.recordActivity, [
          activity.map((a) => a.connectionId),
          activity.map((a) => a.count),
          activity.map((a) => a.lastSeenAt),
        ])
      }),

    getSession: (connectionId: string) =>
      run('getSession', async () => {
        const { rows } = await db.query(sql.getSession, [connectionId])
        return rows[0] === undefined ? null : toSession(rows[0] as unknown as SessionRow)
      }),

    setChannel: (connectionId: string, channel: string | null) =>
      run('setChannel', async () => {
        const res = await db.query(sql.setChannel, [channel, connectionId])
        return (res.rowCount ?? 0) > 0
      }),

    markDisconnected: (connectionIds: readonly string[], now: number, connectedBefore?: number) =>
      run('markDisconnected', async () => {
        if (connectionIds.length === 0) return 0
        const cutoff = connectedBefore ?? Number.MAX_SAFE_INTEGER
        const res = await db.query(sql.markDisconnected, [now, [...connectionIds], cutoff])
        return res.rowCount ?? 0
      }),

    countTokens: (now: number) =>
      run('countTokens', async (): Promise<TokenCounts> => {
        const { rows } = await db.query(sql.countTokens, [now])
        return { outstanding: Number(rows[0]?.n ?? 0) }
      }),

    listConnections: (audience: Audience) =>
      run('listConnections', async () => {
        const t = audienceTarget(audience)
        const res =
          t.kind === 'all'
            ? await db.query(sql.list.all)
            : await db.query(sql.list[t.kind], [t.value])
        return res.rows.map((r) => String(r.connection_id))
      }),

    appendHistory: (channel: string, message: string, limits: HistoryLimits, now: number) =>
      run('appendHistory', async (): Promise<HistoryPosition> => {
        validateHistoryLimits(limits, now)
        const { rows } = await db.query(sql.appendHistory, [
          channel,
          newEpoch(),
          message,
          now,
          limits.size,
          limits.ttlMs,
        ])
        if (++appends % DEFAULTS.historySweepEveryAppends === 0) {
          // Housekeeping after the append has committed: its failure fails nothing.
          await db.query(sql.sweepHistory, [now - limits.ttlMs]).catch(() => {})
        }
        return { offset: Number(rows[0]!.last_seq), epoch: String(rows[0]!.epoch) }
      }),

    readHistory: (channel: string, since: number, limits: HistoryLimits, now: number) =>
      run('readHistory', async () => {
        validateHistoryLimits(limits, now)
        validateSince(since)
        const { rows } = await db.query(sql.readHistory, [channel, since])
        if (rows.length === 0) return readOf(null, 0, [], since, limits, now)
        const entries: HistoryEntry[] = []
        for (const r of rows) {
          if (r.seq === null) continue
          entries.push({
            offset: Number(r.seq),
            message: String(r.message),
            at: Number(r.created_at),
          })
        }
        return readOf(
          String(rows[0]!.epoch),
          Number(rows[0]!.last_seq),
          entries,
          since,
          limits,
          now,
        )
      }),

    channelPresence: (channel: string) =>
      run('channelPresence', async (): Promise<ChannelPresence> => {
        const { rows } = await db.query(sql.presence, [channel])
        let anonymous = 0
        const members: { userId: string; connections: number }[] = []
        for (const r of rows) {
          if (r.user_id === null) anonymous += Number(r.n)
          else members.push({ userId: String(r.user_id), connections: Number(r.n) })
        }
        // Code-unit order on every store, whatever the database collation says.
        members.sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0))
        return { channel, members, anonymous }
      }),

    cleanup: (c: CleanupCutoffs) =>
      run('cleanup', async (): Promise<CleanupResult> => {
        const { rows } = await db.query(sql.cleanup, [
          c.tokensCreatedBefore,
          c.rateLimitsBefore,
          c.sessionsDisconnectedBefore,
          c.noncesExpiredBefore,
        ])
        const r = rows[0] ?? {}
        return {
          tokens: Number(r.tokens ?? 0),
          rateLimits: Number(r.rate_limits ?? 0),
          sessions: Number(r.sessions ?? 0),
          nonces: Number(r.nonces ?? 0),
        }
      }),

    claimNonce: (key: string, expiresAt: number, now: number) =>
      run('claimNonce', async () => {
        validateNonce(key, expiresAt, now)
        const sweep = ++claims % DEFAULTS.nonceSweepEveryClaims === 0
        const text = sweep ? sql.claimNonceAndSweep : sql.claimNonce
        const { rows } = await db.query(text, [key, expiresAt, now])
        return rows.length > 0
      }),

    close: async () => {
      if (closed) return
      // Queued writes commit first: a caller awaiting one is answered, not left hanging.
      await batch?.drain()
      closed = true
      await owned?.end()
    },
  }
}

/** How often a group-committed batch that PostgreSQL aborted as a deadlock is run again. */
const DEADLOCK_RETRIES = 2

/** deadlock_detected and serialization_failure: the transaction was rolled back whole. */
function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return code === '40P01' || code === '40001'
}

function isPool(db: PgQueryable): db is Pool {
  const p = db as Partial<Pool>
  return typeof p.connect === 'function' && typeof p.totalCount === 'number'
}

// $1-$5 of the token match, in the order the statement numbers them.
function claimParams(c: TokenClaim, now: number): unknown[] {
  return [now, c.hash, c.sessionHash, c.appId, c.userId]
}

// bigint columns arrive as strings from pg; epoch milliseconds fit a double exactly.
function toSession(r: SessionRow): SessionRecord {
  return {
    connectionId: r.connection_id,
    userId: r.user_id,
    sessionHash: r.session_hash,
    channel: r.channel,
    connected: r.connected === true,
    requestCount: Number(r.request_count),
    connectedAt: Number(r.connected_at),
    lastSeenAt: Number(r.last_seen_at),
    disconnectedAt: r.disconnected_at === null ? null : Number(r.disconnected_at),
  }
}
