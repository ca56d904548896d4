/**
 * @module bench/lib/control
 * The control channel every bench server opens beside the system it runs: memory and CPU
 * readings, a connection count, and a broadcast trigger. It listens on its own loopback port
 * so its traffic never shares a socket with what is measured.
 */

import { writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { Session } from 'node:inspector/promises'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { writeHeapSnapshot } from 'node:v8'
import type { CpuSample, MemorySample, ReadyLine } from './protocol.ts'

/** What a server exposes to the control channel. */
export interface ControlHooks {
  /** Send `payload` once to every socket in `channel`; resolves with how many it was sent to. */
  broadcast(channel: string, payload: string, seq: number): Promise<number> | number
  /** Open client connections right now. */
  connections(): number
  /** Memory of another process of the same system, added to this one's. */
  extraMemory?: (mode: 'idle' | 'regular') => Promise<MemorySample>
  /** CPU time of another process of the same system, added to this one's. */
  extraCpu?: () => Promise<CpuSample>
}

const MAX_BODY_BYTES = 64 * 1024

/**
 * The V8 CPU profiler of this process, driven over the control channel so a profile covers
 * exactly the measured phase of a scenario (`--cpu-prof=phase`).
 */
const profiler = {
  session: undefined as Session | undefined,
  async start(): Promise<void> {
    if (this.session) return
    const session = new Session()
    session.connect()
    await session.post('Profiler.enable')
    await session.post('Profiler.setSamplingInterval', { interval: 200 })
    await session.post('Profiler.start')
    this.session = session
  },
  async stop(file: string): Promise<void> {
    const session = this.session
    if (!session) return
    this.session = undefined
    const { profile } = await session.post('Profiler.stop')
    session.disconnect()
    writeFileSync(file, JSON.stringify(profile))
  },
}
/** Padding so a broadcast is about 100 bytes on the wire, like a small chat message. */
const PAD = 'x'.repeat(64)

/**
 * Memory after V8's last-resort full collection (the server runs with `--expose-gc`).
 * A burst of connects leaves the heap committed well above what it holds; an idle server
 * gives that back over time (V8's memory reducer). The last-resort collection does it now,
 * so the reading is what the idle connections need, not slack from the burst.
 *
 * @example
 * ```ts
 * const { rss } = collectMemory()
 * ```
 */
export function collectMemory(mode: 'idle' | 'regular' = 'idle'): MemorySample {
  const gc = (globalThis as { gc?: (options?: object) => void }).gc
  if (gc) {
    if (mode === 'idle') gc({ type: 'major', execution: 'sync', flavor: 'last-resort' })
    gc()
    gc()
  }
  const m = process.memoryUsage()
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
  }
}

/**
 * CPU time used by this process so far.
 *
 * @example
 * ```ts
 * const before = collectCpu()
 * ```
 */
export function collectCpu(): CpuSample {
  const c = process.cpuUsage()
  return { userUs: c.user, systemUs: c.system }
}

function addMemory(a: MemorySample, b: MemorySample): MemorySample {
  return {
    rss: a.rss + b.rss,
    heapUsed: a.heapUsed + b.heapUsed,
    heapTotal: a.heapTotal + b.heapTotal,
    external: a.external + b.external,
    arrayBuffers: a.arrayBuffers + b.arrayBuffers,
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  let size = 0
  const chunks: Buffer[] = []
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) throw new Error('control body too large')
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  })
  res.end(text)
}

/**
 * Start the control channel on 127.0.0.1 (port 0).
 *
 * @example
 * ```ts
 * const control = await startControl({ broadcast: (ch, p) => send(ch, p), connections: () => n })
 * announce({ ready: true, kind: 'ws', tokenUrl, wsUrl, controlUrl: control.url })
 * ```
 */
export async function startControl(hooks: ControlHooks): Promise<{ url: string; close(): void }> {
  const server = createServer(async (req, res) => {
    try {
      const path = (req.url ?? '/').split('?')[0]
      if (req.method === 'GET' && path === '/memory') {
        const mode = (req.url ?? '').includes('mode=regular') ? 'regular' : 'idle'
        const own = collectMemory(mode)
        const extra = await hooks.extraMemory?.(mode)
        return json(res, 200, {
          memory: extra ? addMemory(own, extra) : own,
          connections: hooks.connections(),
        })
      }
      if (req.method === 'GET' && path === '/cpu') {
        const own = collectCpu()
        const extra = await hooks.extraCpu?.()
        return json(res, 200, {
          cpu: extra
            ? { userUs: own.userUs + extra.userUs, systemUs: own.systemUs + extra.systemUs }
            : own,
        })
      }
      if (req.method === 'POST' && path === '/heapsnapshot') {
        // Profiling aid (`--heap-snapshot`): the file lands in the directory the harness names.
        const { dir } = JSON.parse(await readBody(req)) as { dir: string }
        collectMemory()
        const file = writeHeapSnapshot(join(dir, `server-${process.pid}.heapsnapshot`))
        return json(res, 200, { file })
      }
      if (req.method === 'POST' && path === '/profile/start') {
        await profiler.start()
        return json(res, 200, { ok: true })
      }
      if (req.method === 'POST' && path === '/profile/stop') {
        const { dir, label } = JSON.parse(await readBody(req)) as { dir: string; label: string }
        const file = join(dir, `${label}-${process.pid}.cpuprofile`)
        await profiler.stop(file)
        return json(res, 200, { file })
      }
      if (req.method === 'GET' && path === '/stats') {
        return json(res, 200, { connections: hooks.connections() })
      }
      if (req.method === 'POST' && path === '/broadcast') {
        const { channel, seq } = JSON.parse(await readBody(req)) as { channel: string; seq: number }
        const payload = JSON.stringify({ type: 'bench', seq, pad: PAD })
        const sent = await hooks.broadcast(channel, payload, seq)
        return json(res, 200, { sent })
      }
      json(res, 404, { error: 'not found' })
    } catch (err) {
      json(res, 500, { error: String(err) })
    }
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, close: () => server.close() }
}

/**
 * Print the ready line and tie this server's life to the harness: it exits when stdin
 * closes (the harness is gone), on SIGTERM/SIGINT, or after `maxLifeMs` at the latest.
 *
 * @example
 * ```ts
 * announce({ ready: true, kind: 'ws', tokenUrl, wsUrl, controlUrl })
 * ```
 */
export function announce(ready: ReadyLine, maxLifeMs = 20 * 60_000): void {
  process.stdout.write(`${JSON.stringify(ready)}\n`)
  const bye = () => process.exit(0)
  process.stdin.on('end', bye)
  process.stdin.on('error', bye)
  process.stdin.resume()
  process.on('SIGTERM', bye)
  process.on('SIGINT', bye)
  setTimeout(bye, maxLifeMs).unref()
}
