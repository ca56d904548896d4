/**
 * An app deployed as one Lambda function behind an API Gateway WebSocket API
 * (`gatehouse aws apply --lambda <function-arn>`), with a second export for the scheduled
 * cleanup (an EventBridge rule). Shown in docs/deploy-aws.md; type-checked with the repo.
 */
import { toLambdaHandler } from '../../src/adapters/lambda.ts'
import { createApp } from '../../src/app/create-app.ts'
import { reconcileSessions } from '../../src/app/reconcile.ts'
import { systemClock } from '../../src/clock.ts'
import { createAwsConnections } from '../../src/push/aws.ts'
import { CLEANUP_DEFAULTS, cleanupStore } from '../../src/store/cleanup.ts'
import { createPostgresStore } from '../../src/store/postgres.ts'
import { parseCookies } from '../../src/tokens/cookies.ts'

// Created once per Lambda container, reused by every invocation it serves.
const store = await createPostgresStore({ connectionString: process.env.DATABASE_URL ?? '' })
// The @connections endpoint `gatehouse aws status` prints. Without it the first WebSocket
// event names it, but a scheduled cleanup in a fresh container has seen no such event.
const endpoint = process.env.GATEHOUSE_CONNECTIONS_ENDPOINT
const connections = createAwsConnections({
  region: process.env.AWS_REGION ?? 'eu-west-1',
  ...(endpoint ? { endpoint } : {}),
})

const app = createApp({
  store,
  connections,
  allowedOrigins: ['https://app.example.com'],
  // The session cookie reaches wss://ws.example.com because it is set for Domain=.example.com.
  identify: (event) => ({ sessionId: parseCookies(event.headers.cookie).get('sessionid') ?? null }),
  handlers: {
    send_message: async (ctx) => {
      await ctx.send.toChannel(ctx.session.channel ?? 'lobby', { type: 'chat_message' })
    },
  },
})

/** Every WebSocket route: $connect, $disconnect, $default and any extra route. */
export const handler = toLambdaHandler(app, { connections })

/** The EventBridge schedule: expired tokens, old counters, sessions AWS no longer knows. */
export const cleanup = async () => {
  const removed = await cleanupStore(store, CLEANUP_DEFAULTS, systemClock)
  const reconciled = await reconcileSessions({ store, connections })
  return { removed, reconciled }
}
