/**
 * @module bench/lib/proc
 * Child processes of the harness: servers (which print a ready line) and load generators
 * (which print one result line). Every child has a deadline and is killed on exit or timeout.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { LoadJob, ReadyLine } from './protocol.ts'

const children = new Set<ChildProcess>()
const STDERR_KEEP_BYTES = 8192

function killAll(): void {
  for (const c of children) c.kill('SIGKILL')
}
process.on('exit', killAll)
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    killAll()
    process.exit(130)
  })
}

/** The bench directory (where servers/ and load/ live). */
export const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url))

/** Options of a child process. */
export interface ChildOptions {
  /** Extra Node flags (e.g. `--cpu-prof`). */
  readonly nodeFlags?: readonly string[]
  /** Copy the child's stderr to ours. */
  readonly verbose?: boolean
  /** Raise the soft open-files limit to this (through `sh -c 'ulimit -n'`). */
  readonly openFiles?: number
}

function launch(script: string, args: readonly string[], opts: ChildOptions): ChildProcess {
  const nodeArgs = [...(opts.nodeFlags ?? []), script, ...args]
  const child = opts.openFiles
    ? spawn(
        '/bin/sh',
        [
          '-c',
          `ulimit -n ${opts.openFiles} 2>/dev/null; exec "$0" "$@"`,
          process.execPath,
          ...nodeArgs,
        ],
        { stdio: ['pipe', 'pipe', 'pipe'] },
      )
    : spawn(process.execPath, nodeArgs, { stdio: ['pipe', 'pipe', 'pipe'] })
  children.add(child)
  child.on('exit', () => children.delete(child))
  return child
}

function keepTail(child: ChildProcess, verbose: boolean): () => string {
  let tail = ''
  child.stderr?.on('data', (d: Buffer) => {
    if (verbose) process.stderr.write(d)
    tail = (tail + d.toString()).slice(-STDERR_KEEP_BYTES)
  })
  return () => tail
}

/** A running bench server. */
export interface RunningServer {
  readonly ready: ReadyLine
  readonly pid: number
  /** Close stdin (the server exits), then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>
}

/**
 * A server that reported it cannot run (it printed `{"unavailable": reason}`).
 *
 * @example
 * ```ts
 * try { await startServer('gatehouse', {}) } catch (e) { if (e instanceof Unavailable) skip() }
 * ```
 */
export class Unavailable extends Error {}

/**
 * Start `servers/<name>.ts` and wait for its ready line (or `{"unavailable": reason}`).
 *
 * @example
 * ```ts
 * const server = await startServer('ws', { nodeFlags: ['--expose-gc'] })
 * await server.stop()
 * ```
 */
export function startServer(
  name: string,
  opts: ChildOptions & { timeoutMs?: number; args?: readonly string[] },
): Promise<RunningServer> {
  const child = launch(`${BENCH_DIR}servers/${name}.ts`, opts.args ?? [], opts)
  const stderrTail = keepTail(child, opts.verbose ?? false)
  const stop = async (graceMs = 5000) => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((r) => child.once('exit', () => r()))
    child.stdin?.end()
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    await exited
    clearTimeout(timer)
  }
  return new Promise((resolve, reject) => {
    let buf = ''
    let settled = false
    const fail = (err: Error) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      void stop(500)
      reject(err)
    }
    const timer = setTimeout(
      () => fail(new Error(`server ${name} not ready in time\n${stderrTail()}`)),
      opts.timeoutMs ?? 30_000,
    )
    child.stdout?.on('data', (d: Buffer) => {
      if (settled) return
      buf += d.toString()
      for (let nl = buf.indexOf('\n'); nl >= 0 && !settled; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).trim()
        buf = buf.slice(nl + 1)
        if (!line.startsWith('{')) continue
        const msg = JSON.parse(line) as { ready?: boolean; unavailable?: string }
        if (msg.unavailable) return fail(new Unavailable(msg.unavailable))
        if (msg.ready) {
          settled = true
          clearTimeout(timer)
          resolve({ ready: msg as ReadyLine, pid: child.pid ?? 0, stop })
        }
      }
    })
    child.on('exit', (code, signal) =>
      fail(new Error(`server ${name} exited (${code ?? signal}) before ready\n${stderrTail()}`)),
    )
  })
}

/**
 * Run one load job in a child process; resolves with its JSON result.
 *
 * @example
 * ```ts
 * const figures = await runLoad(job, {})
 * ```
 */
export function runLoad(job: LoadJob, opts: ChildOptions): Promise<Record<string, unknown>> {
  const child = launch(`${BENCH_DIR}load/main.ts`, [JSON.stringify(job)], opts)
  child.stdin?.end()
  const stderrTail = keepTail(child, opts.verbose ?? false)
  let out = ''
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString()
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), job.deadlineMs + 30_000)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      const line = out.trim().split('\n').pop() ?? ''
      try {
        const result = JSON.parse(line) as Record<string, unknown>
        if (typeof result.error === 'string') {
          reject(new Error(`${result.error}\n${stderrTail()}`))
        } else resolve(result)
      } catch {
        reject(
          new Error(`load generator exited (${code ?? signal}) without a result\n${stderrTail()}`),
        )
      }
    })
  })
}
