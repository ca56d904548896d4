/**
 * @module app/validate
 * Validating a message body against a handler's Standard Schema. A body that fails gets one
 * generic reply listing where it failed (the paths), never what it held: issue messages can
 * quote the input ("expected one of …, received <value>"), so they stay in the server.
 * Routing keys (`action`, the request id) are taken out first, so strict object schemas
 * (`z.strictObject`, `v.strictObject`) describe only the handler's own fields.
 */
import type { StandardIssue, StandardResult, StandardSchemaV1 } from './standard-schema.ts'

/** Paths listed in one validation reply, at most: a hostile body cannot make it large. */
const MAX_PATHS = 16
/** Path segments shown as they are; anything else (long, odd characters) becomes `*`. */
const SAFE_SEGMENT = /^[A-Za-z0-9_$-]{1,64}$/

/** The outcome of {@link validateBody}. */
export type Validation =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly paths: readonly string[] }

/**
 * The dotted path of an issue (`items.0.text`; `''` for the body itself). Segments that are
 * not short plain names or indexes become `*`, so a record schema cannot be made to echo
 * arbitrary keys of the input.
 *
 * @example
 * ```ts
 * issuePath({ message: 'x', path: ['items', 0, { key: 'text' }] }) // 'items.0.text'
 * issuePath({ message: 'x', path: ['<script>'] })                   // '*'
 * ```
 */
export function issuePath(issue: StandardIssue): string {
  const path = issue.path ?? []
  const out: string[] = []
  for (const seg of path) {
    const key = typeof seg === 'object' && seg !== null ? seg.key : seg
    if (typeof key === 'number' && Number.isSafeInteger(key)) out.push(String(key))
    else if (typeof key === 'string' && SAFE_SEGMENT.test(key)) out.push(key)
    else out.push('*')
    if (out.length >= 8) break
  }
  return out.join('.')
}

function outcome(result: StandardResult<unknown>): Validation {
  if (result.issues === undefined) return { ok: true, value: result.value }
  const paths = new Set<string>()
  for (const issue of result.issues) {
    paths.add(issuePath(issue))
    if (paths.size >= MAX_PATHS) break
  }
  return { ok: false, paths: [...paths] }
}

/**
 * Validate `body` (without its routing keys) against `schema`. Synchronous schemas stay
 * synchronous: no promise is made for them on the message path.
 *
 * @example
 * ```ts
 * const v = await validateBody(z.object({ text: z.string() }), { action: 'send', text: 1 }, ['action'])
 * v // { ok: false, paths: ['text'] }
 * ```
 */
export function validateBody(
  schema: StandardSchemaV1,
  body: Readonly<Record<string, unknown>>,
  routingKeys: readonly string[],
): Validation | Promise<Validation> {
  let input: Record<string, unknown> = body
  if (routingKeys.some((k) => Object.hasOwn(body, k))) {
    input = {}
    // `__proto__` never gets here (the parser drops it); skipped anyway, as assigning it would
    // set the copy's prototype.
    for (const key of Object.keys(body)) {
      if (!routingKeys.includes(key) && key !== '__proto__') input[key] = body[key]
    }
  }
  const result = schema['~standard'].validate(input)
  return result instanceof Promise ? result.then(outcome) : outcome(result)
}
