/**
 * @module logger
 * The logger shape Gatehouse writes to (pino's), a no-op default, and a pino factory with
 * the redaction every security log needs. Tokens, cookies and `ws_token` never reach a line.
 */
import pino from 'pino'

/** A structured log call: an object of fields, then a message. */
export type LogFn = (fields: Record<string, unknown>, msg?: string) => void

/**
 * What Gatehouse logs to. pino satisfies it as is.
 *
 * @example
 * ```ts
 * const app = createApp({ store, logger: pino() })
 * ```
 */
export interface Logger {
  debug: LogFn
  info: LogFn
  warn: LogFn
  error: LogFn
}

const noop: LogFn = () => {}

/**
 * A logger that drops everything (the library default: logging is the host's choice).
 *
 * @example
 * ```ts
 * createApp({ store, logger: silentLogger })
 * ```
 */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop }

/**
 * Field names whose values never reach a log line, at any depth and in any letter case:
 * tokens, cookies, CSRF values, signatures, secrets, and the raw handshake query.
 *
 * @example
 * ```ts
 * SENSITIVE_FIELDS.has('cookie') // true
 * ```
 */
export const SENSITIVE_FIELDS: ReadonlySet<string> = new Set([
  'token',
  'ws_token',
  'cookie',
  'set-cookie',
  'authorization',
  'x-csrftoken',
  'csrftoken',
  'sec-websocket-protocol',
  'x-gatehouse-signature',
  'x-gatehouse-secret',
  'x-amz-security-token',
  'secret',
  'staticsecret',
  'gatewaysecret',
  'secretaccesskey',
  // AWS credentials: the STS session token is a bearer secret; a key id is not, but it
  // names the key and costs nothing to hide.
  'sessiontoken',
  'accesskeyid',
  'password',
  'sessionid',
  'sessionid_hash',
  'query',
  'rawquery',
])

const CENSOR = '[redacted]'
const MAX_DEPTH = 8

/**
 * A copy of `value` safe to log: sensitive fields censored at any depth (a `GatewayEvent`
 * logged whole by a hook included), and any `ws_token=` in any string removed. Depth is
 * bounded so a hostile structure cannot make logging expensive.
 *
 * @example
 * ```ts
 * redactFields({ event: { headers: { cookie: 'sessionid=s' }, rawQuery: 'ws_token=t' } })
 * // { event: { headers: { cookie: '[redacted]' }, rawQuery: '[redacted]' } }
 * ```
 */
export function redactFields(value: unknown, depth = 0): unknown {
  return walk(value, depth, DEFAULT_REDACTION)
}

/** What a walk censors: field names and query parameter names, both lower-case. */
interface Redaction {
  readonly fields: ReadonlySet<string>
  readonly params: ReadonlySet<string>
  /** Parameters beyond the defaults: every `name=value` string is then scanned. */
  readonly customParams: boolean
}

function walk(value: unknown, depth: number, r: Redaction): unknown {
  if (typeof value === 'string') return mayHoldQueryToken(value, r) ? scrubQuery(value, r) : value
  if (value === null || typeof value !== 'object') return value
  if (depth >= MAX_DEPTH) return '[…]'
  if (Array.isArray(value)) return value.map((v) => walk(v, depth + 1, r))
  if (value instanceof Error) return redactError(value, depth, r)
  const out: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(value)) {
    out[key] = isSensitiveName(key, r) ? CENSOR : walk(v, depth + 1, r)
  }
  return out
}

/**
 * An error as a log field: `type`, `message`, `stack`, `code` and `cause` kept (they are
 * own, non-enumerable properties that a plain copy drops, which left `"err":{}` on every
 * failure line), the rest of its own fields walked like any object, secrets redacted.
 */
function redactError(err: Error, depth: number, r: Redaction): Record<string, unknown> {
  const out: Record<string, unknown> = {
    type: err.name,
    message: walk(err.message, depth + 1, r),
  }
  for (const [key, v] of Object.entries(err)) {
    out[key] = isSensitiveName(key, r) ? CENSOR : walk(v, depth + 1, r)
  }
  if (typeof err.stack === 'string') out.stack = walk(err.stack, depth + 1, r)
  if (err.cause !== undefined) out.cause = walk(err.cause, depth + 1, r)
  if (err instanceof AggregateError) out.errors = walk(err.errors, depth + 1, r)
  return out
}

/**
 * A redactor that also censors an app's own credential names (a custom `csrfHeaderName`,
 * `csrfCookieName` or `tokenQueryParam`): as field names, and `queryParams` also inside
 * any `name=value` string. Names are compared lower-cased and percent-decoded.
 *
 * @example
 * ```ts
 * const redact = createRedactor({ fields: ['x-my-csrf'], queryParams: ['t'] })
 * redact({ headers: { 'X-My-Csrf': 'abc' }, url: '/ws?t=tok' })
 * // { headers: { 'X-My-Csrf': '[redacted]' }, url: '/ws?t=[redacted]' }
 * ```
 */
export function createRedactor(
  extra: { readonly fields?: Iterable<string>; readonly queryParams?: Iterable<string> } = {},
): (value: unknown) => unknown {
  const r = extendRedaction(extra)
  return (value) => walk(value, 0, r)
}

function extendRedaction(extra: {
  readonly fields?: Iterable<string>
  readonly queryParams?: Iterable<string>
}): Redaction {
  const params = new Set(TOKEN_PARAMS)
  for (const p of extra.queryParams ?? []) params.add(p.toLowerCase())
  const fields = new Set(SENSITIVE_FIELDS)
  for (const f of extra.fields ?? []) fields.add(f.toLowerCase())
  for (const p of params) fields.add(p)
  return { fields, params, customParams: params.size > TOKEN_PARAMS.size }
}

/**
 * `logger` with an app's own credential names censored too (see {@link createRedactor}),
 * before its own redaction runs. Returns `logger` itself when every name is a default.
 *
 * @example
 * ```ts
 * const logger = withRedaction(createLogger(), { fields: ['x-my-csrf'], queryParams: ['t'] })
 * logger.info({ url: '/ws?t=tok' }) // …"url":"/ws?t=[redacted]"…
 * ```
 */
export function withRedaction(
  logger: Logger,
  extra: { readonly fields?: Iterable<string>; readonly queryParams?: Iterable<string> },
): Logger {
  const r = extendRedaction(extra)
  if (r.fields.size === SENSITIVE_FIELDS.size && !r.customParams) {
    return logger
  }
  const wrap =
    (fn: LogFn): LogFn =>
    (fields, msg) =>
      fn(walk(fields, 0, r) as Record<string, unknown>, msg)
  return {
    debug: wrap(logger.debug.bind(logger)),
    info: wrap(logger.info.bind(logger)),
    warn: wrap(logger.warn.bind(logger)),
    error: wrap(logger.error.bind(logger)),
  }
}

/**
 * True when a field or parameter name is sensitive once percent-decoded and lower-cased:
 * a query parser decodes `ws%5Ftoken` to `ws_token`, so the log must see the same name.
 */
function isSensitiveName(name: string, r: Redaction): boolean {
  return r.fields.has(decodeName(name).toLowerCase())
}

/**
 * A parameter name as `URLSearchParams` reads it: `+` is a space, `%XX` a byte, malformed
 * escapes kept as written. Names without `%` or `+` are returned as they are (the common case).
 */
function decodeName(name: string): string {
  if (!name.includes('%') && !name.includes('+')) return name
  const spaced = name.replace(/\+/g, ' ')
  try {
    return decodeURIComponent(spaced)
  } catch {
    // A stray `%` (or an invalid UTF-8 sequence): decode the escapes that are whole.
    return spaced.replace(/%[0-9A-Fa-f]{2}/g, (hex) =>
      String.fromCharCode(Number.parseInt(hex.slice(1), 16)),
    )
  }
}

/** Cheap pre-test of a string before the query scan: a parameter, and a token or an escape. */
function mayHoldQueryToken(value: string, r: Redaction): boolean {
  return value.includes('=') && (r.customParams || value.includes('%') || /token/i.test(value))
}

/**
 * A pino logger with Gatehouse's redaction on.
 *
 * @example
 * ```ts
 * const logger = createLogger({ level: 'info' })
 * logger.warn({ reason: 'origin' }, 'connect rejected') // {"level":40,...,"reason":"origin",...}
 * ```
 */
export function createLogger(
  options: { level?: string; destination?: NodeJS.WritableStream | pino.DestinationStream } = {},
): Logger {
  const opts: pino.LoggerOptions = {
    level: options.level ?? 'info',
    // Every field passes through the walker, wherever a caller put a token or a cookie.
    formatters: { log: (fields) => redactFields(fields) as Record<string, unknown> },
    // pino serialises `err` after the formatter; the walker already turned errors into
    // plain fields, and pino's serializer would re-read those as an error of type Object.
    serializers: { err: (value: unknown) => value },
    base: { name: 'gatehouse' },
  }
  return options.destination
    ? pino(opts, options.destination as pino.DestinationStream)
    : pino(opts)
}

/** One query parameter: its separator (or the start), its name as written, its value. */
const QUERY_PARAM = /(^|[?&;\s])([^=&#?;\s]*)=([^&#;\s]*)/g
/** Parameter names whose values are credentials, compared decoded and lower-cased. */
const TOKEN_PARAMS: ReadonlySet<string> = new Set(['ws_token', 'token'])
const DEFAULT_REDACTION: Redaction = {
  fields: SENSITIVE_FIELDS,
  params: TOKEN_PARAMS,
  customParams: false,
}

/**
 * A URL or query string with the value of every `ws_token` (or `token`) parameter replaced,
 * safe to log. Names are compared percent-decoded, as the app's query parser reads them, so
 * `?ws%5Ftoken=` and `?ws_tok%65n=` are redacted like `?ws_token=`.
 *
 * @example
 * ```ts
 * redactUrl('/?ws_token=abc&channel=x') // '/?ws_token=[redacted]&channel=x'
 * redactUrl('/?ws%5Ftoken=abc')         // '/?ws%5Ftoken=[redacted]'
 * ```
 */
export function redactUrl(url: string): string {
  return scrubQuery(url, DEFAULT_REDACTION)
}

function scrubQuery(url: string, r: Redaction): string {
  return url.replace(QUERY_PARAM, (whole, sep: string, name: string) =>
    r.params.has(decodeName(name).toLowerCase()) ? `${sep}${name}=${CENSOR}` : whole,
  )
}

/**
 * An attacker-supplied string made safe for a log field: control characters escaped,
 * length capped, so one field cannot forge or flood log lines.
 *
 * @example
 * ```ts
 * logSafe('x\n{"level":60}') // 'x\\n{"level":60}'
 * ```
 */
export function logSafe(value: unknown, max = 200): string {
  const s = typeof value === 'string' ? value : String(value)
  const escaped = s.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping them is the point
    /[\u0000-\u001f\u007f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  )
  return escaped.length > max ? `${escaped.slice(0, max)}…` : escaped
}
