import { constants, createPublicKey, verify, type KeyObject } from 'node:crypto'
import { QorePayConfigError, QorePayGatewayError } from '../errors.js'

/**
 * `X-Signature` as the gateway signs webhooks and success callbacks: base64
 * RSA PKCS#1 v1.5 over SHA-256 of the exact body bytes. Verification always
 * runs on the bytes received, never on re-serialised JSON.
 */

/** Why a signature was refused; goes into the log line (never the body). */
export type SignatureProblem = 'missing' | 'malformed' | 'mismatch'

/** A parsed public key with its padding, built once and reused for every verification. */
export interface VerifyKey { key: KeyObject, padding: number }

// Canonical base64 only: Buffer.from(.., 'base64') would silently skip garbage.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Parses a PEM (SPKI, PKCS#1 or a certificate); `undefined` when it is not an RSA public key. */
export function parseRsaKey (pem: unknown): VerifyKey | undefined {
  if (typeof pem !== 'string') return undefined
  let key: KeyObject
  try {
    key = createPublicKey(pem)
  } catch {
    return undefined
  }
  return key.asymmetricKeyType === 'rsa' ? { key, padding: constants.RSA_PKCS1_PADDING } : undefined
}

/**
 * The webhook keys of the options, parsed at registration: a PEM that is not
 * an RSA public key fails `register` with an error naming the option.
 */
export function webhookKeys (pems: readonly string[], option = 'webhookPublicKey'): VerifyKey[] {
  return pems.map((pem, index) => {
    const key = parseRsaKey(pem)
    if (key === undefined) {
      const name = pems.length > 1 ? `${option}[${index}]` : option
      throw new QorePayConfigError(`${name}: expected an RSA public key in PEM format`)
    }
    return key
  })
}

/** The signature bytes of an `X-Signature` header, or why there are none. */
export function decodeSignature (header: string | string[] | undefined): Buffer | SignatureProblem {
  if (header === undefined || header === '') return 'missing'
  if (typeof header !== 'string' || !BASE64.test(header)) return 'malformed'
  return Buffer.from(header, 'base64')
}

/** True when one of `keys` signed `body`. */
export function signedBy (body: Buffer, signature: Buffer, keys: readonly VerifyKey[]): boolean {
  return keys.some((key) => verify('sha256', body, key, signature))
}

/** Verifies a webhook against every configured key (several during a rotation). */
export function checkSignature (body: Buffer, header: string | string[] | undefined, keys: readonly VerifyKey[]): SignatureProblem | undefined {
  const signature = decodeSignature(header)
  if (!Buffer.isBuffer(signature)) return signature
  return signedBy(body, signature, keys) ? undefined : 'mismatch'
}

/** Ten seconds: a forged signature can cost the gateway at most one key fetch per interval. */
export const REFETCH_INTERVAL_MS = 10_000

/**
 * The company key that signs success callbacks, from `GET /public_key/`:
 * fetched on first use and cached. When a signature does not verify, the
 * gateway may have rotated it, so it is fetched again before refusing; at
 * most one fetch runs at a time and refetches are rate-limited.
 */
export class CompanyKey {
  readonly #fetch: () => Promise<unknown>
  readonly #intervalMs: number
  #key: VerifyKey | undefined
  #fetching: Promise<VerifyKey> | undefined
  #refetchedAt = -Infinity
  #failure: unknown
  #failedAt = -Infinity

  constructor (fetch: () => Promise<unknown>, intervalMs = REFETCH_INTERVAL_MS) {
    this.#fetch = fetch
    this.#intervalMs = intervalMs
  }

  /** Rejects with the gateway's error when the key cannot be fetched: the sender retries later. */
  async check (body: Buffer, header: string | string[] | undefined): Promise<SignatureProblem | undefined> {
    const signature = decodeSignature(header)
    if (!Buffer.isBuffer(signature)) return signature
    const key = this.#key ?? await this.#first()
    if (signedBy(body, signature, [key])) return undefined
    const fresh = await this.#refresh()
    return fresh !== undefined && signedBy(body, signature, [fresh]) ? undefined : 'mismatch'
  }

  /**
   * The first key. While fetching it fails, callers within the interval get
   * that failure again instead of a fetch each: forged callbacks cannot
   * turn a gateway outage into a flood of key fetches.
   */
  async #first (): Promise<VerifyKey> {
    if (this.#fetching === undefined && this.#failure !== undefined && performance.now() - this.#failedAt < this.#intervalMs) throw this.#failure
    return await this.#load()
  }

  /** The key as the gateway serves it now, or `undefined` when a refetch is not due yet. */
  async #refresh (): Promise<VerifyKey | undefined> {
    // A refetch in flight (another request's) answers for this one too.
    if (this.#fetching === undefined) {
      const now = performance.now()
      if (now - this.#refetchedAt < this.#intervalMs) return undefined
      this.#refetchedAt = now
    }
    return await this.#load()
  }

  #load (): Promise<VerifyKey> {
    this.#fetching ??= this.#fetch()
      .then((pem) => {
        const key = parseRsaKey(pem)
        if (key === undefined) throw new QorePayGatewayError({ kind: 'gateway', detail: 'GET public_key/ did not answer an RSA public key in PEM format', sent: true, gatewayStatus: 200 })
        this.#key = key
        return key
      })
      .catch((err: unknown) => {
        this.#failure = err
        this.#failedAt = performance.now()
        throw err
      })
      .finally(() => { this.#fetching = undefined })
    return this.#fetching
  }
}
