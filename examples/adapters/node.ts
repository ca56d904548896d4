import { createServer } from 'node:http'
import type { App } from 'gatehouse'
import { toNodeListener } from 'gatehouse/node'
import { authenticate } from './my-auth.ts'

export function nodeServer(app: App) {
  const integration = toNodeListener(app.fetch)
  const tokens = toNodeListener(app.tokenEndpoint({ authenticate }))
  return createServer((req, res) => {
    if (req.url?.startsWith('/ws/')) return integration(req, res)
    if (req.url === '/api/ws-token/') return tokens(req, res)
    // ... your pages, login and logout
    res.writeHead(404).end()
  })
}
