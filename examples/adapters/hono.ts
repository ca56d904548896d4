import type { App } from 'gatehouse'
import { toHono } from 'gatehouse/hono'
import { Hono } from 'hono'
import { authenticate } from './my-auth.ts'

export function honoServer(app: App) {
  const web = new Hono()
  web.post('/ws/:route', toHono(app.fetch))
  web.post('/api/ws-token/', toHono(app.tokenEndpoint({ authenticate })))
  web.post('/api/profile', async (c) => c.json({ saved: await c.req.json() }))
  return web
}
