/**
 * @module store/postgres-hit
 * `Store.hit` on PostgreSQL as one statement, whatever the number of keys: a chain of CTEs,
 * one per key in the given order, each running only when the key before it passed. A key
 * that charges is an upsert (the step of `limits/sliding-window.ts` `advanceCounts`); a key
 * with `charge: false` is a read that advances the counts without writing. The statement
 * returns the counts of every key it visited; the caller judges them in the same order with
 * the same arithmetic, so both stop at the same key.
 *
 * Keys are visited in the caller's order, not sorted: two calls that list the same two
 * charged keys in opposite orders could deadlock, and PostgreSQL would then fail one of them
 * (a 503, never an "allow"). Gatehouse's own callers list keys in one fixed order.
 */

/**
 * The statement for keys whose charge flags are `charges`, on tables in schema `s` (quoted).
 * Parameters: `$1` now, then per key its name, window ms, bucket start and limit. Rows:
 * `i` (1-based key index), `window_start`, `count`, `prev_count`, in key order.
 *
 * @example
 * ```ts
 * const text = postgresHitSql('"gatehouse"', [false, true]) // peek the IP, charge the user
 * await db.query(text, [now, ipKey, 60_000, start, 20, userKey, 60_000, start, 20])
 * ```
 */
export function postgresHitSql(s: string, charges: readonly boolean[]): string {
  const steps: string[] = []
  const picks: string[] = []
  charges.forEach((charge, index) => {
    const i = index + 1
    const base = 1 + index * 4
    const k = `$${base + 1}::text`
    const w = `$${base + 2}::bigint`
    const ws = `$${base + 3}::bigint`
    steps.push(`s${i} AS (${charge ? upsert(s, k, w, ws, guard(i)) : peek(s, k, w, ws, guard(i))})`)
    // The limit is read by the next key's guard; naming it here too gives every parameter
    // a use (PostgreSQL cannot type a parameter no expression mentions).
    const limit = `$${base + 4}::bigint`
    picks.push(`SELECT ${i} AS i, window_start, count, prev_count, ${limit} AS lim FROM s${i}`)
  })
  return `WITH ${steps.join(',\n')}\n${picks.join('\nUNION ALL\n')}\nORDER BY i`
}

// Step i runs only if step i - 1 returned a row that passes its limit (the inequality of
// sliding-window.ts `judge`, in integers). Step i - 1 has a row only if it ran, so this one
// condition covers every key before it.
function guard(i: number): string {
  // The first key always runs; `$1` (now) is named so that a one-key call still types it.
  if (i === 1) return '$1::bigint IS NOT NULL'
  const base = 1 + (i - 2) * 4
  const w = `$${base + 2}::bigint`
  const limit = `$${base + 4}::bigint`
  return `EXISTS (SELECT 1 FROM s${i - 1} p WHERE
      p.prev_count * (${w} - least(greatest($1::bigint - p.window_start, 0), ${w}))
        + p.count * ${w} <= ${limit} * ${w})`
}

function upsert(s: string, k: string, w: string, ws: string, when: string): string {
  return `INSERT INTO ${s}.rate_limits AS r (key, window_ms, window_start, count, prev_count)
      SELECT ${k}, ${w}, ${ws}, 1, 0 WHERE ${when}
      ON CONFLICT (key) DO UPDATE SET
        prev_count = CASE
          WHEN r.window_ms <> excluded.window_ms THEN 0
          WHEN r.window_start >= excluded.window_start THEN r.prev_count
          WHEN r.window_start = excluded.window_start - excluded.window_ms THEN r.count
          ELSE 0 END,
        count = CASE
          WHEN r.window_ms <> excluded.window_ms THEN 1
          WHEN r.window_start >= excluded.window_start THEN r.count + 1
          ELSE 1 END,
        window_start = CASE
          WHEN r.window_ms <> excluded.window_ms THEN excluded.window_start
          ELSE greatest(r.window_start, excluded.window_start) END,
        window_ms = excluded.window_ms
      RETURNING r.window_start, r.count, r.prev_count`
}

function peek(s: string, k: string, w: string, ws: string, when: string): string {
  const fresh = `r.key IS NULL OR r.window_ms <> ${w}`
  return `SELECT
        CASE WHEN ${fresh} THEN ${ws} WHEN r.window_start >= ${ws} THEN r.window_start
          ELSE ${ws} END AS window_start,
        CASE WHEN ${fresh} THEN 1 WHEN r.window_start >= ${ws} THEN r.count + 1
          ELSE 1 END AS count,
        CASE WHEN ${fresh} THEN 0 WHEN r.window_start >= ${ws} THEN r.prev_count
          WHEN r.window_start = ${ws} - ${w} THEN r.count ELSE 0 END AS prev_count
      FROM (SELECT 1) AS one LEFT JOIN ${s}.rate_limits r ON r.key = ${k}
      WHERE ${when}`
}
