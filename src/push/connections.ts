/**
 * @module push/connections
 * The port the app pushes through: the bundled gateway (in one process, or its
 * `@connections` API over HTTP) or the AWS Management API. Shaped after `@connections`.
 */

/** What `GET @connections/{id}` reports. */
export interface ConnectionInfo {
  readonly connectedAt: number
  readonly lastActiveAt: number
  readonly sourceIp: string
  readonly userAgent: string
}

/** The outcome of a push to many connections: the ids found gone (closed or unknown). */
export interface PostManyResult {
  readonly sent: number
  readonly gone: readonly string[]
}

/**
 * Push, inspect and close connections.
 * `data` is serialised once by the caller and passed as is to every recipient, never copied
 * per recipient.
 *
 * @example
 * ```ts
 * const ok = await connections.post(id, '{"type":"hello"}') // false: the connection is gone
 * const { gone } = await connections.postMany(ids, payload)
 * ```
 */
export interface Connections {
  /** Send one text message; `false` when the connection is gone (410). */
  post(connectionId: string, data: string | Uint8Array): Promise<boolean>
  /** Send one message to many connections in as few calls as the transport allows. */
  postMany(connectionIds: readonly string[], data: string | Uint8Array): Promise<PostManyResult>
  /** Close a connection (1000); `false` when it was already gone. */
  delete(connectionId: string): Promise<boolean>
  /** Describe a connection; `null` when gone. */
  get(connectionId: string): Promise<ConnectionInfo | null>
}
