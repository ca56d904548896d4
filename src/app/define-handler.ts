/**
 * @module app/define-handler
 * `defineHandler`: a handler spec whose `ctx.body` is typed from its schema, and whose reply
 * type the client can read (`GatehouseClient<In, typeof handlers>`). It adds nothing at run
 * time but a frozen copy; `createApp` takes the same `{ schema, permissions, run }` literally.
 */
import type { InferOutput, StandardSchemaV1 } from './standard-schema.ts'
import type { MessageContext, PermissionRule } from './types.ts'

/**
 * A handler as {@link defineHandler} returns it: the spec with its schema and reply types kept.
 *
 * @example
 * ```ts
 * const h: DefinedHandler<typeof schema, { ok: true }> = defineHandler({ schema, run: () => ({ ok: true }) })
 * ```
 */
export type DefinedHandler<
  S extends StandardSchemaV1 | undefined,
  Reply,
> = S extends StandardSchemaV1
  ? {
      readonly schema: S
      readonly permissions?: PermissionRule
      readonly run: (ctx: MessageContext<InferOutput<S>>) => Reply | Promise<Reply>
    }
  : {
      readonly permissions?: PermissionRule
      readonly run: (ctx: MessageContext) => Reply | Promise<Reply>
    }

/**
 * Define a handler, with `ctx.body` typed from `schema` (any Standard Schema: zod 4, valibot,
 * arktype). A body that fails the schema gets one generic validation reply,
 * `{"type":"error","message":"Bad Request","paths":[…]}`, and `run` is not called.
 *
 * @example
 * ```ts
 * import { z } from 'zod'
 *
 * const handlers = {
 *   send_message: defineHandler({
 *     schema: z.object({ text: z.string().min(1).max(500) }),
 *     permissions: { anyOf: ['chat.use'] },
 *     run: (ctx) => ({ type: 'sent', length: ctx.body.text.length }),
 *   }),
 * }
 * createApp({ store, identify, loadUser, handlers })
 * ```
 */
export function defineHandler<S extends StandardSchemaV1, Reply>(spec: {
  readonly schema: S
  readonly permissions?: PermissionRule
  readonly run: (ctx: MessageContext<InferOutput<S>>) => Reply | Promise<Reply>
}): DefinedHandler<S, Reply>
export function defineHandler<Reply>(spec: {
  readonly permissions?: PermissionRule
  readonly run: (ctx: MessageContext) => Reply | Promise<Reply>
}): DefinedHandler<undefined, Reply>
export function defineHandler(spec: {
  readonly schema?: StandardSchemaV1
  readonly permissions?: PermissionRule
  readonly run: (ctx: never) => unknown
}): unknown {
  return Object.freeze({ ...spec })
}
