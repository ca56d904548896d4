/**
 * Type-level tests, checked by `npm run typecheck` (this file is in tsconfig's `include` and
 * is never run). Each `@ts-expect-error` fails the type check if the line it covers stops
 * being an error, so a loosened type (an `any` body, an untyped reply) is caught.
 */
import type { StandardSchemaV1 as OfficialSchema } from '@standard-schema/spec'
import * as v from 'valibot'
import { z } from 'zod'
import { handlers } from '../../examples/typed-handlers/handlers.ts'
import { defineHandler } from '../../src/app/define-handler.ts'
import type { StandardSchemaV1 } from '../../src/app/standard-schema.ts'
import type { HandlerMap } from '../../src/app/types.ts'
import type { GatehouseClient } from '../../src/client/client.ts'
import type { BodyOf, ReplyOf } from '../../src/client/types.ts'

type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false
const equal = <A, B>(ok: Equal<A, B>): Equal<A, B> => ok

// The vendored Standard Schema types and the official ones describe the same objects.
declare const official: OfficialSchema<{ a: string }>
declare const vendored: StandardSchemaV1<{ a: string }>
export const asVendored: StandardSchemaV1<{ a: string }> = official
export const asOfficial: OfficialSchema<{ a: string }> = vendored
export const zodFits: StandardSchemaV1 = z.object({ a: z.string() })
export const valibotFits: StandardSchemaV1 = v.object({ a: v.string() })

// ctx.body is the schema's output.
defineHandler({
  schema: z.object({ text: z.string(), n: z.number().default(1) }),
  run: (ctx) => {
    equal<typeof ctx.body, { text: string; n: number }>(true)
    // @ts-expect-error: a field the schema does not have
    ctx.body.txet
  },
})
defineHandler({
  schema: v.object({ tags: v.array(v.string()) }),
  run: (ctx) => {
    equal<typeof ctx.body, { tags: string[] }>(true)
  },
})

// Typed handlers fit the app's handler map, next to plain functions.
export const map: HandlerMap = { ...handlers, ping: () => ({ type: 'pong' }) }

// The client reads bodies (schema input) and replies (run's awaited result) from the map.
type Handlers = typeof handlers
equal<BodyOf<Handlers['send_message']>, { text: string; priority?: 'low' | 'high' | undefined }>(
  true,
)
equal<ReplyOf<Handlers['send_message']>, { type: 'sent'; length: number }>(true)
equal<ReplyOf<() => Promise<{ type: 'pong' }>>, { type: 'pong' }>(true)

declare const chat: GatehouseClient<unknown, Handlers>
chat.send('send_message', { text: 'hi' })
chat.send('send_message', { text: 'hi', priority: 'high' })
// @ts-expect-error: a wrong field name
chat.send('send_message', { txet: 'hi' })
// @ts-expect-error: a value the schema does not allow
chat.send('send_message', { text: 'hi', priority: 'urgent' })
// @ts-expect-error: no such handler
chat.send('send_mesage', { text: 'hi' })

// request() resolves with the handler's reply type.
export async function replies(): Promise<void> {
  const reply = await chat.request('send_message', { text: 'hi' })
  equal<typeof reply, { type: 'sent'; length: number }>(true)
  // @ts-expect-error: the reply has no such field
  reply.lenght
  // @ts-expect-error: a wrong field name in a request body
  await chat.request('send_message', { txet: 'hi' })
}
