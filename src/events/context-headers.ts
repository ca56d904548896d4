/**
 * @module events/context-headers
 * The `x-gatehouse-*` headers that carry the parts of a {@link GatewayEvent} an AWS-shaped
 * integration request has no header for. The bundled gateway sets them (after dropping any
 * a client sent); behind AWS, a request parameter mapping can set them from `context.*`
 * variables (e.g. `integration.request.header.x-gatehouse-request-id = context.requestId`).
 * A mapping overrides a client-sent header of the same name, so on AWS map every one you
 * rely on, or pass the value through the decoder's options instead.
 *
 * @example
 * ```ts
 * headers.push([CONTEXT_HEADERS.requestId, event.requestId])
 * ```
 */
export const CONTEXT_HEADERS = Object.freeze({
  requestId: 'x-gatehouse-request-id',
  messageId: 'x-gatehouse-message-id',
  connectedAt: 'x-gatehouse-connected-at',
  stage: 'x-gatehouse-stage',
  domainName: 'x-gatehouse-domain-name',
  /** The client's User-Agent on routes after `$connect` (where `User-Agent` is the gateway's). */
  userAgent: 'x-gatehouse-user-agent',
  disconnectStatusCode: 'x-gatehouse-disconnect-status-code',
  /** URI-encoded: a close reason is arbitrary client text. */
  disconnectReason: 'x-gatehouse-disconnect-reason',
} as const)

/** Stage names and domain names a context header may carry. */
export const CONTEXT_NAME_PATTERN = /^[A-Za-z0-9_.:[\]-]{1,253}$/
