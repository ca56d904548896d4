/**
 * @module gateway/management/sigv4-verify
 * Verify AWS Signature Version 4 on `@connections` requests, the way API Gateway does for
 * IAM-authorised callers: parse `Authorization`, check algorithm, service (`execute-api`),
 * region, access key, date skew and the signed header list, rebuild the canonical request
 * from exactly the signed headers, sign it again with `@smithy/signature-v4` and compare the
 * signatures in constant time.
 *
 * Split so a request is refused before its body is read whenever possible:
 * {@link SigV4Verifier.precheck} needs headers only; {@link SigV4Verifier.verify} runs the
 * signature, on the signed `x-amz-content-sha256` when present (before the body is read) or
 * on the body's hash. After a signature verified over a signed payload hash, the body only
 * needs {@link SigV4Verifier.checkPayload}: one hash and a compare, no second signing.
 */

import { timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { Clock } from '../../clock.ts'
import { GatehouseError } from '../../errors.ts'
import {
  createSigner,
  SIGV4_SERVICE,
  type SignableRequest,
  type SigV4Credentials,
  type SigV4Signer,
  sha256Hex,
} from '../../push/sigv4.ts'

/** Why a request failed verification (for logs; the client only ever sees 403). */
export type SigV4Failure =
  | 'missing'
  | 'malformed'
  | 'algorithm'
  | 'service'
  | 'region'
  | 'unknown_key'
  | 'date'
  | 'skew'
  | 'signed_headers'
  | 'payload_hash'
  | 'signature'

/** A request whose headers passed {@link SigV4Verifier.precheck}. */
export interface PrecheckedRequest {
  readonly accessKeyId: string
  readonly region: string
  readonly signingDate: Date
  readonly signedHeaders: readonly string[]
  readonly signature: string
  /** The signed `x-amz-content-sha256`, when the caller signed one. */
  readonly payloadHash: string | undefined
  readonly request: SignableRequest
}

/** The verifier the management server runs. */
export interface SigV4Verifier {
  /** Load the signer (fails when `@smithy/signature-v4` is missing). */
  ready(): Promise<void>
  /** Header-only checks; no body needed. */
  precheck(
    req: IncomingMessage,
    rawPath: string,
    rawQuery: string,
  ): { ok: true; value: PrecheckedRequest } | { ok: false; reason: SigV4Failure }
  /**
   * Check the signature. With `body` undefined the signed payload hash is used (precheck must
   * have found one); with a body, its hash must match the signed one or is computed.
   */
  verify(pre: PrecheckedRequest, body: Uint8Array | undefined): Promise<SigV4Failure | null>
  /**
   * After `verify(pre, undefined)` passed on a signed payload hash: does the body match it?
   * Fails (`payload_hash`) when the request signed no payload hash.
   */
  checkPayload(pre: PrecheckedRequest, body: Uint8Array): SigV4Failure | null
}

/** Options of {@link createSigV4Verifier}. */
export interface SigV4VerifierOptions {
  readonly credentials: readonly SigV4Credentials[]
  /** Only this region is accepted in the credential scope; any region when absent. */
  readonly region?: string
  readonly clock: Clock
  /** Accepted distance between `x-amz-date` and now. Default 5 minutes, as AWS. */
  readonly maxSkewMs?: number
}

const ALGORITHM = 'AWS4-HMAC-SHA256'
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/
const HEX64 = /^[0-9a-f]{64}$/
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/

/**
 * Build a verifier for a fixed set of key pairs.
 *
 * @example
 * ```ts
 * const verifier = createSigV4Verifier({ credentials: [{ accessKeyId: 'AK', secretAccessKey: 'SK' }], clock: systemClock })
 * const pre = verifier.precheck(req, '/production/@connections/a%3D', '')
 * if (!pre.ok || (await verifier.verify(pre.value, body)) !== null) return reply403()
 * // or, with a signed payload hash: verify(pre.value, undefined) first, read, checkPayload
 * ```
 */
export function createSigV4Verifier(options: SigV4VerifierOptions): SigV4Verifier {
  const keys = new Map<string, SigV4Credentials>()
  for (const c of options.credentials) {
    if (!c.accessKeyId || !c.secretAccessKey) {
      throw new GatehouseError(
        'ERR_INVALID_OPTION',
        'Every credential needs a non-empty accessKeyId and secretAccessKey.',
      )
    }
    keys.set(c.accessKeyId, { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey })
  }
  if (keys.size === 0) {
    throw new GatehouseError('ERR_INVALID_OPTION', 'credentials must list at least one key pair.')
  }
  const maxSkewMs = options.maxSkewMs ?? 300_000
  const signers = new Map<string, Promise<SigV4Signer>>()

  function signerFor(accessKeyId: string): Promise<SigV4Signer> {
    let signer = signers.get(accessKeyId)
    if (!signer) {
      const creds = keys.get(accessKeyId) as SigV4Credentials
      // applyChecksum off: the canonical headers must be exactly the ones the caller signed.
      signer = createSigner(creds, options.region ?? 'us-east-1', false)
      signers.set(accessKeyId, signer)
    }
    return signer
  }

  return {
    async ready() {
      await Promise.all([...keys.keys()].map(signerFor))
    },

    precheck(req, rawPath, rawQuery) {
      const distinct = req.headersDistinct
      const auth = distinct.authorization
      if (!auth) return { ok: false, reason: 'missing' }
      if (auth.length !== 1 || (distinct.host?.length ?? 0) > 1) {
        return { ok: false, reason: 'malformed' }
      }
      const parsed = parseAuthorization(auth[0] as string)
      if (!parsed) return { ok: false, reason: 'malformed' }
      if (parsed.algorithm !== ALGORITHM) return { ok: false, reason: 'algorithm' }
      const scope = parsed.credential.split('/')
      if (scope.length !== 5 || scope[4] !== 'aws4_request') {
        return { ok: false, reason: 'malformed' }
      }
      const [accessKeyId, shortDate, region, service] = scope as [string, string, string, string]
      if (service !== SIGV4_SERVICE) return { ok: false, reason: 'service' }
      if (options.region !== undefined && region !== options.region) {
        return { ok: false, reason: 'region' }
      }
      if (!keys.has(accessKeyId)) return { ok: false, reason: 'unknown_key' }

      const amzDates = distinct['x-amz-date']
      const amzDate = amzDates?.length === 1 ? (amzDates[0] as string) : ''
      const m = AMZ_DATE.exec(amzDate)
      if (!m || amzDate.slice(0, 8) !== shortDate) {
        return { ok: false, reason: 'date' }
      }
      const [, y, mo, d, h, mi, s] = m.map(Number) as number[]
      const signingDate = new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!))
      if (Math.abs(options.clock.now() - signingDate.getTime()) > maxSkewMs) {
        return { ok: false, reason: 'skew' }
      }

      const signedHeaders = parsed.signedHeaders.split(';')
      if (
        !signedHeaders.includes('host') ||
        !signedHeaders.includes('x-amz-date') ||
        signedHeaders.includes('authorization') ||
        new Set(signedHeaders).size !== signedHeaders.length
      ) {
        return { ok: false, reason: 'signed_headers' }
      }
      const headers: Record<string, string> = {}
      for (const name of signedHeaders) {
        const values = HEADER_NAME.test(name) ? distinct[name] : undefined
        if (!values) return { ok: false, reason: 'signed_headers' }
        headers[name] = values.map((v) => v.trim()).join(',')
      }
      const payloadHash = headers['x-amz-content-sha256']
      if (payloadHash !== undefined && !HEX64.test(payloadHash)) {
        // UNSIGNED-PAYLOAD and anything else that is not a SHA-256: the body must be covered.
        return { ok: false, reason: 'payload_hash' }
      }
      const query = parseQuery(rawQuery)
      if (!query) return { ok: false, reason: 'malformed' }
      const host = headers.host as string
      return {
        ok: true,
        value: {
          accessKeyId,
          region,
          signingDate,
          signedHeaders,
          signature: parsed.signature,
          payloadHash,
          request: {
            method: req.method ?? 'GET',
            protocol: 'http:',
            hostname: host.replace(/:\d+$/, ''),
            path: rawPath,
            query,
            headers,
          },
        },
      }
    },

    async verify(pre, body) {
      const request: SignableRequest = { ...pre.request, headers: { ...pre.request.headers } }
      if (body !== undefined) {
        if (pre.payloadHash !== undefined) {
          if (!equalHex(sha256Hex(body), pre.payloadHash)) return 'payload_hash'
        } else {
          request.body = body
        }
      } else if (pre.payloadHash === undefined) {
        return 'payload_hash'
      }
      const signer = await signerFor(pre.accessKeyId)
      const signed = await signer.sign(request, {
        signingDate: pre.signingDate,
        signableHeaders: new Set(pre.signedHeaders),
        signingRegion: pre.region,
        signingService: SIGV4_SERVICE,
      })
      const expected = /Signature=([0-9a-f]{64})$/.exec(signed.headers.authorization ?? '')?.[1]
      if (!expected || !equalHex(expected, pre.signature)) return 'signature'
      return null
    },

    checkPayload(pre, body) {
      if (pre.payloadHash === undefined) return 'payload_hash'
      return equalHex(sha256Hex(body), pre.payloadHash) ? null : 'payload_hash'
    },
  }
}

function equalHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8')
  const y = Buffer.from(b, 'utf8')
  return x.length === y.length && timingSafeEqual(x, y)
}

/** `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` in any component order. */
function parseAuthorization(
  value: string,
): { algorithm: string; credential: string; signedHeaders: string; signature: string } | null {
  if (value.length > 4096) return null
  const space = value.indexOf(' ')
  if (space < 0) return null
  const algorithm = value.slice(0, space)
  const fields = new Map<string, string>()
  for (const part of value.slice(space + 1).split(',')) {
    const eq = part.indexOf('=')
    if (eq < 0) return null
    const key = part.slice(0, eq).trim()
    if (fields.has(key)) return null
    fields.set(key, part.slice(eq + 1).trim())
  }
  const credential = fields.get('Credential')
  const signedHeaders = fields.get('SignedHeaders')
  const signature = fields.get('Signature')
  if (fields.size !== 3 || !credential || !signedHeaders || !signature) return null
  if (!HEX64.test(signature)) return null
  return { algorithm, credential, signedHeaders, signature }
}

function parseQuery(raw: string): Record<string, string | string[]> | null {
  const query: Record<string, string | string[]> = Object.create(null)
  if (raw === '') return query
  for (const pair of raw.split('&')) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    let key: string
    let value: string
    try {
      key = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq))
      value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1))
    } catch {
      return null
    }
    const prev = query[key]
    query[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value]
  }
  return query
}
