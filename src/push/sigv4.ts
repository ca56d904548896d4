/**
 * @module push/sigv4
 * AWS Signature Version 4 for the `@connections` API (service `execute-api`), shared by the
 * HTTP push port (signing) and the bundled gateway's management server (verifying).
 * The signer is `@smithy/signature-v4`, loaded lazily so nothing pulls it in unless
 * credentials are configured; its hashing runs on `node:crypto` (no `@aws-crypto` needed).
 */
import { createHash, createHmac, createSecretKey, type Hash, type Hmac } from 'node:crypto'
import { GatehouseError } from '../errors.ts'

/** The service name `@connections` requests are signed for. */
export const SIGV4_SERVICE = 'execute-api'

/** A static key pair, as IAM issues them (`sessionToken` only for temporary credentials). */
export interface SigV4Credentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken?: string
}

type SourceData = string | ArrayBuffer | ArrayBufferView

function toKey(data: SourceData): string | Uint8Array {
  if (typeof data === 'string') return data
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  return new Uint8Array(data)
}

/**
 * SHA-256 (or HMAC-SHA-256 when built with a secret) over `node:crypto`, in the shape the
 * Smithy signer expects of a checksum constructor.
 *
 * @example
 * ```ts
 * const h = new NodeSha256()
 * h.update(new TextEncoder().encode('abc'))
 * Buffer.from(await h.digest()).toString('hex') // 'ba7816bf…'
 * ```
 */
export class NodeSha256 {
  readonly #secret: SourceData | undefined
  #hash: Hash | Hmac

  constructor(secret?: SourceData) {
    this.#secret = secret
    this.#hash = NodeSha256.#make(secret)
  }

  static #make(secret: SourceData | undefined): Hash | Hmac {
    if (secret === undefined) return createHash('sha256')
    const key = toKey(secret)
    // A byte key (every derived SigV4 key) as a KeyObject: Node prepares a raw byte key anew
    // on every `createHmac`, at several times the cost of the HMAC itself.
    return createHmac('sha256', typeof key === 'string' ? key : createSecretKey(key))
  }

  update(data: SourceData): void {
    this.#hash.update(toKey(data))
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#hash.digest()))
  }

  reset(): void {
    this.#hash = NodeSha256.#make(this.#secret)
  }
}

/**
 * Hex SHA-256 of a body, as `x-amz-content-sha256` carries it.
 *
 * @example
 * ```ts
 * sha256Hex(new Uint8Array()) // 'e3b0c442…b855'
 * ```
 */
export function sha256Hex(body: string | Uint8Array): string {
  return createHash('sha256').update(body).digest('hex')
}

/** The request shape the signer reads (a Smithy `HttpRequest`, structurally). */
export interface SignableRequest {
  method: string
  protocol: string
  hostname: string
  port?: number
  path: string
  query: Record<string, string | string[]>
  headers: Record<string, string>
  body?: string | Uint8Array
}

/** What the lazily loaded signer can do for us. */
export interface SigV4Signer {
  sign(
    request: SignableRequest,
    options?: {
      signingDate?: Date
      signableHeaders?: Set<string>
      signingRegion?: string
      signingService?: string
    },
  ): Promise<SignableRequest>
}

interface SignerModule {
  SignatureV4: new (init: {
    service: string
    region: string
    credentials: SigV4Credentials
    sha256: typeof NodeSha256
    applyChecksum?: boolean
    uriEscapePath?: boolean
  }) => SigV4Signer
}

let signerModule: Promise<SignerModule> | undefined

/**
 * Build a SigV4 signer for `execute-api`. Rejects with `ERR_INVALID_OPTION` when
 * `@smithy/signature-v4` is not installed.
 *
 * @param applyChecksum add `x-amz-content-sha256` when signing (true for clients; verifiers
 *   pass false so the canonical headers are exactly the ones the caller signed).
 * @example
 * ```ts
 * const signer = await createSigner({ accessKeyId: 'AK', secretAccessKey: 'SK' }, 'us-east-1')
 * const signed = await signer.sign(request)
 * ```
 */
export async function createSigner(
  credentials: SigV4Credentials,
  region: string,
  applyChecksum = true,
): Promise<SigV4Signer> {
  signerModule ??= import('@smithy/signature-v4').then(
    (m) => m as unknown as SignerModule,
    (err: unknown) => {
      signerModule = undefined
      throw new GatehouseError(
        'ERR_INVALID_OPTION',
        'SigV4 needs the package `@smithy/signature-v4`; install it to use credentials.',
        { cause: err },
      )
    },
  )
  const { SignatureV4 } = await signerModule
  return new SignatureV4({
    service: SIGV4_SERVICE,
    region,
    credentials,
    sha256: NodeSha256,
    applyChecksum,
  })
}
