/**
 * @module app/registry
 * The explicit handler allow-list. Handlers are registered by name in a `Map` at construction;
 * a message selects one by looking the name up in that map and nowhere else, so `__proto__`,
 * `constructor` or `toString` are just unknown names. Nothing is found by reflection.
 */
import { DEFAULTS } from '../defaults.ts'
import { GatehouseError } from '../errors.ts'
import { invalidOption, isRecord, readOptions } from '../util/options.ts'
import { isHandlerName } from './checks/handler-name.ts'
import { compilePermissionRule } from './checks/permissions.ts'
import type { StandardSchemaV1 } from './standard-schema.ts'
import type { HandlerFn, PermissionRule } from './types.ts'

/** A registered handler. */
export interface RegisteredHandler {
  readonly name: string
  readonly run: HandlerFn
  readonly permissions: PermissionRule | undefined
  /** The body schema; messages for this handler are validated only when it has one. */
  readonly schema: StandardSchemaV1 | undefined
}

/** The allow-list of an app. */
export interface HandlerRegistry {
  /** The handler registered under `name`, if `name` is a well-formed registered name. */
  get(name: unknown): RegisteredHandler | undefined
  /** The `default` handler, if any. */
  readonly fallback: RegisteredHandler | undefined
  readonly names: readonly string[]
}

/**
 * Build the registry, checking every entry now rather than on first use: names, functions,
 * the keys of each `{ run, permissions }` spec (a typo such as `permision` is refused, not
 * ignored) and each spec's permission rule (copied and frozen).
 *
 * @example
 * ```ts
 * const registry = createRegistry({ send_message: (ctx) => ({ ok: true }) })
 * registry.get('send_message')?.name // 'send_message'
 * registry.get('constructor') // undefined
 * ```
 */
export function createRegistry(handlers: unknown): HandlerRegistry {
  const map = new Map<string, RegisteredHandler>()
  if (handlers !== undefined && !isRecord(handlers)) {
    invalidOption(
      'handlers',
      'an object of handler name → function or { run, permissions }',
      handlers,
    )
  }
  // Each entry is read once; the caller's object is never consulted after construction.
  for (const [name, entry] of Object.entries(handlers ?? {})) {
    if (!isHandlerName(name)) {
      throw new GatehouseError(
        'ERR_HANDLER_INVALID',
        `\`handlers\`: the name ${JSON.stringify(name)} must match ${String(DEFAULTS.handlerNamePattern)}.`,
      )
    }
    const where = `handlers.${name}`
    let run: unknown = entry
    let permissions: PermissionRule | undefined
    let schema: StandardSchemaV1 | undefined
    if (typeof entry !== 'function') {
      if (!isRecord(entry)) {
        throw new GatehouseError(
          'ERR_HANDLER_INVALID',
          `\`${where}\` must be a function or { run, permissions }.`,
        )
      }
      const spec = readOptions(where, entry, ['run', 'permissions', 'schema'])
      run = spec.run
      permissions = compilePermissionRule(spec.permissions, `${where}.permissions`)
      if (spec.schema !== undefined) {
        const standard = isRecord(spec.schema) ? spec.schema['~standard'] : undefined
        // Caught now, not on the first message: a body would otherwise go unvalidated or throw.
        if (!isRecord(standard) || typeof standard.validate !== 'function') {
          throw new GatehouseError(
            'ERR_HANDLER_INVALID',
            `\`${where}.schema\` must be a Standard Schema (zod 4, valibot, arktype, …).`,
          )
        }
        schema = spec.schema as StandardSchemaV1
      }
    }
    if (typeof run !== 'function') {
      throw new GatehouseError('ERR_HANDLER_INVALID', `\`${where}.run\` must be a function.`)
    }
    map.set(name, Object.freeze({ name, run: run as HandlerFn, permissions, schema }))
  }
  const names = Object.freeze([...map.keys()])
  return Object.freeze({
    get: (name: unknown) => (typeof name === 'string' ? map.get(name) : undefined),
    fallback: map.get('default'),
    names,
  })
}
