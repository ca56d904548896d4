/**
 * The quickstart snippets of README.md and docs/quickstart.md, run as written: imports are
 * pointed at src/, ports at 0, the SQLite file at a temporary directory, and the host's own
 * pieces (sessions, users) at small stand-ins. Then a browser-like client gets a token from
 * the snippet's endpoint, connects to the snippet's gateway and chats.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { App } from '../../src/app/create-app.ts'
import type { Gateway } from '../../src/gateway/gateway.ts'
import { connectClient } from '../conformance/gateway/support/harness.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const CSRF = 'k3Vq9dZbXf0aT7hLw2mN8pR4sY6uC1eG'
const SID = 'sid-alice-0123456789abcdef'

/** The first fenced block of `lang` after `marker` in a Markdown file. */
async function snippet(file: string, marker: string, lang = 'ts'): Promise<string> {
  const text = await readFile(join(ROOT, file), 'utf8')
  const at = text.indexOf(marker)
  assert.ok(at >= 0, `${marker} in ${file}`)
  const open = text.indexOf(`\`\`\`${lang}\n`, at)
  const close = text.indexOf('\n```', open + 4)
  return text.slice(open + lang.length + 4, close + 1)
}

interface Ran {
  readonly app: App
  readonly gateway: Gateway
  readonly servers: Server[]
}

const dirs: string[] = []
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true })
})

/** Write the snippet as a module (with the rewrites above) and import it. */
async function run(code: string, prelude: string, exports = 'app, gateway'): Promise<Ran> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-snippet-'))
  dirs.push(dir)
  const src = (path: string) => pathToFileURL(join(ROOT, 'src', path)).href
  await writeFile(
    join(dir, 'http-shim.ts'),
    `import * as http from 'node:http'
export const servers: http.Server[] = []
export function createServer(...args: unknown[]): http.Server {
  const server = (http.createServer as (...a: unknown[]) => http.Server)(...args)
  servers.push(server)
  return server
}
`,
  )
  await writeFile(
    join(dir, 'my-auth.ts'),
    `export const sessions = new Map([[${JSON.stringify(SID)}, { userId: 'alice' }]])
export const users = new Map([['alice', { id: 'alice', permissions: ['chat.use'] }]])
`,
  )
  const rewritten = code
    .replace("from 'node:http'", "from './http-shim.ts'")
    .replace("from 'gatehouse'", `from '${src('index.ts')}'`)
    .replace("from 'gatehouse/gateway'", `from '${src('gateway/index.ts')}'`)
    .replace("from 'gatehouse/node'", `from '${src('adapters/node.ts')}'`)
    .replace("'.data/gatehouse.db'", JSON.stringify(join(dir, 'gatehouse.db')))
    .replace('port: 3001', 'port: 0')
    .replace('port: 3002', 'port: 0')
    .replace(".listen(3000, '127.0.0.1')", ".listen(0, '127.0.0.1')")
  // The rewrites found what they expected: the snippet did not drift from this harness.
  assert.ok(rewritten.includes(src('index.ts')), 'imports gatehouse')
  assert.ok(rewritten.includes('port: 0') && !/port: 300\d/.test(rewritten), 'fixed ports')
  assert.ok(!rewritten.includes('listen(3000'), 'the HTTP port')
  const file = join(dir, 'snippet.ts')
  await writeFile(
    file,
    `${prelude}\n${rewritten}\nexport { ${exports} }\nexport { servers } from './http-shim.ts'\n`,
  )
  const mod = (await import(pathToFileURL(file).href)) as Ran
  // The snippet's HTTP server listens asynchronously.
  for (const server of mod.servers) {
    if (!server.listening) await new Promise((resolve) => server.once('listening', resolve))
  }
  return mod
}

/** Token from the snippet's endpoint, connect, chat, then stop everything. */
async function chat(ran: Ran, tokenPath: string): Promise<void> {
  const { app, gateway, servers } = ran
  try {
    const port = (servers[0]!.address() as AddressInfo).port
    const res = await fetch(`http://127.0.0.1:${port}${tokenPath}`, {
      method: 'POST',
      headers: {
        cookie: `sessionid=${SID}; csrftoken=${CSRF}`,
        'x-csrftoken': CSRF,
        origin: 'http://127.0.0.1:3000',
        'sec-fetch-site': 'same-origin',
      },
    })
    assert.equal(res.status, 200)
    const { token } = (await res.json()) as { token: string }
    const headers = { cookie: `sessionid=${SID}`, origin: 'http://127.0.0.1:3000' }
    // The app's checks are live: a foreign page is refused, and the token stays unused.
    await assert.rejects(
      connectClient(`${gateway.url}?ws_token=${token}&channel=lobby`, {
        headers: { ...headers, origin: 'http://evil.test' },
      }),
      { status: 403 },
    )
    const client = await connectClient(`${gateway.url}?ws_token=${token}&channel=lobby`, {
      headers,
    })
    client.ws.send(JSON.stringify({ action: 'send_message', text: 'hi' }))
    const message = JSON.parse(await client.next()) as Record<string, unknown>
    assert.equal(message.type, 'chat_message')
    assert.equal(message.text, 'hi')
    // The token was single use.
    await assert.rejects(
      connectClient(`${gateway.url}?ws_token=${token}&channel=lobby`, { headers }),
      { status: 401 },
    )
    assert.equal(typeof app.send.toAll, 'function')
    client.ws.close()
  } finally {
    await gateway.close({ drainMs: 500 })
    for (const server of servers) {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}

describe('documentation snippets run as written', () => {
  test('README.md quickstart', async () => {
    const code = await snippet('README.md', '## Quickstart')
    const prelude = `const mySessions = {
  userOf: (sid: string) => (sid === ${JSON.stringify(SID)} ? 'alice' : null),
  fromRequest: async (req: Request) =>
    (req.headers.get('cookie') ?? '').includes(${JSON.stringify(SID)})
      ? { userId: 'alice', sessionId: ${JSON.stringify(SID)} }
      : null,
}
const myUsers = new Map([['alice', { id: 'alice', permissions: ['chat.use'] }]])`
    await chat(await run(code, prelude), '/')
  })

  test('docs/quickstart.md, "On node:http"', async () => {
    const code = await snippet('docs/quickstart.md', '### On `node:http`')
    await chat(await run(code, ''), '/api/ws-token/')
  })

  test('docs/gateway.md, "In your own process"', async () => {
    const code = await snippet('docs/gateway.md', '### In your own process')
    const prelude = `import { createMemoryStore } from '${pathToFileURL(join(ROOT, 'src/store/memory.ts')).href}'
const store = createMemoryStore()
const identify = () => ({ sessionId: ${JSON.stringify(SID)}, userId: 'alice' })
const loadUser = (id: string) => ({ id, permissions: [] })`
    const ran = (await run(code, prelude, 'app, gateway, management, store')) as Ran & {
      management: { close(): Promise<void>; server: Server }
      store: { listConnections(a: { all: true }): Promise<string[]> }
    }
    try {
      const issued = await ran.app.tokens.issue('alice', SID)
      assert.ok(issued.ok)
      const client = await connectClient(`${ran.gateway.url}?ws_token=${issued.token}`)
      // Pushes from the app go straight to the socket.
      assert.deepEqual(await ran.app.send.toAll({ type: 'hello' }), { sent: 1, gone: 0 })
      assert.deepEqual(JSON.parse(await client.next()), { type: 'hello' })
      // The management API over the same port reaches it too.
      const mgmtPort = (ran.management.server.address() as AddressInfo).port
      const [connectionId] = await ran.store.listConnections({ all: true })
      const posted = await fetch(
        `http://127.0.0.1:${mgmtPort}/${ran.gateway.stage}/@connections/${encodeURIComponent(connectionId!)}`,
        // Unsigned calls say what the body is (a browser's cross-site text/plain gets 415).
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"type":"from-management"}',
        },
      )
      assert.equal(posted.status, 200)
      assert.deepEqual(JSON.parse(await client.next()), { type: 'from-management' })
      client.ws.close()
    } finally {
      await ran.gateway.close({ drainMs: 500 })
      await ran.management.close()
    }
  })
})
