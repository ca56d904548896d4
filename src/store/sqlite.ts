/**
 * @module store/sqlite
 * The embedded Store on `node:sqlite` (no native addon): the default for local development
 * and single-node self-hosting. WAL journal, `synchronous=NORMAL`, a busy timeout, and every
 * hot-path operation one prepared statement compiled once at open. The writes of connects
 * and token issues that arrive in one event-loop turn share one `BEGIN IMMEDIATE … COMMIT`
 * (group commit, `store/group-commit.ts`): the pages they touch are written once per batch.
 *
 * `DatabaseSync` is synchronous: a statement runs to completion before any other JavaScript,
 * so calls from this process never interleave; other processes on the same file are
 * serialised by SQLite's locks, and a lock held longer than `busyTimeoutMs` surfaces as
 * `ERR_STORE_UNAVAILABLE` (the caller answers 503). While SQLite waits for a lock the event
 * loop waits too, which is why the default timeout is short.
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
// Types only: `node:sqlite` itself is loaded by `openSqliteStore`, so importing `gatehouse` for
// another store never loads it (on Node 22 loading it prints an ExperimentalWarning).
import type { DatabaseSync, StatementSync } from 'node:sqlite'
import { DEFAULTS } from '../defaults.ts'
import { GatehouseError } from '../errors.ts'
import {
  advanceCounts,
  bucketStart,
  charges,
  hitInOrder,
  validateRateKeys,
  type WindowCounts,
} from '../limits/sliding-window.ts'
import { audienceTarget } from './audience.ts'
import { groupCommit } from './group-commit.ts'
import { newEpoch, readOf, validateHistoryLimits, validateSince } from './history.ts'
import { validateNonce } from './nonce.ts'
import { assertSqliteSchema, migrateSqlite } from './sqlite-schema.ts'
import type {
  Audience,
  ChannelPresence,
  CleanupCutoffs,
  CleanupResult,
  ConsumedToken,
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
 * Options of {@link openSqliteStore}.
 *
 * @example
 * ```ts
 * const options: SqliteStoreOptions = { path: '.data/gatehouse.db', busyTimeoutMs: 500 }
 * ```
 */
export interface SqliteStoreOptions {
  /** Database file, created with its folder when missing; `':memory:'` for a private in-memory database. */
  readonly path: string
  /**
   * How long a statement waits for another process's lock before failing with
   * `ERR_STORE_UNAVAILABLE`. The event loop is blocked while it waits. Default 1000.
   */
  readonly busyTimeoutMs?: number
  /**
   * Migrate the file when the store opens (default `true`). With `false` the store refuses
   * to open (`ERR_STORE_MIGRATION_REQUIRED`) a file whose schema is missing or older than
   * this code needs, and never changes the schema itself: run `gatehouse migrate` first.
   */
  readonly migrate?: boolean
}

/**
 * Default {@link SqliteStoreOptions.busyTimeoutMs}.
 *
 * @example
 * ```ts
 * await openSqliteStore({ path, busyTimeoutMs: SQLITE_BUSY_TIMEOUT_MS * 2 })
 * ```
 */
export const SQLITE_BUSY_TIMEOUT_MS = 1_000

interface StoredRate extends WindowCounts {
  readonly windowMs: number
}

interface SessionRow {
  connection_id: string
  user_id: string | null
  session_hash: string | null
  channel: string | null
  connected: number
  request_count: number
  connected_at: number
  last_seen_at: number
  disconnected_at: number | null
}

// The rate-limit step of sliding-window.ts `advanceCounts`, as one upsert. SET expressions
// read the row as it was before the update, so the CASEs all see the old bucket.
const HIT_SQL = `
  INSERT INTO rate_limits (key, window_ms, window_start, count, prev_count)
  VALUES (?1, ?2, ?3, 1, 0)
  ON CONFLICT (key) DO UPDATE SET
    prev_count = CASE
      WHEN window_ms <> excluded.window_ms THEN 0
      WHEN window_start >= excluded.window_start THEN prev_count
      WHEN window_start = excluded.window_start - excluded.window_ms THEN count
      ELSE 0 END,
    count = CASE
      WHEN window_ms <> excluded.window_ms THEN 1
      WHEN window_start >= excluded.window_start THEN count + 1
      ELSE 1 END,
    window_start = CASE
      WHEN window_ms <> excluded.window_ms THEN excluded.window_start
      ELSE max(window_start, excluded.window_start) END,
    window_ms = excluded.window_ms
  RETURNING window_start AS windowStart, count, prev_count AS prevCount`

/**
 * Open (creating and migrating as needed, unless `migrate: false`) an SQLite Store.
 * Throws `ERR_STORE_SCHEMA` for a file written by a newer Gatehouse,
 * `ERR_STORE_MIGRATION_REQUIRED` for a missing or older schema with `migrate: false`, `ERR_STORE_UNAVAILABLE`
 * when the file cannot be opened, and `ERR_INVALID_OPTION` for bad options.
 *
 * @example
 * ```ts
 * const store = await openSqliteStore({ path: '.data/gatehouse.db' })
 * const test = await openSqliteStore({ path: ':memory:' })
 * ```
 */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  const path = options?.path
  const busyTimeoutMs = options?.busyTimeoutMs ?? SQLITE_BUSY_TIMEOUT_MS
  if (typeof path !== 'string' || path.length === 0) {
    throw new GatehouseError(
      'ERR_INVALID_OPTION',
      'openSqliteStore: path must be a non-empty string',
    )
  }
  const migrate = options?.migrate ?? true
  if (typeof migrate !== 'boolean') {
    throw new GatehouseError('ERR_INVALID_OPTION', 'openSqliteStore: migrate must be a boolean')
  }
  if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new GatehouseError(
      'ERR_INVALID_OPTION',
      'openSqliteStore: busyTimeoutMs must be an integer >= 0',
    )
  }

  let db: DatabaseSync | undefined
  try {
    if (path !== ':memory:' && !path.startsWith('file:')) {
      mkdirSync(dirname(path), { recursive: true })
    }
    const { DatabaseSync } = await import('node:sqlite')
    db = new DatabaseSync(path)
    db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`)
    db.exec('PRAGMA journal_mode = WAL')
    db.exec('PRAGMA synchronous = NORMAL')
    if (migrate) migrateSqlite(db, Date.now())
    else assertSqliteSchema(db, path)
    return sqliteStore(db)
  } catch (err) {
    if (db?.isOpen) db.close()
    throw storeUnavailable('sqlite', 'open', err)
  }
}

function sqliteStore(db: DatabaseSync): Store {
  const q = (sql: string): StatementSync => db.prepare(sql)
  // Compiled once: the hot path never parses SQL or touches the schema.
  const st = {
    insertToken: q(
      'INSERT INTO tokens (hash, user_id, session_hash, app_id, created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?, ?, NULL)',
    ),
    // The one token match of consumeToken and openSession: session, audience and (when ?5 is
    // not NULL) user, unused, unexpired, all in the statement that marks the token used.
    useToken: q(
      `UPDATE tokens SET used_at = ?1
       WHERE hash = ?2 AND session_hash = ?3 AND app_id = ?4 AND (?5 IS NULL OR user_id = ?5)
         AND used_at IS NULL AND expires_at > ?1
       RETURNING user_id AS userId, session_hash AS sessionHash`,
    ),
    revokeByUser: q('DELETE FROM tokens WHERE user_id = ?'),
    revokeBySession: q('DELETE FROM tokens WHERE session_hash = ?'),
    hit: q(HIT_SQL),
    peekRate: q(
      'SELECT window_ms AS windowMs, window_start AS windowStart, count, prev_count AS prevCount FROM rate_limits WHERE key = ?',
    ),
    // One statement for both forms: a NULL guard writes unconditionally; a token hash writes
    // only while that token row exists (a revocation deletes it).
    createSession: q(
      `INSERT OR REPLACE INTO sessions (connection_id, user_id, session_hash, channel, connected,
         request_count, connected_at, last_seen_at, disconnected_at)
       SELECT ?1, ?2, ?3, ?4, 1, 0, ?5, ?5, NULL
       WHERE ?6 IS NULL OR EXISTS (SELECT 1 FROM tokens WHERE hash = ?6)`,
    ),
    touchSession: q(
      'UPDATE sessions SET request_count = request_count + 1, last_seen_at = ? WHERE connection_id = ? AND connected = 1 RETURNING *',
    ),
    // The batch travels as one JSON array of [id, count, lastSeenAt] triples.
    recordActivity: q(
      `UPDATE sessions SET request_count = request_count + a.n, last_seen_at = max(last_seen_at, a.t)
       FROM (SELECT value ->> 0 AS id, value ->> 1 AS n, value ->> 2 AS t FROM json_each(?)) AS a
       WHERE sessions.connection_id = a.id`,
    ),
    getSession: q('SELECT * FROM sessions WHERE connection_id = ?'),
    setChannel: q('UPDATE sessions SET channel = ? WHERE connection_id = ? AND connected = 1'),
    markDisconnected: q(
      'UPDATE sessions SET connected = 0, disconnected_at = ? WHERE connected = 1 AND connected_at < ? AND connection_id IN (SELECT value FROM json_each(?))',
    ),
    listById: q('SELECT connection_id FROM sessions WHERE connection_id = ? AND connected = 1'),
    listByUser: q('SELECT connection_id FROM sessions WHERE user_id = ? AND connected = 1'),
    listBySession: q('SELECT connection_id FROM sessions WHERE session_hash = ? AND connected = 1'),
    listByChannel: q('SELECT connection_id FROM sessions WHERE channel = ? AND connected = 1'),
    listAll: q('SELECT connection_id FROM sessions WHERE connected = 1'),
    // One grouped query; NULL (anonymous) sorts first in SQLite, and is split off below.
    presence: q(
      'SELECT user_id AS userId, count(*) AS n FROM sessions WHERE channel = ? AND connected = 1 GROUP BY user_id ORDER BY user_id',
    ),
    countTokens: q('SELECT COUNT(*) AS n FROM tokens WHERE used_at IS NULL AND expires_at > ?'),
    cleanTokens: q('DELETE FROM tokens WHERE created_at < ?'),
    // A bucket still weighs on the estimate for one window after it ends (as "previous").
    cleanRates: q('DELETE FROM rate_limits WHERE window_start + 2 * window_ms < ?'),
    cleanSessions: q('DELETE FROM sessions WHERE connected = 0 AND disconnected_at < ?'),
    // Held unless the held row has expired: the upsert's WHERE leaves a live row alone, and
    // RETURNING then yields nothing.
    claimNonce: q(
      `INSERT INTO nonces (key, expires_at) VALUES (?1, ?2)
       ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE nonces.expires_at <= ?3
       RETURNING 1 AS claimed`,
    ),
    cleanNonces: q('DELETE FROM nonces WHERE expires_at < ?'),
    // The next offset of the channel's stream; a new stream starts at 1 with the given epoch.
    nextSeq: q(
      `INSERT INTO history_streams (channel, epoch, last_seq) VALUES (?1, ?2, 1)
       ON CONFLICT (channel) DO UPDATE SET last_seq = last_seq + 1
       RETURNING epoch, last_seq AS seq`,
    ),
    insertHistory: q('INSERT INTO history (channel, seq, message, created_at) VALUES (?, ?, ?, ?)'),
    trimHistory: q('DELETE FROM history WHERE channel = ?1 AND (seq <= ?2 OR created_at <= ?3)'),
    // One statement, so the stream row and its entries are read as one snapshot.
    readHistory: q(
      `SELECT s.epoch, s.last_seq AS latest, h.seq, h.message, h.created_at AS at
       FROM history_streams s LEFT JOIN history h ON h.channel = s.channel AND h.seq > ?2
       WHERE s.channel = ?1 ORDER BY h.seq`,
    ),
    // Every Nth claim: a bounded delete of expired rows, so the table stays bounded without
    // a cleanup job (the claimed key is left alone: its upsert runs next).
    // Every Nth append: expired rows of all channels (an append trims only its own).
    sweepHistory: q(
      `DELETE FROM history WHERE (channel, seq) IN (
         SELECT channel, seq FROM history WHERE created_at <= ?1 LIMIT ${DEFAULTS.historySweepBatch}
       )`,
    ),
    sweepNonces: q(
      `DELETE FROM nonces WHERE key IN (
         SELECT key FROM nonces WHERE expires_at < ?1 AND key <> ?2 LIMIT ${DEFAULTS.nonceSweepBatch}
       )`,
    ),
  }
  let claims = 0
  let appends = 0

  // Every call: run synchronously, surface any SQLite failure as ERR_STORE_UNAVAILABLE.
  function run<T>(op: string, body: () => T): Promise<T> {
    try {
      return Promise.resolve(body())
    } catch (err) {
      return Promise.reject(storeUnavailable('sqlite', op, err))
    }
  }

  // Prepared like the rest: `db.exec` would parse the SQL on every transaction.
  const tx = { begin: q('BEGIN IMMEDIATE'), commit: q('COMMIT'), rollback: q('ROLLBACK') }

  // Several statements as one unit; BEGIN IMMEDIATE takes the write lock up front so a
  // competing writer makes us wait (busy timeout) at the start, never half-way through.
  // Inside a group-committed batch the batch's transaction is the one: no nested BEGIN.
  function transaction<T>(body: () => T): T {
    if (db.isTransaction) return body()
    tx.begin.run()
    try {
      const out = body()
      tx.commit.run()
      return out
    } catch (err) {
      if (db.isOpen && db.isTransaction) tx.rollback.run()
      throw err
    }
  }

  // The connect writes (hits, token use, session insert) and token inserts of one event-loop
  // turn: one BEGIN IMMEDIATE … COMMIT, one WAL commit for all of them (store/group-commit.ts).
  const batch = groupCommit<void>(
    (bodies) => transaction(() => bodies.map((body) => body())),
    (op, err) => storeUnavailable('sqlite', op, err),
  )
  function write<T>(op: string, body: () => T): Promise<T> {
    return batch.add(op, body)
  }

  function useToken(c: TokenClaim, now: number): ConsumedToken | null {
    const row = st.useToken.get(now, c.hash, c.sessionHash, c.appId, c.userId) as
      | ConsumedToken
      | undefined
    return row === undefined ? null : { userId: row.userId, sessionHash: row.sessionHash }
  }

  // Listings return rows as arrays where node:sqlite can (Node >= 22.16): a fan-out to
  // thousands of connections then allocates no object per row.
  const listings = [st.listById, st.listByUser, st.listBySession, st.listByChannel, st.listAll]
  const asArrays = typeof st.listAll.setReturnArrays === 'function'
  if (asArrays) for (const stmt of listings) stmt.setReturnArrays(true)

  function ids(stmt: StatementSync, ...params: string[]): string[] {
    const rows = stmt.all(...params) as unknown[]
    const out = new Array<string>(rows.length)
    for (let i = 0; i < rows.length; i++) {
      out[i] = asArrays
        ? (rows[i] as [string])[0]
        : (rows[i] as { connection_id: string }).connection_id
    }
    return out
  }

  return {
    // Other processes may open the same file, but the default is one process per file; an
    // app whose processes share a file turns the store-backed replay check on itself.
    shared: false,

    insertToken: (t: TokenRecord) =>
      write('insertToken', () => {
        // Plain INSERT: a duplicate hash fails rather than rebinding a token to someone else.
        st.insertToken.run(t.hash, t.userId, t.sessionHash, t.appId, t.createdAt, t.expiresAt)
      }),

    consumeToken: (claim: TokenClaim, now: number) =>
      write('consumeToken', () => useToken(claim, now)),

    revokeTokens: (owner: { userId: string } | { sessionHash: string }) =>
      run('revokeTokens', () => {
        const res =
          'userId' in owner
            ? st.revokeByUser.run(owner.userId)
            : st.revokeBySession.run(owner.sessionHash)
        return Number(res.changes)
      }),

    hit: (keys: readonly RateKey[], now: number) => {
      // A caller's mistake is refused alone, before it can join (and fail) a batch.
      try {
        validateRateKeys(keys)
      } catch (err) {
        return Promise.reject(err)
      }
      return write('hit', (): RateDecision => {
        const step = (k: RateKey): WindowCounts => {
          if (!charges(k)) {
            // Judged, not counted: the stored counter advanced in memory, nothing written.
            const row = st.peekRate.get(k.key) as StoredRate | undefined
            return advanceCounts(row, now, k.windowMs)
          }
          const start = bucketStart(now, k.windowMs)
          return st.hit.get(k.key, k.windowMs, start) as unknown as WindowCounts
        }
        // Walked in the batch's transaction, stopping at a refusal.
        return hitInOrder(keys, now, step)
      })
    },

    createSession: (s: NewSession, guard?: SessionGuard) =>
      write('createSession', () => {
        const res = st.createSession.run(
          s.connectionId,
          s.userId,
          s.sessionHash,
          s.channel,
          s.connectedAt,
          guard === undefined ? null : guard.tokenHash,
        )
        return Number(res.changes) > 0
      }),

    openSession: (t: UserTokenClaim, n: NewSession, now: number) =>
      write('openSession', () =>
        // In the batch's BEGIN IMMEDIATE … COMMIT. A revocation from another process waits
        // for the write lock, so it runs wholly before (no token row: nothing written) or
        // wholly after (it finds the session).
        transaction((): ConsumedToken | null => {
          const owner = useToken(t, now)
          if (owner === null) return null
          st.createSession.run(
            n.connectionId,
            n.userId,
            n.sessionHash,
            n.channel,
            n.connectedAt,
            null,
          )
          return owner
        }),
      ),

    touchSession: (connectionId: string, now: number) =>
      run('touchSession', () => {
        const row = st.touchSession.get(now, connectionId) as SessionRow | undefined
        return row === undefined ? null : toSession(row)
      }),

    recordActivity: (activity: readonly SessionActivity[]) =>
      run('recordActivity', () => {
        if (activity.length === 0) return
        st.recordActivity.run(
          JSON.stringify(activity.map((a) => [a.connectionId, a.count, a.lastSeenAt])),
        )
      }),

    getSession: (connectionId: string) =>
      run('getSession', () => {
        const row = st.getSession.get(connectionId) as SessionRow | undefined
        return row === undefined ? null : toSession(row)
      }),

    setChannel: (connectionId: string, channel: string | null) =>
      run('setChannel', () => Number(st.setChannel.run(channel, connectionId).changes) > 0),

    markDisconnected: (connectionIds: readonly string[], now: number, connectedBefore?: number) =>
      run('markDisconnected', () => {
        if (connectionIds.length === 0) return 0
        // One statement for any number of ids: the list travels as one JSON parameter.
        const cutoff = connectedBefore ?? Number.MAX_SAFE_INTEGER
        return Number(st.markDisconnected.run(now, cutoff, JSON.stringify(connectionIds)).changes)
      }),

    countTokens: (now: number) =>
      run('countTokens', (): TokenCounts => {
        const row = st.countTokens.get(now) as { n: number | bigint } | undefined
        return { outstanding: Number(row?.n ?? 0) }
      }),

    listConnections: (audience: Audience) =>
      run('listConnections', () => {
        const t = audienceTarget(audience)
        switch (t.kind) {
          case 'all':
            return ids(st.listAll)
          case 'connectionId':
            return ids(st.listById, t.value)
          case 'userId':
            return ids(st.listByUser, t.value)
          case 'sessionHash':
            return ids(st.listBySession, t.value)
          case 'channel':
            return ids(st.listByChannel, t.value)
        }
      }),

    claimNonce: (key: string, expiresAt: number, now: number) =>
      run('claimNonce', () => {
        validateNonce(key, expiresAt, now)
        if (++claims % DEFAULTS.nonceSweepEveryClaims === 0) st.sweepNonces.run(now, key)
        return st.claimNonce.get(key, expiresAt, now) !== undefined
      }),

    appendHistory: (channel: string, message: string, limits: HistoryLimits, now: number) =>
      run('appendHistory', () => {
        validateHistoryLimits(limits, now)
        return transaction((): HistoryPosition => {
          const row = st.nextSeq.get(channel, newEpoch()) as { epoch: string; seq: number }
          st.insertHistory.run(channel, row.seq, message, now)
          st.trimHistory.run(channel, row.seq - limits.size, now - limits.ttlMs)
          if (++appends % DEFAULTS.historySweepEveryAppends === 0) {
            st.sweepHistory.run(now - limits.ttlMs)
          }
          return { offset: row.seq, epoch: row.epoch }
        })
      }),

    readHistory: (channel: string, since: number, limits: HistoryLimits, now: number) =>
      run('readHistory', () => {
        validateHistoryLimits(limits, now)
        validateSince(since)
        const rows = st.readHistory.all(channel, since) as unknown as HistoryRow[]
        if (rows.length === 0) return readOf(null, 0, [], since, limits, now)
        const entries: HistoryEntry[] = []
        for (const r of rows) {
          if (r.seq !== null) entries.push({ offset: r.seq, message: r.message!, at: r.at! })
        }
        return readOf(rows[0]!.epoch, rows[0]!.latest, entries, since, limits, now)
      }),

    channelPresence: (channel: string) =>
      run('channelPresence', (): ChannelPresence => {
        const rows = st.presence.all(channel) as { userId: string | null; n: number }[]
        return presenceOf(channel, rows)
      }),

    cleanup: (c: CleanupCutoffs) =>
      run(
        'cleanup',
        (): CleanupResult =>
          transaction(() => ({
            tokens: Number(st.cleanTokens.run(c.tokensCreatedBefore).changes),
            rateLimits: Number(st.cleanRates.run(c.rateLimitsBefore).changes),
            sessions: Number(st.cleanSessions.run(c.sessionsDisconnectedBefore).changes),
            nonces: Number(st.cleanNonces.run(c.noncesExpiredBefore).changes),
          })),
      ),

    close: async () => {
      // Queued writes commit first: a caller awaiting one is answered, not left hanging.
      await batch.drain()
      return run('close', () => {
        if (db.isOpen) db.close()
      })
    },
  }
}

/** A row of the history read: the stream, and one entry or none (the LEFT JOIN). */
interface HistoryRow {
  readonly epoch: string
  readonly latest: number
  readonly seq: number | null
  readonly message: string | null
  readonly at: number | null
}

// Grouped rows (user or NULL, count) as a ChannelPresence; the SQL stores share the shape.
function presenceOf(
  channel: string,
  rows: readonly { userId: string | null; n: number | string }[],
): ChannelPresence {
  let anonymous = 0
  const members: { userId: string; connections: number }[] = []
  for (const r of rows) {
    if (r.userId === null) anonymous += Number(r.n)
    else members.push({ userId: r.userId, connections: Number(r.n) })
  }
  // Code-unit order on every store, whatever the database collation says.
  members.sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0))
  return { channel, members, anonymous }
}

function toSession(r: SessionRow): SessionRecord {
  return {
    connectionId: r.connection_id,
    userId: r.user_id,
    sessionHash: r.session_hash,
    channel: r.channel,
    connected: r.connected === 1,
    requestCount: r.request_count,
    connectedAt: r.connected_at,
    lastSeenAt: r.last_seen_at,
    disconnectedAt: r.disconnected_at,
  }
}
