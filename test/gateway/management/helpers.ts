/**
 * Test helpers for the management API: a raw HTTP client (exact paths and headers, no
 * normalisation), a SigV4 signer with a chosen date, and a call-recording Connections.
 */
import { request } from 'node:http'
import { SignatureV4 } from '@smithy/signature-v4'
import type { Connections } from '../../../src/push/connections.ts'
import { createMemoryConnections, type MemoryConnections } from '../../../src/push/memory.ts'
import { NodeSha256 } from '../../../src/push/sigv4.ts'

export interface RawReply {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

export function send(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string | Uint8Array,
): Promise<RawReply> {
  return sendRaw(port, method, path, withBodyType(headers, body), body)
}

/**
 * Unsigned calls with a body say what it is, as every real client does (the API refuses
 * other types, see `isUnsignedBodyType`). Signed calls and explicit types are left alone.
 */
function withBodyType(
  headers: Record<string, string>,
  body: string | Uint8Array | undefined,
): Record<string, string> {
  if (body === undefined) return headers
  const names = Object.keys(headers).map((h) => h.toLowerCase())
  if (names.includes('content-type') || names.includes('authorization')) return headers
  return { ...headers, 'content-type': 'application/octet-stream' }
}

/** {@link send} without a default body type: exactly the headers given. */
export function sendRaw(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string | Uint8Array,
): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      )
    })
    req.on('error', reject)
    req.end(body)
  })
}

export interface SignOptions {
  method: string
  port: number
  path: string
  body?: string | Uint8Array | undefined
  date: Date
  accessKeyId?: string
  secretAccessKey?: string
  region?: string
  service?: string
  /** Add x-amz-content-sha256 (as the SDK does). Default true. */
  payloadHash?: boolean
  headers?: Record<string, string>
  query?: Record<string, string>
}

/** Sign like the AWS SDK does and return the headers to send. */
export async function signedHeaders(o: SignOptions): Promise<Record<string, string>> {
  const signer = new SignatureV4({
    service: o.service ?? 'execute-api',
    region: o.region ?? 'us-east-1',
    credentials: {
      accessKeyId: o.accessKeyId ?? 'AKTEST',
      secretAccessKey: o.secretAccessKey ?? 'secret-test',
    },
    sha256: NodeSha256,
    applyChecksum: o.payloadHash ?? true,
  })
  const headers: Record<string, string> = { host: `127.0.0.1:${o.port}`, ...(o.headers ?? {}) }
  if (o.body !== undefined) headers['content-length'] = String(Buffer.byteLength(o.body))
  const signed = await signer.sign(
    {
      method: o.method,
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: o.port,
      path: o.path,
      query: o.query ?? {},
      headers,
      ...(o.body !== undefined ? { body: o.body } : {}),
    },
    { signingDate: o.date },
  )
  return signed.headers as Record<string, string>
}

/** A memory port that also records every call it gets. */
export function recordingConnections(): MemoryConnections & { calls: string[] } {
  const inner = createMemoryConnections()
  const calls: string[] = []
  const original: Connections = {
    post: inner.post,
    postMany: inner.postMany,
    delete: inner.delete,
    get: inner.get,
  }
  const wrap = <K extends keyof Connections>(name: K) =>
    ((...args: unknown[]) => {
      calls.push(`${name}:${String(args[0])}`)
      return (original[name] as (...a: unknown[]) => unknown)(...args)
    }) as Connections[K]
  return Object.assign(inner, {
    calls,
    post: wrap('post'),
    postMany: wrap('postMany'),
    delete: wrap('delete'),
    get: wrap('get'),
  })
}
