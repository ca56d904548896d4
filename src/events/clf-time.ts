/**
 * @module events/clf-time
 * The Common Log Format time API Gateway uses for `requestContext.requestTime` and the
 * `context.requestTime` mapping variable: `20/Jan/2024:11:55:00 +0000`, always UTC.
 */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/**
 * Format epoch milliseconds as a CLF time in UTC (English month names, whatever the locale).
 *
 * @example
 * ```ts
 * clfTime(Date.UTC(2024, 0, 20, 11, 55, 0)) // '20/Jan/2024:11:55:00 +0000'
 * ```
 */
export function clfTime(epochMs: number): string {
  const d = new Date(epochMs)
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`
}
