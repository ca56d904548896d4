/**
 * @module gateway/management/body
 * Read a request body up to a byte limit, and stop the moment the limit is passed: a declared
 * `Content-Length` over the limit is refused before one byte is read, and a chunked body is
 * abandoned as soon as it grows past it. The caller then answers 413 and drops the socket.
 */
import type { IncomingMessage } from 'node:http'

/** The outcome of {@link readBodyLimited}. */
export type BodyResult =
  | { readonly ok: true; readonly body: Buffer }
  | { readonly ok: false; readonly reason: 'too_large' | 'aborted' }

/**
 * Read at most `limitBytes` of a request body.
 *
 * @example
 * ```ts
 * const result = await readBodyLimited(req, 131072)
 * if (!result.ok && result.reason === 'too_large') return reply413()
 * ```
 */
export function readBodyLimited(req: IncomingMessage, limitBytes: number): Promise<BodyResult> {
  const declared = req.headers['content-length']
  if (declared !== undefined && Number(declared) > limitBytes) {
    return Promise.resolve({ ok: false, reason: 'too_large' })
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let total = 0
    let settled = false
    const settle = (result: BodyResult): void => {
      if (settled) return
      settled = true
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onAbort)
      req.off('close', onAbort)
      resolve(result)
    }
    const onData = (chunk: Buffer): void => {
      total += chunk.byteLength
      if (total > limitBytes) {
        // Stop pulling from the socket; the caller closes it after answering.
        req.pause()
        chunks.length = 0
        settle({ ok: false, reason: 'too_large' })
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => settle({ ok: true, body: Buffer.concat(chunks, total) })
    const onAbort = (): void => settle({ ok: false, reason: 'aborted' })
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onAbort)
    req.on('close', onAbort)
  })
}
