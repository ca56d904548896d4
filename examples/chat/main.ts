/**
 * @module examples/chat/main
 * `npm start`: the demo chat on the embedded defaults (a SQLite file in `DATA_DIR`, the
 * gateway in this process). Environment: `PORT` (3000), `WS_PORT` (3001), `MGMT_PORT`
 * (3002), `DATA_DIR` (`./.data`), `LOG_LEVEL` (info). SIGINT/SIGTERM close every socket
 * with 1001 and exit 0.
 *
 * @example
 * ```sh
 * PORT=4000 WS_PORT=4001 MGMT_PORT=4002 npm start
 * ```
 */
import { startChat } from './chat.ts'
import { readConfig } from './config.ts'

/** A shutdown that hangs longer than this exits with an error instead. */
const SHUTDOWN_DEADLINE_MS = 10_000

const config = readConfig(process.env)
const chat = await startChat(config)

process.stdout.write(
  [
    '',
    '  Gatehouse demo chat',
    `  App:           ${chat.appUrl}/`,
    `  WebSocket:     ${chat.wsUrl}`,
    `  @connections:  ${chat.mgmtUrl}/@connections`,
    `  Data:          ${config.dataDir}`,
    '  Users:         alice, bob, mod (moderator), eve (no chat access); password = name',
    '',
    '',
  ].join('\n'),
)

let shuttingDown = false
function shutdown(signal: NodeJS.Signals): void {
  if (shuttingDown) return
  shuttingDown = true
  process.stdout.write(`\n  ${signal}: closing sockets (1001) and stopping\n`)
  setTimeout(() => {
    process.stderr.write('shutdown took too long; exiting\n')
    process.exit(1)
  }, SHUTDOWN_DEADLINE_MS).unref()
  chat.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`)
      process.exit(1)
    },
  )
}
process.on('SIGINT', shutdown)
process.on('SIGTERM', shutdown)
