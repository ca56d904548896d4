/**
 * @module push/fanout-wire
 * The body of the bundled gateway's fan-out call, `POST /{stage}/@connections` with header
 * `x-gatehouse-fanout: 1`: one line of comma-separated connection ids, a `\n`, then the raw
 * message bytes. Ids cannot contain `,` or `\n` (they match `^[A-Za-z0-9_=-]{1,128}$`), so the
 * split is unambiguous, and the data is never escaped, re-encoded or copied per recipient.
 */

/** The header that marks a fan-out call (value `1`). */
export const FANOUT_HEADER = 'x-gatehouse-fanout'

/** Most ids one fan-out call may carry; clients split larger audiences into batches. */
export const FANOUT_MAX_IDS = 10_000

/** Longest id (bytes) plus its comma, for the size of the ids line. */
const MAX_ID_LINE_BYTES_PER_ID = 129

const NEWLINE = 0x0a
const encoder = new TextEncoder()

/**
 * Largest fan-out body the server reads: the ids line for `maxIds` ids, the newline, and at
 * most `maxPayloadBytes` of data.
 *
 * @example
 * ```ts
 * fanoutBodyLimit(131072) // 1_421_073
 * ```
 */
export function fanoutBodyLimit(maxPayloadBytes: number, maxIds = FANOUT_MAX_IDS): number {
  return maxIds * MAX_ID_LINE_BYTES_PER_ID + 1 + maxPayloadBytes
}

/**
 * Encode a fan-out body: the ids line, then the data (copied once for the whole batch).
 *
 * @example
 * ```ts
 * encodeFanout(['a=', 'b='], '{"x":1}') // bytes of 'a=,b=\n{"x":1}'
 * ```
 */
export function encodeFanout(ids: readonly string[], data: string | Uint8Array): Uint8Array {
  const head = encoder.encode(`${ids.join(',')}\n`)
  const bytes = typeof data === 'string' ? encoder.encode(data) : data
  const out = new Uint8Array(head.byteLength + bytes.byteLength)
  out.set(head, 0)
  out.set(bytes, head.byteLength)
  return out
}

/** A decoded fan-out body; `data` is a view into the request body, not a copy. */
export interface FanoutBody {
  readonly ids: readonly string[]
  readonly data: Uint8Array
}

/**
 * Decode a fan-out body, or `null` when it has no ids line. Ids are returned as sent; the
 * caller validates each one. An empty ids line yields no ids.
 *
 * @example
 * ```ts
 * decodeFanout(new TextEncoder().encode('a=,b=\nhi')) // { ids: ['a=', 'b='], data: <'hi'> }
 * ```
 */
export function decodeFanout(body: Uint8Array): FanoutBody | null {
  const nl = body.indexOf(NEWLINE)
  if (nl < 0) return null
  const line = Buffer.from(body.buffer, body.byteOffset, nl).toString('latin1')
  const ids = line === '' ? [] : line.split(',')
  return { ids, data: body.subarray(nl + 1) }
}
