import { Hono } from 'hono'
import { toHono } from '../../src/adapters/hono.ts'
import type { App } from '../../src/index.ts'
import { authenticate } from './my-auth.ts'

export function honoServer(app: App) {
  const web = new Hono()
  web.post('/ws/:route', toHono(app.fetch))
  web.post('/api/ws-token/', toHono(app.tokenEndpoint({ authenticate })))
  web.post('/api/profile', async (c) => c.json({ saved: await c.req.json() }))
  return web
}
