import { z } from 'zod'
import { defineHandler } from '../../src/index.ts'

// Every body is validated before `run`; `ctx.body` has the schema's output type.
export const handlers = {
  send_message: defineHandler({
    schema: z.strictObject({
      text: z.string().min(1).max(500),
      priority: z.enum(['low', 'high']).default('low'),
    }),
    permissions: { anyOf: ['chat.use'] },
    run: async (ctx) => {
      const { text, priority } = ctx.body
      if (ctx.session.channel !== null) {
        await ctx.send.toChannel(ctx.session.channel, { type: 'chat_message', text, priority })
      }
      return { type: 'sent' as const, length: text.length }
    },
  }),
}
