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
  'secretaccesskey',
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
  if (typeof value === 'string') return value.includes('token=') ? redactUrl(value) : value
  if (value === null || typeof value !== 'object') return value
  if (depth >= MAX_DEPTH) return '[…]'
  if (Array.isArray(value)) return value.map((v) => redactFields(v, depth + 1))
  if (value instanceof Error) return redactError(value, depth)
  const out: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(value)) {
    out[key] = SENSITIVE_FIELDS.has(key.toLowerCase()) ? CENSOR : redactFields(v, depth + 1)
  }
  return out
}

/**
 * An error as a log field: `type`, `message`, `stack`, `code` and `cause` kept (they are
 * own, non-enumerable properties that a plain copy drops, which left `"err":{}` on every
 * failure line), the rest of its own fields walked like any object, secrets redacted.
 */
function redactError(err: Error, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {
    type: err.name,
    message: redactFields(err.message, depth + 1),
  }
  for (const [key, v] of Object.entries(err)) {
    out[key] = SENSITIVE_FIELDS.has(key.toLowerCase()) ? CENSOR : redactFields(v, depth + 1)
  }
  if (typeof err.stack === 'string') out.stack = redactFields(err.stack, depth + 1)
  if (err.cause !== undefined) out.cause = redactFields(err.cause, depth + 1)
  if (err instanceof AggregateError) out.errors = redactFields(err.errors, depth + 1)
  return out
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

const TOKEN_IN_QUERY = /([?&](?:ws_token|token)=)[^&#\s]*/gi

/**
 * A URL or query string with any `ws_token` value replaced, safe to log.
 *
 * @example
 * ```ts
 * redactUrl('/?ws_token=abc&channel=x') // '/?ws_token=[redacted]&channel=x'
 * ```
 */
export function redactUrl(url: string): string {
  return url.replace(TOKEN_IN_QUERY, '$1[redacted]')
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
