/**
 * @module admin/html
 * Escaping for the admin page. Every value that reaches the page (channel names, user ids,
 * connection ids, reasons, keys) passes through {@link esc}; the page builds no HTML from
 * anything else.
 */

const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
}

/**
 * `value` as HTML text or a quoted attribute value: `& < > " ' \`` escaped.
 *
 * @example
 * ```ts
 * esc('<script>') // '&lt;script&gt;'
 * ```
 */
export function esc(value: unknown): string {
  return String(value).replace(/[&<>"'`]/g, (c) => ENTITIES[c] as string)
}
