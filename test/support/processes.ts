/**
 * Child processes the fault suite starts: each is tracked by pid and killed (SIGKILL, by
 * pid, including a stopped one) when the test process exits, so a failing test never leaves
 * a paused client or a private redis-server behind. Nothing here touches a process it did
 * not start.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createServer } from 'node:net'

const children = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of children) {
    try {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL')
    } catch {
      // Already gone.
    }
  }
})

/** Options of {@link startChild}. */
export interface ChildOptions {
  readonly args?: readonly string[]
  readonly env?: Readonly<Record<string, string>>
  /** Raise the child's soft open-files limit to this first (`ulimit -n` in a shell). */
  readonly openFiles?: number
  /** Extra Node flags, for Node scripts (e.g. `--expose-gc`). */
  readonly nodeFlags?: readonly string[]
}

/**
 * Start `command` (a Node script when it ends in `.ts`), tracked for cleanup.
 *
 * @example
 * ```ts
 * const redis = startChild('redis-server', { args: ['--port', String(port), '--save', ''] })
 * ```
 */
export function startChild(command: string, options: ChildOptions = {}): ChildProcess {
  const isScript = command.endsWith('.ts')
  const file = isScript ? process.execPath : command
  const args = isScript
    ? [...(options.nodeFlags ?? []), command, ...(options.args ?? [])]
    : [...(options.args ?? [])]
  const env = { ...process.env, ...options.env }
  const child =
    options.openFiles === undefined
      ? spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env })
      : spawn(
          '/bin/sh',
          ['-c', `ulimit -n ${options.openFiles} 2>/dev/null; exec "$0" "$@"`, file, ...args],
          { stdio: ['pipe', 'pipe', 'pipe'], env },
        )
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

/**
 * Resolve with the first stdout line that parses as JSON and satisfies `accept`.
 *
 * @example
 * ```ts
 * const ready = await readJsonLine(child, (m) => m.ready === true, 20_000)
 * ```
 */
export function readJsonLine<T = Record<string, unknown>>(
  child: ChildProcess,
  accept: (message: Record<string, unknown>) => boolean,
  timeoutMs: number,
): Promise<T> {
  return new Promise((resolve, reject) => {
    let buffer = ''
    let stderr = ''
    const onErr = (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000)
    }
    const onData = (d: Buffer) => {
      buffer += d.toString()
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl).trim()
        buffer = buffer.slice(nl + 1)
        if (!line.startsWith('{')) continue
        try {
          const message = JSON.parse(line) as Record<string, unknown>
          if (accept(message)) {
            done()
            resolve(message as T)
            return
          }
        } catch {
          // Not ours.
        }
      }
    }
    const onExit = (code: number | null, signal: string | null) => {
      done()
      reject(new Error(`child exited (${code ?? signal}) before its line\n${stderr}`))
    }
    const timer = setTimeout(() => {
      done()
      reject(new Error(`no line from the child within ${timeoutMs} ms\n${stderr}`))
    }, timeoutMs)
    function done() {
      clearTimeout(timer)
      child.stdout?.off('data', onData)
      child.stderr?.off('data', onErr)
      child.off('exit', onExit)
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onErr)
    child.once('exit', onExit)
  })
}

/**
 * Wait for a child to exit; resolves with its code or signal.
 *
 * @example
 * ```ts
 * child.kill('SIGTERM'); const { code } = await exited(child, 10_000)
 * ```
 */
export function exited(
  child: ChildProcess,
  timeoutMs: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode })
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pid ${child.pid} did not exit`)), timeoutMs)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal })
    })
  })
}

/**
 * Kill a child this suite started (by its pid) and wait for it to go.
 *
 * @example
 * ```ts
 * await killChild(client, 'SIGKILL')
 * ```
 */
export async function killChild(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGKILL',
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
  const gone = exited(child, 15_000)
  process.kill(child.pid, signal)
  await gone
}

/**
 * A TCP port free on 127.0.0.1 right now (for a server that cannot take port 0).
 *
 * @example
 * ```ts
 * const port = await freePort()
 * ```
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/**
 * Resolve when `predicate` holds, polling every `everyMs`; reject after `timeoutMs`.
 *
 * @example
 * ```ts
 * await until(() => gateway.stats().openConnections === 0, 5_000)
 * ```
 */
export async function until(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 20,
  what = 'condition',
): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!(await predicate())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/**
 * Percentile of a list of numbers (nearest rank); NaN for an empty list.
 *
 * @example
 * ```ts
 * percentile([1, 2, 3, 4], 0.5) // 2
 * ```
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))
  return sorted[rank]!
}
