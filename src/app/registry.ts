/**
 * @module app/registry
 * The explicit handler allow-list. Handlers are registered by name in a `Map` at construction;
 * a message selects one by looking the name up in that map and nowhere else, so `__proto__`,
 * `constructor` or `toString` are just unknown names. Nothing is found by reflection.
 */
import { DEFAULTS } from '../defaults.ts'
import { GatehouseError } from '../errors.ts'
import { isHandlerName } from './checks/handler-name.ts'
import type { HandlerFn, HandlerSpec, PermissionRule } from './types.ts'

/** A registered handler. */
export interface RegisteredHandler {
  readonly name: string
  readonly run: HandlerFn
  readonly permissions: PermissionRule | undefined
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
 * Build the registry, checking every entry now rather than on first use.
 *
 * @example
 * ```ts
 * const registry = createRegistry({ send_message: (ctx) => ({ ok: true }) })
 * registry.get('send_message')?.name // 'send_message'
 * registry.get('constructor') // undefined
 * ```
 */
export function createRegistry(
  handlers: Readonly<Record<string, HandlerFn | HandlerSpec>> | undefined,
): HandlerRegistry {
  const map = new Map<string, RegisteredHandler>()
  for (const name of Object.keys(handlers ?? {})) {
    const entry = (handlers as Record<string, HandlerFn | HandlerSpec>)[name]
    if (!isHandlerName(name)) {
      throw new GatehouseError(
        'ERR_HANDLER_INVALID',
        `Handler name ${JSON.stringify(name)} must match ${String(DEFAULTS.handlerNamePattern)}.`,
      )
    }
    const run = typeof entry === 'function' ? entry : entry?.run
    if (typeof run !== 'function') {
      throw new GatehouseError(
        'ERR_HANDLER_INVALID',
        `Handler ${JSON.stringify(name)} is not a function.`,
      )
    }
    const permissions = typeof entry === 'function' ? undefined : entry?.permissions
    map.set(name, Object.freeze({ name, run, permissions }))
  }
  return {
    get: (name) => (typeof name === 'string' ? map.get(name) : undefined),
    fallback: map.get('default'),
    names: [...map.keys()],
  }
}
