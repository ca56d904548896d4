/**
 * @module cli/args
 * One way every `gatehouse <command>` reads its flags: strict parsing (an unknown flag is a
 * usage error, exit 2), `--help` printing the usage (exit 0), and a `usage(message)` helper
 * for errors found after parsing, so every command refuses bad input the same way.
 */
import { parseArgs } from 'node:util'
import type { CliIo } from './io.ts'

/** The flag table `node:util`'s `parseArgs` takes. */
export type FlagTable = Record<string, { type: 'string' | 'boolean'; short?: string }>

/** Parsed flags, and the usage-error writer for what parsing cannot catch. */
export interface ParsedCommand {
  readonly values: Record<string, string | boolean | undefined>
  /** Writes `gatehouse <command>: <message>` and the usage to stderr; returns exit status 2. */
  usage(message: string): number
}

/**
 * Parse a command's flags (`help`/`-h` is added), or answer with the exit status: 0 after
 * printing the usage for `--help`, 2 after a usage error.
 *
 * @example
 * ```ts
 * const parsed = parseCommand('migrate', argv, { status: { type: 'boolean' } }, USAGE, io)
 * if (typeof parsed === 'number') return parsed
 * if (parsed.values.status === true) …
 * ```
 */
export function parseCommand(
  command: string,
  argv: readonly string[],
  flags: FlagTable,
  usageText: string,
  io: CliIo,
): ParsedCommand | number {
  const usage = (message: string): number => {
    io.stderr.write(`gatehouse ${command}: ${message}\n\n${usageText}`)
    return 2
  }
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: { ...flags, help: { type: 'boolean', short: 'h' } },
    }).values
  } catch (err) {
    return usage((err as Error).message)
  }
  if (values.help === true) {
    io.stdout.write(usageText)
    return 0
  }
  return { values, usage }
}
