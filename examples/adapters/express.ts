import express from 'express'
import type { App } from 'gatehouse'
import { toExpress } from 'gatehouse/express'
import { authenticate } from './my-auth.ts'

export function expressServer(app: App) {
  const web = express()
  // The HTTP integration needs the body byte for byte (the gateway's signature covers it):
  // give its route the raw body, or mount it before any body parser.
  web.post('/ws/:route', express.raw({ type: () => true, limit: '1mb' }), toExpress(app.fetch))
  web.post('/api/ws-token/', toExpress(app.tokenEndpoint({ authenticate })))
  // Your own routes, with the parsers they need.
  web.use(express.json())
  web.post('/api/profile', (req, res) => {
    res.json({ saved: req.body })
  })
  return web
}
