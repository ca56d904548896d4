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
 * Field paths pino censors, wherever a token, cookie or secret could appear.
 *
 * @example
 * ```ts
 * pino({ redact: { paths: [...REDACT_PATHS], censor: '[redacted]' } })
 * ```
 */
export const REDACT_PATHS: readonly string[] = [
  'token',
  'ws_token',
  '*.token',
  '*.ws_token',
  'headers.cookie',
  'headers.Cookie',
  'headers["sec-websocket-protocol"]',
  'headers["Sec-WebSocket-Protocol"]',
  'headers["x-csrftoken"]',
  'headers.authorization',
  'headers["x-gatehouse-signature"]',
  'query.ws_token',
  '*.headers.cookie',
  '*.query.ws_token',
  'secret',
  '*.secret',
]

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
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
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
