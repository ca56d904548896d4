/**
 * @module events/headers
 * Header hygiene shared by the codecs that forward a client's handshake headers (the HTTP
 * integration request and the Lambda event). The gateway, not the client, owns every header
 * that says where a call came from: a client-sent `X-Forwarded-For`, `connectionId`,
 * `X-Amzn-*` or `x-gatehouse-*` is dropped, and the gateway writes its own.
 */

/**
 * RFC 9110 `token` (§5.6.2): the only characters a header name, a cookie name or a
 * `Sec-WebSocket-Protocol` entry may hold. The one copy of this pattern in the project.
 *
 * @example
 * ```ts
 * HTTP_TOKEN.test('gatehouse.v1') // true
 * HTTP_TOKEN.test('a b') // false
 * ```
 */
export const HTTP_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
/** A field value Node will write as is: no CR, LF, NUL or other control character. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/

/** Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection and never travel on. */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
])

/** Headers the gateway sets itself, so a client's copy must never pass through. */
const GATEWAY_OWNED: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'forwarded',
  'x-real-ip',
  'connectionid',
  'via',
])
const GATEWAY_OWNED_PREFIXES: readonly string[] = ['x-forwarded-', 'x-amzn-', 'x-gatehouse-']

/**
 * True when `name` is a syntactically valid header name.
 *
 * @example
 * ```ts
 * isHeaderName('X-Custom') // true
 * isHeaderName('Bad Name') // false
 * ```
 */
export function isHeaderName(name: string): boolean {
  return HTTP_TOKEN.test(name)
}

/**
 * True when `value` is a non-empty RFC 9110 token ({@link HTTP_TOKEN}).
 *
 * @example
 * ```ts
 * isHttpToken('gatehouse.v1') // true
 * isHttpToken('') // false
 * ```
 */
export function isHttpToken(value: string): boolean {
  return HTTP_TOKEN.test(value)
}

/**
 * True when `value` can be written as a header value without splitting the header block
 * (no CR, LF, NUL or other control characters; nothing above U+00FF).
 *
 * @example
 * ```ts
 * isHeaderValue('text/html') // true
 * isHeaderValue('a\r\nSet-Cookie: x=1') // false
 * ```
 */
export function isHeaderValue(value: string): boolean {
  return FIELD_VALUE.test(value)
}

/**
 * True when the gateway owns this header (lower-case name): routing and identity headers the
 * client must not be able to set (`X-Forwarded-*`, `Forwarded`, `X-Real-Ip`, `connectionId`,
 * `X-Amzn-*`, `x-gatehouse-*`, `Host`, `Content-Length`, `Via`).
 *
 * @example
 * ```ts
 * isGatewayOwnedHeader('x-forwarded-for') // true
 * isGatewayOwnedHeader('cookie') // false
 * ```
 */
export function isGatewayOwnedHeader(lowerName: string): boolean {
  if (GATEWAY_OWNED.has(lowerName)) return true
  return GATEWAY_OWNED_PREFIXES.some((prefix) => lowerName.startsWith(prefix))
}

/**
 * The client handshake headers that may travel on to the app, in their original casing and
 * order, as `[name, value]` pairs (a header sent twice stays two pairs).
 *
 * `source` is either Node's flat `rawHeaders` list (`[name, value, name, value, …]`, which
 * keeps the client's casing) or a record of already lower-cased headers. Dropped: invalid
 * names or values (CR/LF injection), hop-by-hop headers and any header a `Connection` header
 * nominates, and every header the gateway owns ({@link isGatewayOwnedHeader}).
 *
 * @example
 * ```ts
 * forwardableClientHeaders(req.rawHeaders)
 * // [['Cookie', 'sid=1'], ['Origin', 'https://app.example'], ['Sec-WebSocket-Key', '…'], …]
 * ```
 */
export function forwardableClientHeaders(
  source: readonly string[] | Readonly<Record<string, string>>,
): Array<[string, string]> {
  const pairs = toPairs(source)
  const nominated = new Set<string>()
  for (const [name, value] of pairs) {
    if (name.toLowerCase() !== 'connection') continue
    for (const token of value.split(',')) {
      const lower = token.trim().toLowerCase()
      if (lower !== '') nominated.add(lower)
    }
  }
  const out: Array<[string, string]> = []
  for (const [name, value] of pairs) {
    if (!isHeaderName(name) || !isHeaderValue(value)) continue
    const lower = name.toLowerCase()
    if (HOP_BY_HOP.has(lower) || nominated.has(lower) || isGatewayOwnedHeader(lower)) continue
    out.push([name, value])
  }
  return out
}

/**
 * Join two values of a repeated header the way Fetch `Headers` does: `Cookie` with `"; "`
 * (RFC 6265 allows one cookie line), every other name with `", "` (RFC 9110 §5.3).
 *
 * @example
 * ```ts
 * joinHeaderValues('cookie', 'a=1', 'b=2') // 'a=1; b=2'
 * joinHeaderValues('accept', 'text/html', 'application/json') // 'text/html, application/json'
 * ```
 */
export function joinHeaderValues(lowerName: string, first: string, second: string): string {
  return `${first}${lowerName === 'cookie' ? '; ' : ', '}${second}`
}

/**
 * Fold repeated headers into one line each, at the first one's place and casing, joined as
 * {@link joinHeaderValues} does. What travels is then what any Fetch implementation shows
 * the app, whatever its own rule for repeats — which the request signature relies on.
 *
 * @example
 * ```ts
 * joinRepeatedHeaders([['Cookie', 'a=1'], ['Origin', 'o'], ['cookie', 'b=2']])
 * // [['Cookie', 'a=1; b=2'], ['Origin', 'o']]
 * ```
 */
export function joinRepeatedHeaders(
  pairs: ReadonlyArray<readonly [string, string]>,
): Array<[string, string]> {
  const out: Array<[string, string]> = []
  const at = new Map<string, number>()
  for (const [name, value] of pairs) {
    const lower = name.toLowerCase()
    const index = at.get(lower)
    const entry = index === undefined ? undefined : out[index]
    if (entry === undefined) {
      at.set(lower, out.length)
      out.push([name, value])
    } else {
      entry[1] = joinHeaderValues(lower, entry[1], value)
    }
  }
  return out
}

function toPairs(
  source: readonly string[] | Readonly<Record<string, string>>,
): Array<[string, string]> {
  const pairs: Array<[string, string]> = []
  if (Array.isArray(source)) {
    const flat = source as readonly string[]
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const name = flat[i]
      const value = flat[i + 1]
      if (typeof name === 'string' && typeof value === 'string') pairs.push([name, value])
    }
    return pairs
  }
  const record = source as Readonly<Record<string, string>>
  for (const name of Object.keys(record)) {
    const value = record[name]
    if (typeof value === 'string') pairs.push([name, value])
  }
  return pairs
}

/** Leading and trailing HTTP whitespace, which Fetch `Headers` strips from values. */
const OUTER_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g

/**
 * A header value as Fetch `Headers` keeps it: without leading or trailing HTTP whitespace.
 *
 * @example
 * ```ts
 * trimHeaderValue(' a=1 ') // 'a=1'
 * ```
 */
export function trimHeaderValue(value: string): string {
  const first = value.charCodeAt(0)
  const last = value.charCodeAt(value.length - 1)
  const edge = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d
  return value !== '' && (edge(first) || edge(last)) ? value.replace(OUTER_WHITESPACE, '') : value
}

/**
 * A fresh object without a prototype, so keys such as `__proto__` or `constructor` from
 * hostile input are plain own keys and nothing is inherited.
 *
 * @example
 * ```ts
 * const query = nullRecord<string>()
 * query.__proto__ = 'x' // an own key, the prototype is untouched
 * ```
 */
export function nullRecord<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>
}
