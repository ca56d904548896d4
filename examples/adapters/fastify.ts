import Fastify from 'fastify'
import type { App } from 'gatehouse'
import { gatehousePlugin } from 'gatehouse/fastify'
import { authenticate } from './my-auth.ts'

export async function fastifyServer(app: App) {
  const web = Fastify()
  // The plugin's routes get the raw body (its own content-type parser, scoped to them).
  await web.register(gatehousePlugin, {
    routes: {
      '/api/ws-token/': app.tokenEndpoint({ authenticate }),
      '/ws/:route': app.fetch, // the HTTP integration
    },
  })
  // Your own routes keep Fastify's parsers.
  web.post('/api/profile', async (request) => ({ saved: request.body }))
  return web
}
