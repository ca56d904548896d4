/**
 * Many plain WebSocket clients at once, spread over loopback source addresses (127.0.0.2 …)
 * so that neither the ephemeral port range nor the gateway's per-address caps are what a
 * scenario measures.
 */
import WebSocket from 'ws'

/** Options of {@link openCrowd}. */
export interface CrowdOptions {
  /** Source addresses to spread over (127.0.0.2 … 127.0.0.<sources+1>). Default 10. */
  readonly sources?: number
  /** Upgrades in flight at once. Default 64. */
  readonly concurrency?: number
  /** Headers of every upgrade. */
  readonly headers?: Readonly<Record<string, string>>
  /** Query string per client (e.g. its token). */
  readonly query?: (i: number) => string
}

/**
 * Open `count` clients to `url`; rejects if any upgrade fails.
 *
 * @example
 * ```ts
 * const clients = await openCrowd(url, 5_000, { sources: 10 })
 * ```
 */
export async function openCrowd(
  url: string,
  count: number,
  options: CrowdOptions = {},
): Promise<WebSocket[]> {
  const sources = options.sources ?? 10
  const out: WebSocket[] = new Array(count)
  let next = 0
  async function worker(): Promise<void> {
    while (next < count) {
      const i = next++
      const query = options.query ? `?${options.query(i)}` : ''
      out[i] = await new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(`${url}${query}`, {
          localAddress: `127.0.0.${2 + (i % sources)}`,
          perMessageDeflate: false,
          ...(options.headers ? { headers: { ...options.headers } } : {}),
        })
        ws.once('open', () => {
          ws.off('error', reject)
          ws.on('error', () => {})
          resolve(ws)
        })
        ws.once('unexpected-response', (_req, res) =>
          reject(new Error(`upgrade refused: ${res.statusCode}`)),
        )
        ws.once('error', reject)
      })
    }
  }
  await Promise.all(Array.from({ length: Math.min(count, options.concurrency ?? 64) }, worker))
  return out
}

/**
 * Close every client and wait until each has seen its close (bounded).
 *
 * @example
 * ```ts
 * await closeCrowd(clients, 10_000)
 * ```
 */
export async function closeCrowd(clients: readonly WebSocket[], timeoutMs: number): Promise<void> {
  const closed = clients.map(
    (ws) =>
      new Promise<void>((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve()
        ws.once('close', () => resolve())
        ws.close()
      }),
  )
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    Promise.all(closed),
    new Promise((resolve) => {
      timer = setTimeout(resolve, timeoutMs)
    }),
  ])
  clearTimeout(timer)
  for (const ws of clients) if (ws.readyState !== WebSocket.CLOSED) ws.terminate()
}
