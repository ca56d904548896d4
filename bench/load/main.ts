/**
 * @module bench/load/main
 * A load generator process: runs one {@link LoadJob} (JSON in argv[2]) and prints one JSON
 * result line on stdout. It exits on its own at the job's deadline plus a margin.
 */
import type { LoadJob } from '../lib/protocol.ts'
import { runConnect } from './connect.ts'
import { runCrowd } from './crowd.ts'
import { runEcho } from './echo.ts'
import { closeAgents } from './http.ts'

const job = JSON.parse(process.argv[2] ?? '{}') as LoadJob
const hardStop = setTimeout(() => {
  process.stdout.write(`${JSON.stringify({ error: 'load generator hit its hard deadline' })}\n`)
  process.exit(2)
}, job.deadlineMs + 15_000)
hardStop.unref()

async function main(): Promise<Record<string, unknown>> {
  switch (job.scenario) {
    case 'connect':
      return runConnect(job)
    case 'crowd':
      return runCrowd(job)
    case 'roundtrip':
    case 'messages':
      return runEcho(job)
    default:
      throw new Error(`unknown scenario ${String((job as { scenario?: unknown }).scenario)}`)
  }
}

main().then(
  (result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`)
    closeAgents()
    process.exit(0)
  },
  (err: unknown) => {
    process.stdout.write(
      `${JSON.stringify({ error: err instanceof Error ? err.message : String(err) })}\n`,
    )
    process.exit(1)
  },
)
