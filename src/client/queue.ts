/**
 * @module client/queue
 * The messages sent while no socket is open, bounded in count and in bytes, so a client that
 * stays offline cannot grow without limit.
 */

/**
 * A FIFO of serialized messages with two bounds. `push` refuses what does not fit; nothing is
 * ever dropped silently.
 *
 * @example
 * ```ts
 * const q = new SendQueue(100, 1_048_576)
 * q.push('{"action":"hello"}') // true
 * for (const m of q.drain()) socket.send(m)
 * ```
 */
export class SendQueue {
  private readonly maxMessages: number
  private readonly maxBytes: number
  private items: string[] = []
  private sizes: number[] = []
  private total = 0

  constructor(maxMessages: number, maxBytes: number) {
    this.maxMessages = maxMessages
    this.maxBytes = maxBytes
  }

  /** Messages waiting. */
  get length(): number {
    return this.items.length
  }

  /** UTF-8 bytes waiting. */
  get bytes(): number {
    return this.total
  }

  /** Appends `data` (`size` UTF-8 bytes) when both bounds allow it; false otherwise. */
  push(data: string, size: number): boolean {
    if (this.items.length >= this.maxMessages || this.total + size > this.maxBytes) return false
    this.items.push(data)
    this.sizes.push(size)
    this.total += size
    return true
  }

  /** Takes every waiting message, oldest first, and empties the queue. */
  drain(): string[] {
    const out = this.items
    this.items = []
    this.sizes = []
    this.total = 0
    return out
  }

  /** Drops every waiting message. */
  clear(): void {
    this.drain()
  }
}

/**
 * The UTF-8 length of `s` without allocating (lone surrogates count as U+FFFD, 3 bytes, as the
 * encoder sends them).
 *
 * @example
 * ```ts
 * utf8Length('é') // 2
 * ```
 */
export function utf8Length(s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4
        i++
      } else n += 3
    } else n += 3
  }
  return n
}
