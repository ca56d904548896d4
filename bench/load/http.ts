/**
 * @module bench/load/http
 * Small HTTP calls of the load generators: token issue (measured) and control requests
 * (not measured), over keep-alive agents on loopback.
 */
import { Agent, request } from 'node:http'
import type { CpuSample, MemorySample } from '../lib/protocol.ts'

const MAX_RESPONSE_BYTES = 64 * 1024
const TIMEOUT_MS = 15_000

/**
 * Keep-alive agent for token issue; sized by the caller's concurrency.
 *
 * @example
 * ```ts
 * const agent = tokenAgent(32)
 * ```
 */
export function tokenAgent(maxSockets: number): Agent {
  return new Agent({ keepAlive: true, maxSockets })
}

const controlAgent = new Agent({ keepAlive: true, maxSockets: 4 })

/**
 * One HTTP request; resolves with status and text body (bounded size and time).
 *
 * @example
 * ```ts
 * const { status, body } = await httpCall('POST', 'http://127.0.0.1:1234/token', {}, '', agent)
 * ```
 */
export function httpCall(
  method: string,
  url: string,
  headers: Record<string, string>,
  body: string,
  agent: Agent,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        agent,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        timeout: TIMEOUT_MS,
      },
      (res) => {
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (c: Buffer) => {
          size += c.length
          if (size > MAX_RESPONSE_BYTES) {
            req.destroy(new Error('response too large'))
            return
          }
          chunks.push(c)
        })
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        )
        res.on('error', reject)
      },
    )
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)))
    req.on('error', reject)
    req.end(body)
  })
}

async function control<T>(method: string, url: string, body = ''): Promise<T> {
  const res = await httpCall(
    method,
    url,
    { 'content-type': 'application/json' },
    body,
    controlAgent,
  )
  if (res.status !== 200) throw new Error(`control ${url}: ${res.status} ${res.body.slice(0, 200)}`)
  return JSON.parse(res.body) as T
}

/**
 * Server memory after GC, and its open connection count. `idle` (the default) runs V8's
 * last-resort collection first, which also gives back heap slack; `regular` does not.
 *
 * @example
 * ```ts
 * const { memory, connections } = await readMemory(controlUrl)
 * ```
 */
export function readMemory(
  controlUrl: string,
  mode: 'idle' | 'regular' = 'idle',
): Promise<{ memory: MemorySample; connections: number }> {
  return control('GET', `${controlUrl}/memory?mode=${mode}`)
}

/**
 * Server CPU time so far.
 *
 * @example
 * ```ts
 * const before = await readCpu(controlUrl)
 * ```
 */
export async function readCpu(controlUrl: string): Promise<CpuSample> {
  return (await control<{ cpu: CpuSample }>('GET', `${controlUrl}/cpu`)).cpu
}

/**
 * Ask the server to broadcast one message to a channel.
 *
 * @example
 * ```ts
 * await broadcast(controlUrl, 'bench', 3)
 * ```
 */
export async function broadcast(controlUrl: string, channel: string, seq: number): Promise<number> {
  const r = await control<{ sent: number }>(
    'POST',
    `${controlUrl}/broadcast`,
    JSON.stringify({ channel, seq }),
  )
  return r.sent
}

/**
 * Ask the server to write a heap snapshot into `dir`; resolves with the file name.
 *
 * @example
 * ```ts
 * const file = await heapSnapshot(controlUrl, '/tmp/profiles')
 * ```
 */
export async function heapSnapshot(controlUrl: string, dir: string): Promise<string> {
  return (
    await control<{ file: string }>('POST', `${controlUrl}/heapsnapshot`, JSON.stringify({ dir }))
  ).file
}

/**
 * Start the server's CPU profiler (when `dir` is set), run `body`, then stop it and write
 * `<dir>/<label>-<pid>.cpuprofile`.
 *
 * @example
 * ```ts
 * await profiled(controlUrl, job.profileDir, 'connect', () => connectAll())
 * ```
 */
export async function profiled<T>(
  controlUrl: string,
  dir: string | undefined,
  label: string,
  body: () => Promise<T>,
): Promise<T> {
  if (!dir) return body()
  await control('POST', `${controlUrl}/profile/start`, '{}')
  try {
    return await body()
  } finally {
    await control('POST', `${controlUrl}/profile/stop`, JSON.stringify({ dir, label }))
  }
}

/**
 * Close idle keep-alive sockets so the process can exit.
 *
 * @example
 * ```ts
 * closeAgents(agent)
 * ```
 */
export function closeAgents(...agents: Agent[]): void {
  for (const a of [controlAgent, ...agents]) a.destroy()
}
