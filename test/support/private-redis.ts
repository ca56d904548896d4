/**
 * A Redis server of the test's own, for tests that must do what is never allowed on the
 * shared one (SCRIPT FLUSH, shutdown, …): `redis-server` on a free loopback port, persisting
 * nothing, stopped by its pid. Returns `null` when `redis-server` is not installed.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'

export interface PrivateRedis {
  readonly url: string
  readonly pid: number
  /** Stop this server (SIGTERM, then SIGKILL after 2 s); idempotent. */
  stop(): Promise<void>
}

async function freePort(): Promise<number> {
  const probe = createServer()
  probe.listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const address = probe.address()
  probe.close()
  await once(probe, 'close')
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

// Resolves when the server says it is ready, rejects when it exits first (e.g. the port
// was taken between the probe and the bind).
function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`redis-server not ready: ${out}`)), 10_000)
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`redis-server exited (${code}): ${out}`))
    })
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
  })
}

export async function startPrivateRedis(): Promise<PrivateRedis | null> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort()
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    try {
      await ready(child)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      if (child.exitCode === null) child.kill('SIGKILL')
      continue
    }
    const pid = child.pid!
    let stopped: Promise<void> | undefined
    return {
      url: `redis://127.0.0.1:${port}`,
      pid,
      stop: () => {
        stopped ??= (async () => {
          if (child.exitCode !== null || child.signalCode !== null) return
          const exited = once(child, 'exit')
          process.kill(pid, 'SIGTERM')
          const timer = setTimeout(() => process.kill(pid, 'SIGKILL'), 2_000)
          await exited
          clearTimeout(timer)
        })()
        return stopped
      },
    }
  }
  throw new Error('redis-server did not start on a free port')
}
