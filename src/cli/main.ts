/**
 * @module cli/main
 * The `gatehouse` command: a small table of subcommands, each loaded only when run.
 * Dispatch goes through a `Map`, so a name such as `__proto__` or `constructor` is just an
 * unknown command.
 */
import type { CliIo } from './io.ts'
import { usageError } from './io.ts'

interface Command {
  readonly summary: string
  run(argv: readonly string[], io: CliIo): Promise<number>
}

const COMMANDS: ReadonlyMap<string, Command> = new Map<string, Command>([
  [
    'gateway',
    {
      summary: 'run the bundled WebSocket gateway in front of an HTTP backend',
      run: async (argv, io) => {
        const { runGatewayCli } = await import('./gateway.ts')
        return runGatewayCli(argv, io)
      },
    },
  ],
  [
    'cleanup',
    {
      summary: 'delete expired tokens, old rate-limit records and stale sessions',
      run: async (argv, io) => {
        const { runCleanup } = await import('./cleanup.ts')
        return runCleanup(argv, io)
      },
    },
  ],
  [
    'aws',
    {
      summary: 'provision the AWS API Gateway WebSocket API: plan, apply, status, destroy',
      run: async (argv, io) => {
        const { runAwsCli } = await import('./aws.ts')
        return runAwsCli(argv, io)
      },
    },
  ],
  [
    'migrate',
    {
      summary: 'apply, show (--status) or print (--dry-run) the store schema migrations',
      run: async (argv, io) => {
        const { runMigrate } = await import('./migrate.ts')
        return runMigrate(argv, io)
      },
    },
  ],
])

/** The top-level help text. */
export const MAIN_USAGE = `Usage: gatehouse <command> [options]

Commands:
${[...COMMANDS].map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`).join('\n')}

Run \`gatehouse <command> --help\` for the options of a command.
`

/**
 * Run the `gatehouse` command line (arguments after the program name); resolves to the exit
 * status: 0 success, 1 failure, 2 bad usage.
 *
 * @example
 * ```ts
 * process.exitCode = await main(process.argv.slice(2), process)
 * ```
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined) return usageError(io, 'missing command', MAIN_USAGE)
  if (name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(MAIN_USAGE)
    return 0
  }
  const command = COMMANDS.get(name)
  if (!command)
    return usageError(io, `unknown command ${JSON.stringify(name.slice(0, 40))}`, MAIN_USAGE)
  try {
    return await command.run(rest, io)
  } catch (err) {
    io.stderr.write(`gatehouse ${name}: ${(err as Error)?.message ?? String(err)}\n`)
    return 1
  }
}
