/**
 * @module client/history
 * The client's side of channel history and recovery. It remembers, per channel, the last
 * offset and epoch it delivered (from each message's `$history` key), so a reconnect can
 * present them (`?since=…&epoch=…`). After such a reconnect it holds back that channel's
 * history messages (the missed ones the app pushes, and live ones, which may overtake them
 * or repeat them) until the app's `{"type":"recovered",…}` notice, then delivers them in
 * offset order, each offset once. Any history message whose offset it has delivered already
 * is dropped; messages without `$history` pass through untouched.
 */

/**
 * Where the client stands in one channel's history.
 *
 * @example
 * ```ts
 * const at: HistoryPoint = { epoch: 'pW3k9Zq0Lr2xYb7A', offset: 41 }
 * ```
 */
export interface HistoryPoint {
  readonly epoch: string
  readonly offset: number
}

/**
 * The `recovered` event: whether what was missed while disconnected arrived (`true`), or
 * could not (`false`: the history no longer reaches back that far, or was reset; reload
 * the channel's state). `epoch` and `offset` are where the client stands now.
 *
 * @example
 * ```ts
 * client.on('recovered', ({ recovered }) => { if (!recovered) reloadRoom() })
 * ```
 */
export interface RecoveredDetail {
  channel: string
  recovered: boolean
  epoch: string | null
  offset: number
}

interface Meta {
  readonly channel: string
  readonly offset: number
  readonly epoch: string
}

const SINCE = /^(0|[1-9][0-9]{0,14})$/
const EPOCH = /^[A-Za-z0-9_-]{1,32}$/

// The `$history` key of a parsed message when it is well formed.
function metaOf(value: unknown): Meta | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const h = (value as { $history?: unknown }).$history
  if (typeof h !== 'object' || h === null) return undefined
  const { channel, offset, epoch } = h as Record<string, unknown>
  if (typeof channel !== 'string' || typeof epoch !== 'string' || !EPOCH.test(epoch))
    return undefined
  if (typeof offset !== 'number' || !SINCE.test(String(offset))) return undefined
  return { channel, offset, epoch }
}

// The message as the app sent it: its own keys, without `$history`.
function strip(value: object): unknown {
  const { $history: _, ...rest } = value as Record<string, unknown>
  return rest
}

/**
 * What {@link HistoryTracker.accept} makes of one parsed frame: messages to deliver now, in
 * order, and a recovery that ended.
 *
 * @example
 * ```ts
 * const { deliver, recovered } = tracker.accept(JSON.parse(frame))
 * ```
 */
export interface Accepted {
  deliver: unknown[]
  recovered?: RecoveredDetail
}

/**
 * Positions per channel, and the recovery in progress.
 *
 * @example
 * ```ts
 * const tracker = new HistoryTracker()
 * tracker.accept({ $history: { channel: 'lobby', offset: 1, epoch: 'e1' }, text: 'hi' })
 * tracker.point('lobby') // { epoch: 'e1', offset: 1 }
 * ```
 */
export class HistoryTracker {
  private readonly points = new Map<string, HistoryPoint>()
  /** The channel being recovered, and its held-back messages by offset. */
  private pending: { channel: string; held: Map<number, { meta: Meta; value: object }> } | undefined

  /** Where the client stands in `channel`, if it has seen its history. */
  point(channel: string): HistoryPoint | undefined {
    return this.points.get(channel)
  }

  /** Whether a recovery is waiting for its notice. */
  get recovering(): boolean {
    return this.pending !== undefined
  }

  /** A reconnect presented `channel`'s position: hold its history messages back. */
  begin(channel: string): void {
    this.pending = { channel, held: new Map() }
  }

  /** One parsed frame. */
  accept(value: unknown): Accepted {
    const p = this.pending
    if (
      p !== undefined &&
      typeof value === 'object' &&
      value !== null &&
      (value as { type?: unknown }).type === 'recovered' &&
      (value as { channel?: unknown }).channel === p.channel &&
      typeof (value as { recovered?: unknown }).recovered === 'boolean'
    ) {
      const v = value as { recovered: boolean; epoch?: unknown; offset?: unknown }
      const epoch = typeof v.epoch === 'string' && EPOCH.test(v.epoch) ? v.epoch : null
      const offset = typeof v.offset === 'number' && SINCE.test(String(v.offset)) ? v.offset : 0
      const deliver = this.end(epoch, offset)
      return { deliver, recovered: { channel: p.channel, recovered: v.recovered, epoch, offset } }
    }
    const meta = metaOf(value)
    if (meta === undefined) return { deliver: [value] }
    if (p !== undefined && meta.channel === p.channel) {
      p.held.set(meta.offset, { meta, value: value as object })
      return { deliver: [] }
    }
    return { deliver: this.pass(meta, value as object) }
  }

  /**
   * End the recovery without a notice (the socket closed, or the notice never came):
   * deliver what was held back. Returns it in order.
   */
  abort(): unknown[] {
    return this.pending === undefined ? [] : this.end(null, 0)
  }

  // Deliver the held messages by offset; the notice's position counts as seen after them
  // (on `recovered: false` the messages before it are lost to this client, by design).
  private end(epoch: string | null, offset: number): unknown[] {
    const p = this.pending!
    this.pending = undefined
    const out: unknown[] = []
    const ordered = [...p.held.values()].sort((a, b) => a.meta.offset - b.meta.offset)
    const current = this.points.get(p.channel)
    // A new epoch: the old offsets mean nothing; only its own messages are delivered.
    if (epoch !== null && current !== undefined && current.epoch !== epoch) {
      this.points.set(p.channel, { epoch, offset: 0 })
    }
    for (const h of ordered) {
      if (epoch !== null && h.meta.epoch !== epoch) continue
      out.push(...this.pass(h.meta, h.value))
    }
    const now = this.points.get(p.channel)
    if (epoch !== null && (now === undefined || now.epoch !== epoch || now.offset < offset)) {
      this.points.set(p.channel, { epoch, offset })
    }
    return out
  }

  // Deliver unless already delivered; move the channel's position.
  private pass(meta: Meta, value: object): unknown[] {
    const at = this.points.get(meta.channel)
    if (at !== undefined && at.epoch === meta.epoch && meta.offset <= at.offset) return []
    this.points.set(meta.channel, { epoch: meta.epoch, offset: meta.offset })
    return [strip(value)]
  }
}
