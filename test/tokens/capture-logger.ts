/** A Logger that keeps every line, for assertions on reason codes and redaction. */
import { type Logger, redactFields } from '../../src/logger.ts'

export interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error'
  readonly fields: Record<string, unknown>
  readonly msg: string | undefined
}

export function captureLogger(): Logger & { readonly lines: LogLine[]; text(): string } {
  const lines: LogLine[] = []
  const at =
    (level: LogLine['level']) =>
    (fields: Record<string, unknown>, msg?: string): void => {
      lines.push({ level, fields, msg })
    }
  return {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    // As createLogger writes them: errors with message and stack, secrets redacted.
    text: () => lines.map((l) => JSON.stringify(redactFields(l))).join('\n'),
  }
}
