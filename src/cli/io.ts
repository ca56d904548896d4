/**
 * @module cli/io
 * What a CLI command writes to and reads from, so tests can run commands in process with
 * buffers instead of the real streams. `process` satisfies it as is.
 */

/**
 * The streams and environment of one command run.
 *
 * @example
 * ```ts
 * const code = await runGatewayCli(['--integration', 'http://127.0.0.1:8000/ws/'], process)
 * ```
 */
export interface CliIo {
  readonly stdout: { write(text: string): unknown }
  readonly stderr: { write(text: string): unknown }
  /** Environment to read fallbacks from; `process.env` when absent. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /**
   * Aborted to ask a long-running command (the gateway) to shut down gracefully. When absent,
   * the command listens for SIGTERM and SIGINT itself.
   */
  readonly stop?: AbortSignal
  /** Where a command that must confirm (`aws destroy`) reads the answer; asks only on a TTY. */
  readonly stdin?: NodeJS.ReadableStream & { readonly isTTY?: boolean }
}

/**
 * A usage error: the message for stderr, exit status 2.
 *
 * @example
 * ```ts
 * return usageError(io, 'Unknown option --prot', USAGE)
 * ```
 */
export function usageError(io: CliIo, message: string, usage: string): number {
  io.stderr.write(`gatehouse: ${message}\n\n${usage}`)
  return 2
}
