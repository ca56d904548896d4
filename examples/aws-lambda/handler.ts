/**
 * An app deployed as one Lambda function behind an API Gateway WebSocket API
 * (`gatehouse aws apply --lambda <function-arn>`), and the scheduled cleanup an EventBridge
 * rule invokes. docs/deploy-aws.md shows this file verbatim (a test keeps the two equal).
 */
import {
  CLEANUP_DEFAULTS,
  cleanupStore,
  createApp,
  parseCookies,
  reconcileSessions,
  systemClock,
} from 'gatehouse'
import { createAwsConnections } from 'gatehouse/aws'
import { toLambdaHandler } from 'gatehouse/lambda'
import { createPostgresStore } from 'gatehouse/postgres'

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
