/**
 * @module bench/faults/server-handle
 * Start, read and stop the fault server (`server.ts`) from a test or the bench.
 */
import type { ChildProcess } from 'node:child_process'
import { readJsonLine, startChild } from '../../test/support/processes.ts'
import type { ServerConfig } from './server-config.ts'

/** What the server printed when ready. */
export interface ServerReady {
  readonly pid: number
  readonly wsUrl: string
  readonly tokenUrl: string
  readonly controlUrl: string
  readonly ports: { wsPort: number; httpPort: number; controlPort: number }
  readonly startMs: number
}

/** The server's counters and readings (`GET /stats`). */
export interface ServerStats {
  readonly connects: number
  readonly disconnects: number
  readonly messages: number
  readonly refused: Record<string, number>
  readonly tokens: Record<string, number>
  readonly open: number
  readonly pending: number
  readonly tasks: number
  readonly rss: number
  readonly heapUsed: number
  readonly heapTotal: number
  readonly external: number
  readonly cpuUs: number
  readonly timers: number
  readonly uptimeMs: number
}

/** A running fault server. */
export interface RunningServer extends ServerReady {
  readonly child: ChildProcess
  stats(gc?: boolean): Promise<ServerStats>
  /** SIGTERM it; resolves with its final counts once it exited (and its exit code). */
  terminate(): Promise<ServerStats & { code: number | null }>
}

const SCRIPT = new URL('./server.ts', import.meta.url).pathname

/**
 * Start the fault server with `config`.
 *
 * @example
 * ```ts
 * const server = await startServer({ dir })
 * const { open } = await server.stats()
 * ```
 */
export async function startServer(
  config: ServerConfig,
  options: { openFiles?: number } = {},
): Promise<RunningServer> {
  const child = startChild(SCRIPT, {
    args: [JSON.stringify(config)],
    nodeFlags: ['--expose-gc'],
    ...(options.openFiles ? { openFiles: options.openFiles } : {}),
  })
  const ready = await readJsonLine<ServerReady>(child, (m) => m.ready === true, 60_000)
  const stopped = readJsonLine<ServerStats>(child, (m) => m.stopped === true, 24 * 3_600_000)
  stopped.catch(() => {})
  return {
    ...ready,
    child,
    async stats(gc = false) {
      const res = await fetch(`${ready.controlUrl}/stats${gc ? '?gc=1' : ''}`)
      return (await res.json()) as ServerStats
    },
    async terminate() {
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      const final = await stopped
      return { ...final, code: await exited }
    },
  }
}
