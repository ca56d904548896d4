import { WebSocket } from 'ws'
import { GatehouseClient, type WebSocketConstructor } from '../../src/client/index.ts'
import { GatehouseError } from '../../src/index.ts'

// A Node (or React Native) client: the JWT goes in the Authorization header of the token
// request and of the upgrade; a fresh connect token is fetched before every attempt.
export function apiClient(gatewayUrl: string, tokenUrl: string, jwt: () => string) {
  const authorization = () => `Bearer ${jwt()}`
  const WithBearer = class extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { headers: { authorization: authorization() } })
    }
  } as unknown as WebSocketConstructor
  return new GatehouseClient({
    url: gatewayUrl,
    WebSocket: WithBearer,
    getToken: async ({ signal }) => {
      const res = await fetch(tokenUrl, {
        method: 'POST',
        headers: { authorization: authorization() },
        signal,
      })
      // 401/403: the JWT is no good; the client stops (`failed`) instead of retrying.
      if (res.status === 401 || res.status === 403)
        throw new GatehouseError('ERR_AUTH_FAILED', 'JWT refused')
      if (!res.ok) throw new Error(`token endpoint answered ${res.status}`)
      return ((await res.json()) as { token: string }).token
    },
  })
}
