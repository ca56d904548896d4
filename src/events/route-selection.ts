/**
 * @module events/route-selection
 * API Gateway's route selection: evaluate the API's `RouteSelectionExpression` against a
 * message body, stringify the result and match it exactly (case-sensitively) against the
 * route keys. Supported expressions:
 *
 * - `$request.body.<path>`, e.g. `$request.body.action` or `$request.body.meta.kind`;
 * - templates mixing text and `${request.body.<path>}`, e.g.
 *   `${request.body.service}/${request.body.action}` → `chat/join`;
 * - static text, with `\$` for a literal `$` (`\$default` sends everything to `$default`).
 *
 * Paths are dot-separated names, `[n]` array indexes and `['name']` / `["name"]` keys.
 * Only own properties of parsed objects are read, so `__proto__`, `constructor` and
 * `toString` resolve to nothing, like any missing key. A message can never select
 * `$connect` or `$disconnect`.
 */
import { DEFAULTS } from '../defaults.ts'
import { GatehouseError } from '../errors.ts'

type Step = string | number
type Part = { readonly text: string } | { readonly path: readonly Step[] }

/** A compiled expression: the selected value, or `undefined` when the body is not JSON. */
export type RouteExpression = (body: string | undefined) => string | undefined

const NAME = /^[^.[\]{}$\s'"\\]+/
const compiled = new Map<string, RouteExpression>()
const MAX_CACHED = 64

/**
 * Compile a route selection expression once (what {@link selectRoute} does and caches).
 * The result evaluates a body to the stringified selection value: unresolved paths give
 * `""`, arrays give `[a, b]`, and a body that is not JSON gives `undefined`.
 *
 * @throws GatehouseError `ERR_INVALID_OPTION` when the expression cannot be parsed.
 * @example
 * ```ts
 * const evaluate = compileRouteExpression('${request.body.service}/${request.body.action}')
 * evaluate('{"service":"chat","action":"join"}') // 'chat/join'
 * evaluate('not json') // undefined
 * ```
 */
export function compileRouteExpression(expression: string): RouteExpression {
  const parts = parseExpression(expression)
  return (body) => {
    if (body === undefined) return undefined
    let root: unknown
    try {
      root = JSON.parse(body)
    } catch {
      return undefined
    }
    let out = ''
    for (const part of parts) {
      out += 'text' in part ? part.text : stringify(resolve(root, part.path), 0)
    }
    return out
  }
}

/**
 * Pick the route for a message: the evaluated value when it is a registered route key (never
 * `$connect` or `$disconnect`), else `$default` when registered, else `null` — the gateway
 * then answers with the `Forbidden` error frame.
 *
 * @throws GatehouseError `ERR_INVALID_OPTION` when the expression cannot be parsed.
 * @example
 * ```ts
 * const routes = new Set(['$connect', '$disconnect', '$default', 'sendmessage'])
 * selectRoute('{"action":"sendmessage"}', '$request.body.action', routes) // 'sendmessage'
 * selectRoute('{"action":"SendMessage"}', '$request.body.action', routes) // '$default'
 * selectRoute('hello', undefined, new Set(['sendmessage'])) // null
 * ```
 */
export function selectRoute(
  body: string | undefined,
  expression: string = DEFAULTS.routeSelectionExpression,
  routeKeys: ReadonlySet<string>,
): string | null {
  return pick(cachedExpression(expression)(body), routeKeys)
}

/** The evaluated value when it names a message route, else `$default` when registered, else `null`. */
function pick(value: string | undefined, routeKeys: ReadonlySet<string>): string | null {
  if (
    value !== undefined &&
    value !== '$connect' &&
    value !== '$disconnect' &&
    routeKeys.has(value)
  ) {
    return value
  }
  return routeKeys.has('$default') ? '$default' : null
}

/**
 * A route selector bound to one expression and one set of route keys, compiled once. When no
 * key but `$default` could ever be selected, the body is not even parsed: the answer is
 * `$default` (or `null` when it is not registered) whatever the message says.
 *
 * @throws GatehouseError `ERR_INVALID_OPTION` when the expression cannot be parsed.
 * @example
 * ```ts
 * const select = createRouteSelector('$request.body.action', new Set(['$default', 'chat']))
 * select('{"action":"chat"}') // 'chat'
 * createRouteSelector('$request.body.action', new Set(['$default']))('not even json') // '$default'
 * ```
 */
export function createRouteSelector(
  expression: string,
  routeKeys: ReadonlySet<string>,
): (body: string | undefined) => string | null {
  const evaluate = compileRouteExpression(expression)
  const keys = new Set(routeKeys)
  let selectable = false
  for (const key of keys) {
    if (key !== '$default' && key !== '$connect' && key !== '$disconnect') selectable = true
  }
  if (!selectable) {
    const fixed = pick(undefined, keys)
    return () => fixed
  }
  return (body) => pick(evaluate(body), keys)
}

function cachedExpression(expression: string): RouteExpression {
  const hit = compiled.get(expression)
  if (hit) return hit
  const fn = compileRouteExpression(expression)
  // Expressions come from configuration, so a handful at most; the cap only guards misuse.
  if (compiled.size >= MAX_CACHED) compiled.clear()
  compiled.set(expression, fn)
  return fn
}

function invalid(expression: string, why: string): GatehouseError {
  return new GatehouseError(
    'ERR_INVALID_OPTION',
    `Invalid route selection expression ${JSON.stringify(expression)}: ${why}`,
  )
}

function parseExpression(expression: string): Part[] {
  if (typeof expression !== 'string' || expression === '') {
    throw invalid(String(expression), 'empty')
  }
  const bare = '$request.body'
  const next = expression[bare.length]
  if (expression.startsWith(bare) && (next === '.' || next === '[') && !expression.includes('${')) {
    const rest = expression.slice(bare.length)
    return [{ path: parsePath(expression, next === '.' ? rest.slice(1) : rest) }]
  }
  const parts: Part[] = []
  let text = ''
  let i = 0
  while (i < expression.length) {
    const ch = expression[i]
    if (ch === '\\' && expression[i + 1] === '$') {
      text += '$'
      i += 2
    } else if (ch === '$' && expression[i + 1] === '{') {
      const end = expression.indexOf('}', i)
      if (end < 0) throw invalid(expression, 'unclosed placeholder')
      const inner = expression.slice(i + 2, end)
      const prefix = 'request.body'
      const after = inner[prefix.length]
      if (!inner.startsWith(prefix) || (after !== '.' && after !== '[')) {
        throw invalid(expression, 'a placeholder must name request.body.<path>')
      }
      if (text !== '') parts.push({ text })
      text = ''
      const rest = inner.slice(prefix.length)
      parts.push({ path: parsePath(expression, after === '.' ? rest.slice(1) : rest) })
      i = end + 1
    } else if (ch === '$') {
      throw invalid(expression, 'a literal $ must be written \\$')
    } else {
      text += ch
      i += 1
    }
  }
  if (text !== '') parts.push({ text })
  return parts
}

function parsePath(expression: string, source: string): Step[] {
  const steps: Step[] = []
  let rest = source
  let first = true
  while (rest !== '') {
    if (!first && rest.startsWith('.')) rest = rest.slice(1)
    const index = /^\[(\d{1,9})\]/.exec(rest)
    const quoted = /^\[(?:'([^'\\]*)'|"([^"\\]*)")\]/.exec(rest)
    const name = NAME.exec(rest)
    if (index) {
      steps.push(Number(index[1]))
      rest = rest.slice(index[0].length)
    } else if (quoted) {
      steps.push(quoted[1] ?? quoted[2] ?? '')
      rest = rest.slice(quoted[0].length)
    } else if (name && (first || source[source.length - rest.length - 1] === '.')) {
      steps.push(name[0])
      rest = rest.slice(name[0].length)
    } else {
      throw invalid(expression, 'bad path')
    }
    first = false
  }
  if (steps.length === 0) throw invalid(expression, 'empty path')
  return steps
}

function resolve(root: unknown, path: readonly Step[]): unknown {
  let current: unknown = root
  for (const step of path) {
    if (typeof step === 'number') {
      if (!Array.isArray(current) || step >= current.length) return undefined
      current = current[step]
    } else {
      if (typeof current !== 'object' || current === null || Array.isArray(current)) {
        return undefined
      }
      // Own properties only: the prototype chain is not part of the message.
      if (!Object.hasOwn(current, step)) return undefined
      current = (current as Record<string, unknown>)[step]
    }
  }
  return current
}

/** Stringify as API Gateway does (Java `toString` style for lists and maps). */
function stringify(value: unknown, depth: number): string {
  if (value === undefined || value === null) return ''
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (depth >= DEFAULTS.maxJsonDepth) return ''
  if (Array.isArray(value)) {
    return `[${value.map((item) => stringify(item, depth + 1)).join(', ')}]`
  }
  if (typeof value === 'object') {
    const entries = Object.keys(value).map(
      (key) => `${key}=${stringify((value as Record<string, unknown>)[key], depth + 1)}`,
    )
    return `{${entries.join(', ')}}`
  }
  return ''
}
