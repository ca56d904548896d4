/**
 * @module gateway/sweep
 * Liveness and lifetime limits of every connection, checked by one timer for the whole
 * gateway instead of timers per connection (a 100 000-socket gateway keeps one timer, and a
 * pass is a loop over a Map).
 *
 * - idle: no data frame in either direction for `idleTimeoutMs` → close 1001 (pings and pongs
 *   do not count, as on AWS: keep-alive must be data);
 * - lifetime: open for `maxConnectionMs` → close 1001;
 * - heartbeat: a ping every `pingIntervalMs`; no pong within `pongTimeoutMs` → terminate (a
 *   dead peer cannot answer a close frame), `$disconnect` reports 1006.
 *
 * Limits are enforced with the sweep's resolution: a connection closes at most
 * `sweepIntervalMs` after its limit passed.
 */
import { CLOSE, closeConnection, isOpen, type Runtime, terminateConnection } from './runtime.ts'

/**
 * One pass over every connection at time `now`.
 *
 * @example
 * ```ts
 * sweep(rt, clock.now()) // what the gateway's timer does every sweepIntervalMs
 * ```
 */
export function sweep(rt: Runtime, now: number): void {
  const o = rt.options
  for (const conn of rt.table.values()) {
    if (!isOpen(conn)) continue
    if (now - conn.identity.connectedAt >= o.maxConnectionMs) {
      closeConnection(conn, CLOSE.goingAway.code, CLOSE.goingAway.reason)
      continue
    }
    if (now - conn.lastActiveAt >= o.idleTimeoutMs) {
      closeConnection(conn, CLOSE.goingAway.code, CLOSE.goingAway.reason)
      continue
    }
    if (conn.pingSentAt !== 0) {
      if (now - conn.pingSentAt >= o.pongTimeoutMs) {
        rt.options.logger.info(
          { event: 'pong_timeout', connectionId: conn.id },
          'pong timeout: terminating',
        )
        terminateConnection(conn, CLOSE.pongTimeout.code, CLOSE.pongTimeout.reason)
      }
      continue
    }
    if (now - conn.lastPingAt >= o.pingIntervalMs) {
      conn.pingSentAt = now
      conn.lastPingAt = now
      conn.ws.ping()
    }
  }
}

/**
 * Start the gateway's one sweep timer (unref'd: it never keeps the process alive).
 *
 * @example
 * ```ts
 * const stop = startSweep(rt)
 * stop() // on close
 * ```
 */
export function startSweep(rt: Runtime): () => void {
  const timer = setInterval(() => sweep(rt, rt.options.clock.now()), rt.options.sweepIntervalMs)
  timer.unref()
  return () => clearInterval(timer)
}
