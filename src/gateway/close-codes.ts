/**
 * @module gateway/close-codes
 * Every close code the bundled gateway uses, with its reason, in one table: what a client
 * sees in its close event and what `$disconnect` reports. `docs/errors.md` lists each code,
 * and a test fails when the two disagree. No import, so every gateway module can use it.
 */

/**
 * Close codes and reasons the gateway uses. Codes 1002, 1006 and 1007 are never sent by the
 * gateway itself: `ws` closes after a protocol error (1002) or invalid UTF-8 (1007), and 1006
 * is what `$disconnect` reports for a socket that ended without a close frame.
 *
 * @example
 * ```ts
 * closeConnection(conn, CLOSE.normal.code, CLOSE.normal.reason)
 * ```
 */
export const CLOSE = Object.freeze({
  normal: { code: 1000, reason: 'Connection Closed Normally' },
  goingAway: { code: 1001, reason: 'Going away' },
  protocolError: { code: 1002, reason: '' },
  binary: { code: 1003, reason: 'Binary frames are not supported' },
  abnormal: { code: 1006, reason: '' },
  pongTimeout: { code: 1006, reason: 'Pong timeout' },
  /** What `$disconnect` reports for a `$connect` the app accepted after the client got 504. */
  connectTimedOut: { code: 1006, reason: 'Connect timed out' },
  /** What `$disconnect` reports for the sessions of a cluster node that died (sent by a survivor). */
  nodeLost: { code: 1006, reason: 'Gateway node lost' },
  invalidUtf8: { code: 1007, reason: '' },
  rate: { code: 1008, reason: 'Rate limit exceeded' },
  slow: { code: 1008, reason: 'Slow consumer' },
  tooManyParts: { code: 1008, reason: '' },
  frameTooLarge: { code: 1009, reason: 'Frame too large' },
  messageTooLarge: { code: 1009, reason: '' },
  /** A cluster node lost its registration (declared dead, or its slot lost): it rejoins anew. */
  nodeRejoined: { code: 1012, reason: 'Gateway node rejoined' },
} as const)
