import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import WebSocket from 'ws'
import { runGatewayCli } from '../../src/cli/gateway.ts'
import { main } from '../../src/cli/main.ts'
import { send } from '../gateway/management/helpers.ts'

const NODE = process.execPath
const BIN = new URL('../../bin/gatehouse.ts', import.meta.url).pathname

interface Seen {
  path: string
  connectionId: string | undefined
  apiId: string | undefined
  body: string
}

/**
 * A backend that knows nothing of Gatehouse: it reads the AWS-shaped integration requests
 * and, for messages, pushes an echo back through the plain-HTTP `@connections` API.
 */
function awsShapedBackend(reply?: (body: string) => string) {
  const seen: Seen[] = []
  const waiters: Array<() => void> = []
  let managementUrl = ''
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const body = Buffer.concat(chunks).toString('utf8')
    const connectionId = req.headers.connectionid as string | undefined
    seen.push({
      path: req.url ?? '',
      connectionId,
      apiId: req.headers['x-amzn-apigateway-api-id'] as string | undefined,
      body,
    })
    for (const w of waiters.splice(0)) w()
    if (req.url === '/ws/default' && connectionId && !reply) {
      const r = await fetch(`${managementUrl}/@connections/${encodeURIComponent(connectionId)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: `echo:${body}`,
      })
      assert.equal(r.status, 200)
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    const isMessage = req.url === '/ws/default' || req.url === '/ws/chat'
    res.end(isMessage && reply ? reply(body) : '{}')
  })
  return {
    seen,
    setManagementUrl(url: string) {
      managementUrl = url
    },
    async until(predicate: () => boolean): Promise<void> {
      while (!predicate()) await new Promise<void>((r) => waiters.push(r))
    },
    async listen(): Promise<number> {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
      return (server.address() as AddressInfo).port
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  }
}

function readUrls(child: ChildProcess): Promise<{ ws: string; management: string }> {
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', (d: string) => {
      out += d
      const ws = /^websocket: (\S+)$/m.exec(out)?.[1]
      const management = /^management: (\S+)$/m.exec(out)?.[1]
      if (ws && management) resolve({ ws, management })
    })
    child.once('exit', (code) => reject(new Error(`gateway exited early (${code}): ${out}`)))
  })
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
  })
}

function nextMessage(ws: WebSocket): Promise<string> {
  return new Promise((resolve) => ws.once('message', (d) => resolve(String(d))))
}

function closed(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => ws.once('close', (code) => resolve(code)))
}

function bufferIo(stop?: AbortSignal) {
  let stdout = ''
  let stderr = ''
  return {
    io: {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      env: {},
      ...(stop ? { stop } : {}),
    },
    out: () => stdout,
    err: () => stderr,
  }
}

describe('gatehouse gateway (spawned) in front of an AWS-shaped backend', () => {
  const backend = awsShapedBackend()
  let child: ChildProcess
  let urls: { ws: string; management: string }
  let stderr = ''
  before(async () => {
    const port = await backend.listen()
    child = spawn(
      NODE,
      [
        BIN,
        'gateway',
        '--integration',
        `http://127.0.0.1:${port}/ws/`,
        '--port',
        '0',
        '--management-port',
        '0',
        '--stage',
        'dev',
        '--api-id',
        'clitest01',
        '--metrics',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GATEHOUSE_LOG_LEVEL: 'warn' } },
    )
    child.stderr?.on('data', (d) => {
      stderr += String(d)
    })
    urls = await readUrls(child)
    backend.setManagementUrl(urls.management)
  })
  after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL')
    await backend.close()
  })

  it('prints the ws and management URLs (port 0 resolved)', () => {
    assert.match(urls.ws, /^ws:\/\/127\.0\.0\.1:\d+\/dev$/)
    assert.match(urls.management, /^http:\/\/127\.0\.0\.1:\d+\/dev$/)
    assert.doesNotMatch(urls.ws, /:0\//)
  })

  it('connect, message, echo through @connections, disconnect', { timeout: 15_000 }, async () => {
    const ws = await open(urls.ws)
    const connect = backend.seen.find((s) => s.path === '/ws/connect')
    assert.ok(connect, 'the backend saw $connect')
    assert.equal(connect.apiId, 'clitest01')
    assert.match(connect.connectionId ?? '', /^[A-Za-z0-9_-]{15}=$/)
    const echoed = nextMessage(ws)
    ws.send('hello')
    assert.equal(await echoed, 'echo:hello')
    const message = backend.seen.find((s) => s.path === '/ws/default')
    assert.equal(message?.body, 'hello')
    assert.equal(message?.connectionId, connect.connectionId)
    ws.close(1000)
    await backend.until(() => backend.seen.some((s) => s.path === '/ws/disconnect'))
    const disconnect = backend.seen.find((s) => s.path === '/ws/disconnect')
    assert.equal(disconnect?.connectionId, connect.connectionId)
  })

  it('GET /healthz on the management port', async () => {
    const r = await fetch(new URL('/healthz', urls.management))
    assert.equal(r.status, 200)
  })

  it('--metrics: GET /metrics on the management port counts what happened', async () => {
    const ws = await open(urls.ws)
    const r = await fetch(new URL('/metrics', urls.management))
    assert.equal(r.status, 200)
    const text = await r.text()
    // The gauge reads the live table: this socket is open now.
    assert.match(text, /^gatehouse_open_connections 1$/m)
    assert.match(
      text,
      /^gatehouse_gateway_connects_total\{outcome="accepted",reason="none"\} [1-9]/m,
    )
    const disconnects = (): number => backend.seen.filter((x) => x.path === '/ws/disconnect').length
    const before = disconnects()
    ws.close(1000)
    // Its $disconnect lands before the next test counts them.
    await backend.until(() => disconnects() > before)
  })

  it('SIGTERM: the client sees 1001, $disconnect fires, the process exits 0', {
    timeout: 15_000,
  }, async () => {
    const ws = await open(urls.ws)
    const code = closed(ws)
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)))
    const disconnectsBefore = backend.seen.filter((s) => s.path === '/ws/disconnect').length
    child.kill('SIGTERM')
    assert.equal(await code, 1001)
    assert.equal(await exited, 0, stderr)
    assert.equal(
      backend.seen.filter((s) => s.path === '/ws/disconnect').length,
      disconnectsBefore + 1,
    )
  })
})

/** The URLs an in-process run prints once listening; fails if it stops or takes 10 s first. */
async function started(
  b: ReturnType<typeof bufferIo>,
  run: Promise<number>,
): Promise<{ ws: string; management: string }> {
  let ended = false
  run.then(
    () => {
      ended = true
    },
    () => {
      ended = true
    },
  )
  for (let i = 0; i < 1_000 && !ended; i++) {
    const ws = /^websocket: (\S+)$/m.exec(b.out())?.[1]
    const management = /^management: (\S+)$/m.exec(b.out())?.[1]
    if (ws && management) return { ws, management }
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error(`the gateway did not start: ${b.err()}`)
}

describe('gatehouse gateway usage errors', () => {
  it('an unknown flag is a clear error with exit status 2 (spawned)', async () => {
    const child = spawn(
      NODE,
      [BIN, 'gateway', '--integration', 'http://127.0.0.1:9/ws/', '--prot', '1'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let err = ''
    child.stderr.on('data', (d) => {
      err += String(d)
    })
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)))
    assert.equal(code, 2)
    assert.match(err, /--prot/)
    assert.match(err, /Usage: gatehouse gateway/)
  })

  it('--help prints the usage and exits 0', async () => {
    const b = bufferIo()
    assert.equal(await main(['gateway', '--help'], b.io), 0)
    for (const flag of [
      '--integration',
      '--route',
      '--port',
      '--management-port',
      '--allow-host',
      '--host',
      '--stage',
      '--api-id',
      '--secret',
      '--aws-access-key-id',
      '--aws-secret-access-key',
      '--two-way',
    ]) {
      assert.ok(b.out().includes(flag), flag)
    }
  })

  it('bad values are exit 2 with a message, never a start', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /--integration is required/],
      [['--integration', 'ftp://x/'], /http\(s\)/],
      [['--integration', 'http://u:p@127.0.0.1/ws/'], /credentials/],
      [['--integration', 'http://127.0.0.1/ws/', '--port', '99999'], /--port/],
      [['--integration', 'http://127.0.0.1/ws/', '--port', 'abc'], /--port/],
      [['--integration', 'http://127.0.0.1/ws/', '--route', 'chat'], /<key>=<url>/],
      [['--integration', 'http://127.0.0.1/ws/', '--route', '$connect=http://x/'], /reserved/],
      [
        [
          '--integration',
          'http://127.0.0.1/ws/',
          '--route',
          'a=http://x/',
          '--route',
          'a=http://y/',
        ],
        /twice/,
      ],
      [['--integration', 'http://127.0.0.1/ws/', '--aws-access-key-id', 'AK'], /go together/],
      [['--integration', 'http://127.0.0.1/ws/', '--secret', 'short'], /secret/],
      [['--integration', 'http://127.0.0.1/ws/', '--stage', 'a/b'], /stage/],
      [['--integration', 'http://127.0.0.1/ws/', '--allow-host', 'gw.local:80'], /allowedHosts/],
      [
        ['--integration', 'http://127.0.0.1/ws/', '--trusted-proxy', '10.0.0.0/33'],
        /trustedProxies/,
      ],
      [['--integration', 'http://127.0.0.1/ws/', 'positional'], /positional|Unexpected argument/i],
    ]
    for (const [argv, pattern] of cases) {
      const b = bufferIo()
      assert.equal(await runGatewayCli(argv, b.io), 2, argv.join(' '))
      assert.match(b.err(), pattern, argv.join(' '))
    }
  })

  it('unknown and hostile command names are usage errors', async () => {
    for (const name of ['nope', '__proto__', 'constructor', 'toString']) {
      const b = bufferIo()
      assert.equal(await main([name], b.io), 2, name)
      assert.match(b.err(), /unknown command/)
    }
    const b = bufferIo()
    assert.equal(await main([], b.io), 2)
    assert.equal(await main(['--help'], b.io), 0)
    assert.match(b.out(), /gateway/)
    assert.match(b.out(), /cleanup/)
  })
})

describe('gatehouse gateway options in process', () => {
  it('--two-way sends the backend body back; --route adds a custom route', {
    timeout: 15_000,
  }, async () => {
    const backend = awsShapedBackend((body) => `reply:${body}`)
    const port = await backend.listen()
    const stop = new AbortController()
    const b = bufferIo(stop.signal)
    const run = runGatewayCli(
      [
        '--integration',
        `http://127.0.0.1:${port}/ws`,
        '--route',
        `chat=http://127.0.0.1:${port}/ws/chat`,
        '--two-way',
        '--port',
        '0',
        '--management-port',
        '0',
      ],
      b.io,
    )
    try {
      const { ws: wsUrl } = await started(b, run)
      const ws = await open(wsUrl)
      const first = nextMessage(ws)
      ws.send('plain')
      assert.equal(await first, 'reply:plain')
      const second = nextMessage(ws)
      ws.send('{"action":"chat","text":"hi"}')
      assert.equal(await second, 'reply:{"action":"chat","text":"hi"}')
      assert.ok(backend.seen.some((s) => s.path === '/ws/chat'))
      ws.close()
    } finally {
      stop.abort()
      assert.equal(await run, 0)
      await backend.close()
    }
  })

  it('logs each connect at info; warns at start when unsigned beyond loopback', {
    timeout: 15_000,
  }, async () => {
    const backend = awsShapedBackend()
    const port = await backend.listen()
    const lines = (b: ReturnType<typeof bufferIo>) =>
      b
        .err()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { level: number; event?: string })
    const runWith = async (extra: string[], body?: (wsUrl: string) => Promise<void>) => {
      const stop = new AbortController()
      const b = bufferIo(stop.signal)
      const args = ['--integration', `http://127.0.0.1:${port}/ws/`, '--port', '0']
      const run = runGatewayCli([...args, '--management-port', '0', ...extra], b.io)
      try {
        const { ws } = await started(b, run)
        await body?.(ws.replace('0.0.0.0', '127.0.0.1'))
      } finally {
        stop.abort()
        assert.equal(await run, 0)
      }
      return lines(b)
    }
    try {
      const wide = await runWith(['--host', '0.0.0.0'], async (wsUrl) => {
        const ws = await open(wsUrl)
        const done = closed(ws)
        ws.close()
        await done
      })
      const warn = wide.find((l) => l.event === 'gateway_unsigned')
      assert.equal(warn?.level, 40)
      const connected = wide.find((l) => l.event === 'connection_opened')
      assert.equal(connected?.level, 30, 'a connect is logged at info')
      const signed = await runWith(['--host', '0.0.0.0', '--secret', 's'.repeat(32)])
      assert.equal(
        signed.find((l) => l.event === 'gateway_unsigned'),
        undefined,
      )
      const local = await runWith([])
      assert.equal(
        local.find((l) => l.event === 'gateway_unsigned'),
        undefined,
      )
    } finally {
      await backend.close()
    }
  })

  it('--aws-access-key-id makes the management API require SigV4', {
    timeout: 15_000,
  }, async () => {
    const stop = new AbortController()
    const b = bufferIo(stop.signal)
    const run = runGatewayCli(
      [
        '--integration',
        'http://127.0.0.1:9/ws/',
        '--port',
        '0',
        '--management-port',
        '0',
        '--aws-access-key-id',
        'AKCLI',
        '--aws-secret-access-key',
        'cli-secret',
      ],
      b.io,
    )
    try {
      const { management } = await started(b, run)
      const r = await fetch(`${management}/@connections/abc%3D`, { method: 'POST', body: 'x' })
      assert.equal(r.status, 403)
      assert.equal(r.headers.get('x-amzn-errortype'), 'ForbiddenException')
    } finally {
      stop.abort()
      assert.equal(await run, 0)
    }
  })

  it('without key pairs the management API is unsigned for loopback callers only, and refuses a foreign Host', {
    timeout: 15_000,
  }, async () => {
    const stop = new AbortController()
    const b = bufferIo(stop.signal)
    const run = runGatewayCli(
      ['--integration', 'http://127.0.0.1:9/ws/', '--port', '0', '--management-port', '0'],
      b.io,
    )
    try {
      const { management } = await started(b, run)
      const url = new URL(management)
      const port = Number(url.port)
      const path = `${url.pathname}/@connections/abc%3D`
      // Unsigned and reachable from this machine: an unknown id is simply gone.
      assert.equal((await send(port, 'POST', path, {}, 'x')).status, 410)
      // A page whose DNS name was rebound to 127.0.0.1 still says its own name in Host.
      const rebound = await send(port, 'POST', path, { host: `evil.example:${port}` }, 'x')
      assert.equal(rebound.status, 403)
      assert.equal(rebound.headers['x-amzn-errortype'], 'ForbiddenException')
    } finally {
      stop.abort()
      assert.equal(await run, 0)
    }
  })

  it('--allow-host lets the management API answer a Host name of your choice', {
    timeout: 15_000,
  }, async () => {
    const stop = new AbortController()
    const b = bufferIo(stop.signal)
    const run = runGatewayCli(
      [
        '--integration',
        'http://127.0.0.1:9/ws/',
        '--port',
        '0',
        '--management-port',
        '0',
        '--allow-host',
        'gw.local',
      ],
      b.io,
    )
    try {
      const url = new URL((await started(b, run)).management)
      const port = Number(url.port)
      const path = `${url.pathname}/@connections/abc%3D`
      const named = await send(port, 'POST', path, { host: `gw.local:${port}` }, 'x')
      assert.equal(named.status, 410)
      assert.equal((await send(port, 'POST', path, {}, 'x')).status, 410, '127.0.0.1 still')
      const other = await send(port, 'POST', path, { host: `gw.other:${port}` }, 'x')
      assert.equal(other.status, 403)
    } finally {
      stop.abort()
      assert.equal(await run, 0)
    }
  })

  it('--trusted-proxy: the client IP is what the trusted proxy added to X-Forwarded-For; without it, the peer', {
    timeout: 15_000,
  }, async () => {
    const ips: string[] = []
    const backend = createServer((req, res) => {
      if (req.url?.startsWith('/ws/connect')) ips.push(String(req.headers['x-forwarded-for']))
      req.resume()
      req.on('end', () => res.writeHead(200).end('{}'))
    })
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r))
    const integration = `http://127.0.0.1:${(backend.address() as AddressInfo).port}/ws/`
    try {
      for (const trusted of [false, true]) {
        const stop = new AbortController()
        const b = bufferIo(stop.signal)
        const flags = trusted ? ['--trusted-proxy', '127.0.0.1'] : []
        const run = runGatewayCli(
          ['--integration', integration, '--port', '0', '--management-port', '0', ...flags],
          b.io,
        )
        try {
          const { ws } = await started(b, run)
          // As a proxy on 127.0.0.1 sends it: the client's own claim, then the address it saw.
          const client = new WebSocket(ws, {
            headers: { 'x-forwarded-for': '198.51.100.1, 203.0.113.9' },
          })
          await new Promise((resolve, reject) => {
            client.once('open', resolve)
            client.once('error', reject)
          })
          client.close()
        } finally {
          stop.abort()
          assert.equal(await run, 0)
        }
      }
    } finally {
      await new Promise<void>((r) => backend.close(() => r()))
    }
    // Untrusted, the header is anyone's to write; trusted, the proxy's (rightmost) entry counts.
    assert.deepEqual(ips, ['127.0.0.1', '203.0.113.9'])
  })

  it('a port in use is exit 1 with a message', async () => {
    const blocker = createServer()
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r))
    const taken = (blocker.address() as AddressInfo).port
    const b = bufferIo(new AbortController().signal)
    try {
      const code = await runGatewayCli(
        [
          '--integration',
          'http://127.0.0.1:9/ws/',
          '--port',
          '0',
          '--management-port',
          String(taken),
        ],
        b.io,
      )
      assert.equal(code, 1)
      assert.match(b.err(), /cannot listen/)
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()))
    }
  })
})
