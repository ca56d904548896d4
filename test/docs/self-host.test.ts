/**
 * docs/self-host.md against the code and the real tools: every `gatehouse` command line (in
 * its sh blocks and its systemd units) uses real flags; the three cluster node commands run
 * as written (ports 0, a redis-server of the test's own, a stand-in backend) and register;
 * the nginx config passes `nginx -t` and carries a WebSocket through TLS to the nodes with the
 * client IP nginx saw (when nginx is installed or `GATEHOUSE_NGINX` names it; otherwise its directives
 * are checked only); the systemd units pass `systemd-analyze verify`; the Redis config starts
 * a redis-server with the settings it promises; the PostgreSQL settings exist; the bounds
 * table says the defaults; the TypeScript snippet imports only what the package exports.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { pathToFileURL } from 'node:url'
import WebSocket from 'ws'
import type { App } from '../../src/app/create-app.ts'
import { GATEWAY_USAGE } from '../../src/cli/gateway-args.ts'
import { DEFAULTS } from '../../src/defaults.ts'
import type { Store } from '../../src/store/store.ts'
import { connectPostgres } from '../support/backends.ts'
import { startPrivateRedis } from '../support/private-services.ts'
import { freePort, killChild, startChild, until } from '../support/processes.ts'

const root = new URL('../../', import.meta.url)
const ROOT = root.pathname
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8')
const doc = read('docs/self-host.md')
const BIN = new URL('bin/gatehouse.ts', root).pathname

/** Fenced blocks with their language and the `<!-- file: … -->` note above them, if any. */
function blocks(): Array<{ lang: string; body: string; file: string | undefined }> {
  const re = /(?:<!-- file: (\S+) -->\n)?^```(\w*)\n([\s\S]*?)^```$/gm
  return [...doc.matchAll(re)].map((m) => ({ file: m[1], lang: m[2] ?? '', body: m[3] ?? '' }))
}
const fileBlock = (name: string): string => {
  const b = blocks().find((x) => x.file === name)
  assert.ok(b, `docs/self-host.md shows ${name}`)
  return b.body
}

/** Every `gatehouse gateway …` line: in sh blocks, and the ExecStart of the units. */
function gatewayLines(): string[] {
  const sh = blocks()
    .filter((b) => b.lang === 'sh')
    .flatMap((b) => b.body.split('\n'))
    .filter((l) => l.startsWith('gatehouse gateway '))
  const units = blocks()
    .filter((b) => b.lang === 'ini')
    .flatMap((b) => b.body.split('\n'))
    .filter((l) => l.startsWith('ExecStart=') && l.includes(' gateway '))
    .map((l) => `gatehouse gateway ${l.slice(l.indexOf(' gateway ') + ' gateway '.length)}`)
  return [...sh, ...units]
}

const nginxBin = (): string | null => {
  const candidate = process.env.GATEHOUSE_NGINX ?? 'nginx'
  const probe = spawnSync(candidate, ['-v'], { encoding: 'utf8' })
  return probe.status === 0 ? candidate : null
}

const SECRET = 'a-long-random-secret-of-32-characters'
const DOC_SID = 'sid-alice-0123456789abcdef'
const DOC_CSRF = 'k3Vq9dZbXf0aT7hLw2mN8pR4sY6uC1eG'
const DOC_ORIGIN = 'https://chat.example.com'

interface RanApp {
  readonly app: App
  readonly servers: Server[]
  readonly stores: Store[]
}

/**
 * Run the page's TypeScript snippet as a module: its imports pointed at src/, `node:http`
 * and `gatehouse/postgres` at shims that keep the servers and stores (to close them) and put
 * the store in this test's schema, `./my-auth.ts` at a stand-in for the host's sessions,
 * and its port at `GH_DOC_PORT`.
 */
async function runAppSnippet(dir: string, env: Record<string, string>): Promise<RanApp> {
  const ts = blocks().filter((b) => b.lang === 'ts')
  assert.equal(ts.length, 1)
  const src = (path: string) => pathToFileURL(join(ROOT, 'src', path)).href
  Object.assign(process.env, env)
  writeFileSync(
    join(dir, 'shims.ts'),
    `import * as http from 'node:http'
import { createPostgresStore as real } from '${src('store/postgres.ts')}'
export const servers: http.Server[] = []
export const stores: unknown[] = []
export function createServer(...args: unknown[]): http.Server {
  const server = (http.createServer as (...a: unknown[]) => http.Server)(...args)
  servers.push(server)
  return server
}
export async function createPostgresStore(options: Parameters<typeof real>[0]) {
  const store = await real({ ...options, schema: process.env.GH_DOC_SCHEMA! } as Parameters<typeof real>[0])
  stores.push(store)
  return store
}
`,
  )
  writeFileSync(
    join(dir, 'my-auth.ts'),
    `import { parseCookies } from '${src('index.ts')}'
const SID = ${JSON.stringify(DOC_SID)}
export async function authenticate(request: Request) {
  return parseCookies(request.headers.get('cookie')).get('sessionid') === SID ? { userId: 'alice', sessionId: SID } : null
}
export function identify(event: { headers: Record<string, string | undefined> }) {
  const sessionId = parseCookies(event.headers.cookie).get('sessionid') ?? null
  return { sessionId, userId: sessionId === SID ? 'alice' : null }
}
export const loadUser = (id: string) => ({ id, permissions: [] })
`,
  )
  const code = ts[0]!.body
  const rewritten = code
    .replace("from 'node:http'", "from './shims.ts'")
    .replace("from 'gatehouse/postgres'", "from './shims.ts'")
    .replace("from 'gatehouse'", `from '${src('index.ts')}'`)
    .replace("from 'gatehouse/node'", `from '${src('adapters/node.ts')}'`)
    .replace(".listen(8000, '127.0.0.1')", ".listen(Number(process.env.GH_DOC_PORT), '127.0.0.1')")
  // The rewrites found what they expected: the snippet did not drift from this harness.
  assert.equal((rewritten.match(/shims\.ts/g) ?? []).length, 2)
  assert.ok(rewritten.includes('GH_DOC_PORT') && !rewritten.includes("from 'gatehouse"))
  const file = join(dir, 'app-snippet.ts')
  writeFileSync(
    file,
    `${rewritten}\nexport { app }\nexport { servers, stores } from './shims.ts'\n`,
  )
  const mod = (await import(pathToFileURL(file).href)) as RanApp
  for (const server of mod.servers) {
    if (!server.listening) await new Promise((resolve) => server.once('listening', resolve))
  }
  return mod
}

/** nginx with the page's config: this run's node ports, a self-signed certificate, a free port. */
async function startNginx(
  bin: string,
  dir: string,
  nodes: ReadonlyArray<{ ws: string }>,
): Promise<{ child: ChildProcess; port: number }> {
  const key = join(dir, 'ws.key')
  const cert = join(dir, 'ws.pem')
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=ws.example.com'].concat([
      '-days',
      '1',
      '-keyout',
      key,
      '-out',
      cert,
    ]),
    { stdio: 'ignore' },
  )
  const port = await freePort()
  let site = fileBlock('gatehouse.conf')
    .replace('listen 443 ssl;', `listen 127.0.0.1:${port} ssl;`)
    .replace('/etc/ssl/certs/ws.example.com.pem', cert)
    .replace('/etc/ssl/private/ws.example.com.key', key)
  const documented = [...site.matchAll(/server 127\.0\.0\.1:(\d+)/g)].map((m) => m[1]!)
  assert.equal(documented.length, nodes.length)
  documented.forEach((p, i) => {
    site = site.replace(`127.0.0.1:${p} `, `127.0.0.1:${new URL(nodes[i]!.ws).port} `)
  })
  writeFileSync(join(dir, 'gatehouse.conf'), site)
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;\nworker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\n` +
      `events { worker_connections 256; }\n` +
      `http {\n  access_log off;\n` +
      ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
        .map((k) => `  ${k}_temp_path ${dir}/${k};\n`)
        .join('') +
      `  include ${dir}/gatehouse.conf;\n}\n`,
  )
  const check = spawnSync(bin, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], {
    encoding: 'utf8',
  })
  assert.equal(check.status, 0, check.stderr)
  const child = startChild(bin, { args: ['-p', dir, '-c', join(dir, 'nginx.conf')] })
  await until(
    () =>
      new Promise<boolean>((resolve) => {
        const probe = createServer()
        probe.once('error', () => resolve(true)) // nginx holds the port
        probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(false)))
      }),
    10_000,
    50,
    'nginx to listen',
  )
  return { child, port }
}

describe('docs/self-host.md', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-self-host-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('has the sections it promises and is linked from the README', () => {
    const headings = [...doc.matchAll(/^## (.+)$/gm)].map((m) => m[1])
    assert.deepEqual(headings, [
      'One node',
      'Three nodes behind a load balancer',
      'nginx in front',
      'systemd units',
      'Redis settings',
      'PostgreSQL settings',
      'Cluster bounds',
      'What each failure does',
    ])
    assert.match(read('README.md'), /\(docs\/self-host\.md\)/)
    const failures = doc.slice(doc.indexOf('## What each failure does'))
    for (const row of [
      'Node killed',
      'Node stopped',
      'Redis down',
      'PostgreSQL down',
      'App down',
      'Network partition of one node',
    ]) {
      assert.match(failures, new RegExp(`^\\| \\*\\*${row}\\*\\*`, 'm'), row)
    }
  })

  it('every gatehouse gateway line, in sh blocks and units, uses flags the command has', () => {
    const lines = gatewayLines()
    assert.ok(lines.length >= 5, lines.join('\n'))
    for (const line of lines) {
      for (const flag of line.match(/(?<=\s)--[a-z-]+/g) ?? []) {
        assert.ok(GATEWAY_USAGE.includes(`${flag} `), `${line}\n${flag} is not a gateway flag`)
      }
    }
  })

  it('the bounds table gives the defaults of the code', () => {
    const row = (name: string) => {
      const m = new RegExp(`^\\| ${name} .*?\\| ([\\d ]+) ms \\|`, 'm').exec(doc)
      assert.ok(m, name)
      return Number(m[1]!.replaceAll(' ', ''))
    }
    assert.equal(row('heartbeat'), DEFAULTS.clusterHeartbeatIntervalMs)
    assert.equal(row('death'), DEFAULTS.clusterDeadAfterMs)
    assert.equal(row('routing'), DEFAULTS.clusterRouteTimeoutMs)
    const death = (DEFAULTS.clusterDeadAfterMs + DEFAULTS.clusterHeartbeatIntervalMs) / 1000
    assert.ok(doc.includes(`deadAfterMs + one heartbeat (${death} s)`))
    const settle = (DEFAULTS.clusterDeadAfterMs + 2 * DEFAULTS.clusterHeartbeatIntervalMs) / 1000
    assert.ok(doc.includes(`deadAfterMs + 2 heartbeats (${settle} s)`))
  })

  it('the TypeScript snippet imports only what the package exports', async () => {
    const pkg = JSON.parse(read('package.json')) as {
      exports: Record<string, { 'gatehouse-source'?: string } | string>
    }
    const ts = blocks().filter((b) => b.lang === 'ts')
    assert.ok(ts.length > 0)
    for (const b of ts) {
      for (const m of b.body.matchAll(/^import \{([^}]+)\} from '(gatehouse[^']*)'/gm)) {
        const subpath = m[2] === 'gatehouse' ? '.' : `./${m[2]!.slice('gatehouse/'.length)}`
        const target = pkg.exports[subpath]
        const src = typeof target === 'string' ? undefined : target?.['gatehouse-source']
        assert.ok(src, `package.json exports ${subpath}`)
        const mod = (await import(new URL(src, root).href)) as Record<string, unknown>
        for (const name of m[1]!.split(',').map((n) => n.trim())) {
          assert.ok(name in mod, `${m[2]} exports ${name}`)
        }
      }
    }
  })

  it('the nginx config has the upgrade, forwarding and TLS directives the page relies on', () => {
    const conf = fileBlock('gatehouse.conf')
    for (const directive of [
      /proxy_http_version 1\.1;/,
      /proxy_set_header Upgrade \$http_upgrade;/,
      /proxy_set_header Connection \$connection_upgrade;/,
      /map \$http_upgrade \$connection_upgrade \{/,
      /proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;/,
      /listen 443 ssl;/,
      /ssl_certificate /,
      /ssl_certificate_key /,
      /proxy_read_timeout (\d+)s;/,
    ]) {
      assert.match(conf, directive)
    }
    // Longer than the gateway's pings, or nginx would cut idle sockets.
    const readTimeout = Number(/proxy_read_timeout (\d+)s;/.exec(conf)![1]) * 1000
    assert.ok(readTimeout > DEFAULTS.pingIntervalMs)
    assert.equal((conf.match(/{/g) ?? []).length, (conf.match(/}/g) ?? []).length)
    // The upstreams are the nodes of the trial commands.
    const upstreams = [...conf.matchAll(/server 127\.0\.0\.1:(\d+)/g)].map((m) => m[1])
    const ports = gatewayLines()
      .map((l) => /--port (\d+)/.exec(l)?.[1])
      .filter((p) => p?.endsWith('1') && p !== '3001')
    assert.deepEqual(upstreams, ports)
  })

  it('the systemd units pass systemd-analyze verify (when installed)', (t) => {
    const probe = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' })
    const units = ['gatehouse-gateway@.service', 'gatehouse-app.service']
    for (const name of units) {
      const body = fileBlock(name)
      assert.match(body, /^\[Unit\]$/m)
      assert.match(body, /^\[Service\]$/m)
      assert.match(body, /^\[Install\]$/m)
      assert.match(body, /^ExecStart=\/usr\/bin\/node /m)
      // Runnable here: the node binary of this machine.
      writeFileSync(join(dir, name), body.replaceAll('/usr/bin/node', process.execPath))
    }
    if (probe.status !== 0) {
      t.skip('systemd-analyze not installed: units checked for their sections only')
      return
    }
    for (const name of ['gatehouse-gateway@gw-1.service', 'gatehouse-app.service']) {
      const file = join(dir, name)
      if (name.includes('@gw-1')) {
        writeFileSync(file, readFileSync(join(dir, 'gatehouse-gateway@.service')))
      }
      const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' })
      assert.equal(r.status, 0, `${name}: ${r.stderr}`)
      assert.equal(r.stderr.trim(), '', `${name}: ${r.stderr}`)
    }
  })

  it('the PostgreSQL settings are real settings', async (t) => {
    const pg = await connectPostgres()
    if (pg === null) {
      if (process.env.CI === 'true') assert.fail('PostgreSQL not reachable')
      t.skip('PostgreSQL not reachable: settings not checked')
      return
    }
    try {
      const names = [...fileBlock('postgresql.conf').matchAll(/^(\w+) = /gm)].map((m) => m[1])
      assert.ok(names.length >= 3)
      const r = await pg.pool.query('SELECT name FROM pg_settings WHERE name = ANY($1)', [names])
      assert.deepEqual(r.rows.map((row: { name: string }) => row.name).sort(), [...names].sort())
    } finally {
      await pg.pool.end()
    }
  })

  it('the Redis config starts a redis-server with no persistence and no eviction', async (t) => {
    const port = await freePort()
    const conf = join(dir, 'redis-cluster.conf')
    writeFileSync(conf, `${fileBlock('redis-cluster.conf')}\nport ${port}\ndir ${dir}\n`)
    const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
    if (probe.status !== 0) {
      if (process.env.CI === 'true') assert.fail('redis-server is not installed')
      t.skip('redis-server not installed: config not run')
      return
    }
    const server = startChild('redis-server', { args: [conf] })
    const { Redis } = await import('ioredis')
    const client = new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: true })
    client.on('error', () => {})
    try {
      await until(
        async () => {
          if (server.exitCode !== null) throw new Error('redis-server refused the config')
          return client.connect().then(
            () => true,
            () => false,
          )
        },
        10_000,
        50,
        'redis-server with the documented config',
      )
      const get = async (key: string) => ((await client.config('GET', key)) as string[])[1]
      assert.equal(await get('maxmemory-policy'), 'noeviction')
      assert.equal(await get('appendonly'), 'no')
      assert.equal(await get('save'), '')
    } finally {
      client.disconnect()
      await killChild(server, 'SIGKILL')
    }
  })

  it('the app snippet and three nodes run as written, register, and nginx carries TLS WebSockets to them', {
    timeout: 60_000,
  }, async (t) => {
    const pg = await connectPostgres()
    if (pg === null) {
      if (process.env.CI === 'true') assert.fail('PostgreSQL not reachable')
      t.skip('PostgreSQL not reachable: the app and the cluster commands not run')
      return
    }
    const redis = await startPrivateRedis({ persist: false }).catch(() => null)
    if (redis === null) {
      await pg.pool.end()
      if (process.env.CI === 'true') assert.fail('redis-server is not installed')
      t.skip('redis-server not installed: the cluster commands not run')
      return
    }
    const schema = `gh_doc_self_host_${process.pid}`
    const appPort = await freePort()
    const children: ChildProcess[] = []
    const sockets: WebSocket[] = []
    let nginx: ChildProcess | undefined
    let ran: RanApp | undefined
    try {
      // The three node commands, with free ports, this test's Redis and the app's port.
      const nodes: Array<{ ws: string; management: string; slot: number }> = []
      const commands = gatewayLines().filter((l) => l.includes('--cluster redis://127.0.0.1'))
      assert.equal(commands.length, 3)
      for (const line of commands) {
        const argv = line
          .split(/\s+/)
          .slice(1)
          .map((a) =>
            a
              .replace(/^redis:\/\/127\.0\.0\.1:6379$/, redis.url)
              .replace(/^http:\/\/127\.0\.0\.1:8000\//, `http://127.0.0.1:${appPort}/`)
              .replace(/^30\d\d$/, '0'),
          )
        const child = startChild(BIN, { args: argv, env: { GATEHOUSE_SECRET: SECRET } })
        children.push(child)
        let out = ''
        child.stdout?.on('data', (d: Buffer) => {
          out += d.toString()
        })
        let err = ''
        child.stderr?.on('data', (d: Buffer) => {
          err += d.toString()
        })
        await until(
          () => {
            if (child.exitCode !== null) throw new Error(`${line}\nexited: ${err}`)
            return /^cluster: node \S+ slot \d+$/m.test(out) && /^management: /m.test(out)
          },
          20_000,
          20,
          `the cluster line of: ${line}`,
        )
        const [, id, slot] = /^cluster: node (\S+) slot (\d+)$/m.exec(out)!
        assert.equal(id, /--node-id (\S+)/.exec(line)![1])
        nodes.push({
          ws: /^websocket: (\S+)$/m.exec(out)![1]!,
          management: /^management: (\S+)$/m.exec(out)![1]!,
          slot: Number(slot),
        })
      }
      assert.equal(new Set(nodes.map((n) => n.slot)).size, 3)

      // The app snippet, pushing through the first node only.
      ran = await runAppSnippet(dir, {
        DATABASE_URL: pg.url,
        GATEHOUSE_SECRET: SECRET,
        GATEHOUSE_MANAGEMENT_URL: nodes[0]!.management,
        GH_DOC_SCHEMA: schema,
        GH_DOC_PORT: String(appPort),
      })
      const token = async (): Promise<string> => {
        const res = await fetch(`http://127.0.0.1:${appPort}/api/ws-token/`, {
          method: 'POST',
          headers: {
            cookie: `sessionid=${DOC_SID}; csrftoken=${DOC_CSRF}`,
            'x-csrftoken': DOC_CSRF,
            origin: DOC_ORIGIN,
            'sec-fetch-site': 'same-origin',
          },
        })
        assert.equal(res.status, 200, await res.clone().text())
        return ((await res.json()) as { token: string }).token
      }
      const open = async (url: string, options: WebSocket.ClientOptions = {}) => {
        const ws = new WebSocket(`${url}?ws_token=${await token()}`, {
          ...options,
          headers: { cookie: `sessionid=${DOC_SID}`, origin: DOC_ORIGIN, ...options.headers },
        })
        sockets.push(ws)
        const got: string[] = []
        ws.on('message', (d: Buffer) => got.push(d.toString()))
        await new Promise((resolve, reject) => {
          ws.once('open', resolve)
          ws.once('error', reject)
        })
        return got
      }

      const bin = nginxBin()
      let inboxes: string[][]
      let expectedIps: string[]
      if (bin === null) {
        t.diagnostic(
          'nginx not installed (or GATEHOUSE_NGINX unset): its config was checked, not run',
        )
        inboxes = [await open(nodes[0]!.ws), await open(nodes[1]!.ws), await open(nodes[2]!.ws)]
        expectedIps = ['127.0.0.1', '127.0.0.1', '127.0.0.1']
      } else {
        const tlsPort = await startNginx(bin, dir, nodes)
        nginx = tlsPort.child
        // Through TLS, from 127.0.0.5–7, each claiming an IP of its own choosing.
        inboxes = []
        for (let i = 0; i < 3; i++) {
          inboxes.push(
            await open(`wss://127.0.0.1:${tlsPort.port}/production`, {
              rejectUnauthorized: false,
              localAddress: `127.0.0.${5 + i}`,
              headers: { 'x-forwarded-for': '198.51.100.66' },
            }),
          )
        }
        // The gateway believed nginx (the trusted proxy), not the client's claim nor nginx's
        // own address: each is the address nginx saw.
        expectedIps = ['127.0.0.5', '127.0.0.6', '127.0.0.7']
      }
      // One push from the app through one node reaches every socket, wherever it is.
      assert.deepEqual(await ran.app.send.toAll({ type: 'hello' }), { sent: 3, gone: 0 })
      await until(() => inboxes.every((box) => box.length === 1), 5_000, 10, 'the push')
      for (const box of inboxes) assert.deepEqual(JSON.parse(box[0]!), { type: 'hello' })
      // And any node describes any socket, with the client IP the gateway settled on.
      const ids = await ran.stores[0]!.listConnections({ all: true })
      const ips: string[] = []
      for (const [i, id] of ids.entries()) {
        const node = nodes[i % 3]!
        const res = await fetch(`${node.management}/@connections/${encodeURIComponent(id)}`)
        assert.equal(res.status, 200)
        ips.push(((await res.json()) as { identity: { sourceIp: string } }).identity.sourceIp)
      }
      assert.deepEqual(ips.sort(), expectedIps)
    } finally {
      for (const ws of sockets) ws.terminate()
      // SIGTERM: the master stops its worker first (a SIGKILL'd master leaves it running).
      if (nginx) await killChild(nginx, 'SIGTERM')
      await Promise.allSettled(children.map((c) => killChild(c, 'SIGKILL')))
      if (ran) {
        for (const server of ran.servers) {
          server.closeAllConnections()
          await new Promise((r) => server.close(r))
        }
        for (const store of ran.stores) await store.close()
      }
      await pg.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      await pg.pool.end()
      await redis.destroy()
    }
  })
})
