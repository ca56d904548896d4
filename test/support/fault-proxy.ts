/**
 * A TCP fault proxy for the fault suite: it sits between the gateway and an app on loopback
 * and, on command, forwards, refuses (nothing listens: connection refused), or hangs (accepts
 * and reads but never answers). It keeps its port across modes, so the gateway's integration
 * URL never changes, as a load balancer in front of a restarting app would.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'

/** What the proxy does with connections. */
export type ProxyMode = 'forward' | 'down' | 'hang'

/** A running proxy. */
export interface FaultProxy {
  /** `127.0.0.1:<port>`, stable for the proxy's life. */
  readonly host: string
  readonly port: number
  readonly mode: ProxyMode
  /** Forward to the target again (listening again if it was down). */
  forward(): Promise<void>
  /** Stop listening and reset every connection: callers get ECONNREFUSED / ECONNRESET. */
  down(): Promise<void>
  /**
   * Accept and read, never answer or forward. Existing forwarded connections are cut, so
   * kept-alive sockets cannot slip a call through to the app.
   */
  hang(): Promise<void>
  /** Connections accepted in hang mode and still held. */
  held(): number
  close(): Promise<void>
}

/**
 * Start a proxy on a free loopback port in front of `target`.
 *
 * @example
 * ```ts
 * const proxy = await startFaultProxy({ host: '127.0.0.1', port: appPort })
 * await proxy.down() // the app is "gone"
 * await proxy.forward() // back
 * ```
 */
export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  let mode: ProxyMode = 'forward'
  const sockets = new Set<Socket>()
  const held = new Set<Socket>()

  function onConnection(client: Socket): void {
    sockets.add(client)
    client.on('close', () => {
      sockets.delete(client)
      held.delete(client)
    })
    client.on('error', () => client.destroy())
    if (mode === 'hang') {
      held.add(client)
      // Read and drop, so the caller's writes complete and only the answer is missing.
      client.on('data', () => {})
      return
    }
    const upstream = tcpConnect(target.port, target.host)
    sockets.add(upstream)
    upstream.on('close', () => {
      sockets.delete(upstream)
      client.destroy()
    })
    upstream.on('error', () => upstream.destroy())
    client.on('close', () => upstream.destroy())
    client.pipe(upstream)
    upstream.pipe(client)
  }

  let server: Server = createServer(onConnection)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port

  function cutAll(): void {
    for (const s of sockets) s.resetAndDestroy()
    sockets.clear()
    held.clear()
  }

  async function listening(): Promise<void> {
    if (server.listening) return
    server = createServer(onConnection)
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject)
        resolve()
      })
    })
  }

  async function stopListening(): Promise<void> {
    if (!server.listening) return
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    cutAll()
    await closed
  }

  return {
    host: `127.0.0.1:${port}`,
    port,
    get mode() {
      return mode
    },
    async forward() {
      mode = 'forward'
      for (const s of held) s.resetAndDestroy()
      await listening()
    },
    async down() {
      mode = 'down'
      await stopListening()
    },
    async hang() {
      mode = 'hang'
      cutAll()
      await listening()
    },
    held: () => held.size,
    async close() {
      await stopListening()
    },
  }
}
