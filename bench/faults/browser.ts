/**
 * @module bench/faults/browser
 * The real browser client (`src/client`) as a logged-in browser tab would run it, under
 * Node's own WebSocket (undici): its session cookie and the page's Origin go with the token
 * request and the upgrade, as a browser sends them.
 */
import { GatehouseClient } from '../../src/client/index.ts'
import type { ClientOptions, WebSocketConstructor } from '../../src/client/types.ts'
import { SERVER_CSRF, SERVER_ORIGIN } from './server-config.ts'

/** Session id of `user`'s browser, as the fault server reads it. */
export const browserSession = (user: string): string => `s-${user}`

/**
 * A client for `user` against the fault server.
 *
 * @example
 * ```ts
 * const client = browserClient('u1', ready, { channel: 'lobby' })
 * client.connect()
 * ```
 */
export function browserClient(
  user: string,
  server: { wsUrl: string; tokenUrl: string },
  options: Partial<ClientOptions> = {},
): GatehouseClient {
  const cookie = `sid=${browserSession(user)}; csrftoken=${SERVER_CSRF}`
  const headers = { cookie, origin: SERVER_ORIGIN }
  const Base = globalThis.WebSocket
  // What a browser adds by itself: the cookie and the page's Origin on the upgrade.
  const WebSocketWithCookie = class extends Base {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, { protocols: protocols ?? [], headers } as unknown as string[])
    }
  } as unknown as WebSocketConstructor
  return new GatehouseClient({
    url: server.wsUrl,
    tokenUrl: server.tokenUrl,
    channel: 'lobby',
    WebSocket: WebSocketWithCookie,
    fetch: (url, init) =>
      globalThis.fetch(url, {
        ...(init as RequestInit),
        headers: { ...(init?.headers as Record<string, string>), ...headers },
      }),
    getCookie: (name) => (name === 'csrftoken' ? SERVER_CSRF : undefined),
    ...options,
  })
}
