/**
 * @module examples/chat/chat-app
 * The Gatehouse app of the chat: who may connect (a logged-in user with `chat.use`, from an
 * allowed Origin, with a single-use token bound to their HTTP session), to which room, and
 * what their messages do.
 */
import {
  type App,
  type Connections,
  createApp,
  type GatewayEvent,
  type Logger,
  type Store,
} from 'gatehouse'
import { chatHandlers } from './handlers.ts'
import { presenceAnnouncer } from './presence.ts'
import type { SessionStore } from './sessions.ts'
import type { UserDirectory } from './users.ts'

/** What the chat app is built from. */
export interface ChatAppDeps {
  readonly store: Store
  readonly connections: Connections
  readonly users: UserDirectory
  readonly sessions: SessionStore
  /** Exact origins of the pages (`http://127.0.0.1:3000`, `http://localhost:3000`). */
  readonly origins: readonly string[]
  /** Exact `Host` values of the WebSocket endpoint (a DNS-rebinding page is refused). */
  readonly wsHosts: readonly string[]
  readonly logger: Logger
}

/**
 * Create the chat's Gatehouse app.
 *
 * @example
 * ```ts
 * const { gateway, app } = createLocalGateway({
 *   app: (connections) => createChatApp({ store, connections, users, sessions, origins, wsHosts, logger }),
 * })
 * ```
 */
export function createChatApp(deps: ChatAppDeps): App {
  const { store, users, sessions, logger } = deps
  const app: App = createApp({
    store,
    connections: deps.connections,
    allowedOrigins: deps.origins,
    allowedHosts: deps.wsHosts,
    requireChannel: true,
    // Chat messages go to their room's history: a page that reconnects within five minutes
    // receives the last 100 it missed (the client presents where it was, by itself).
    history: { size: 100, ttlMs: 5 * 60_000 },
    // The session cookie travels with the handshake (same host, SameSite=Lax).
    identify: (event: GatewayEvent) => {
      const session = sessions.fromCookies(event.headers.cookie)
      return session
        ? { sessionId: session.sessionId, userId: session.username }
        : { sessionId: null }
    },
    loadUser: (id) => users.get(id),
    permissions: { anyOf: ['chat.use'] },
    handlers: chatHandlers({
      store,
      kick: async (target, by) => {
        // The HTTP sessions first: the kicked page can then fetch no new token, and
        // `revoke: true` ends the tokens it already holds.
        sessions.destroyUser(target)
        const result = await app.kick(target, { revoke: true, message: { type: 'kicked', by } })
        return result.connections
      },
    }),
    // Every join and leave (connect, disconnect, room change) pushes the room's presence.
    onPresence: presenceAnnouncer(logger),
    logger,
  })
  return app
}
