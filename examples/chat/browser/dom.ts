/**
 * @module examples/chat/browser/dom
 * Tiny DOM helpers. Text goes in through `textContent` only, never `innerHTML`.
 */

/**
 * The element with this id (throws when the page lacks it: a bug, not a user error).
 *
 * @example
 * ```ts
 * const list = $<HTMLUListElement>('people')
 * ```
 */
export function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id)
  if (!found) throw new Error(`#${id} is missing from the page`)
  return found as T
}

/**
 * Create an element with a class, text and children.
 *
 * @example
 * ```ts
 * el('span', { className: 'author', text: user })
 * ```
 */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { className?: string; text?: string } = {},
  children: readonly Node[] = [],
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag)
  if (props.className !== undefined) node.className = props.className
  if (props.text !== undefined) node.textContent = props.text
  node.append(...children)
  return node
}

/** Avatar colours in style.css (`.hue-0` … `.hue-7`), picked by name so each user keeps one. */
const HUE_COUNT = 8

/**
 * A round avatar with the user's initial. The colour is a class, not an inline style,
 * because the page's Content-Security-Policy forbids inline styles.
 *
 * @example
 * ```ts
 * avatar('alice') // <span class="avatar hue-3">A</span>
 * ```
 */
export function avatar(user: string): HTMLSpanElement {
  let h = 0
  for (const ch of user) h = (h * 31 + (ch.codePointAt(0) ?? 0)) >>> 0
  const span = el('span', {
    className: `avatar hue-${h % HUE_COUNT}`,
    text: (user[0] ?? '?').toUpperCase(),
  })
  span.setAttribute('aria-hidden', 'true')
  return span
}

/**
 * `HH:MM` in the reader's locale.
 *
 * @example
 * ```ts
 * timeLabel(new Date()) // '14:05'
 * ```
 */
export function timeLabel(date: Date): string {
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
}
