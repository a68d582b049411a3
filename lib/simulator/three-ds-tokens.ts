import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * The 3-D Secure tokens the simulator hands out. PaReq carries `<`, `&`,
 * `"` and `'` on purpose, so an integration that does not escape it breaks
 * visibly, while still naming its purchase. MD is standard base64 (`+`, `/`,
 * `=`), so it only survives proper form encoding. PaRes is HMAC-signed with
 * a per-simulator secret, so a payer cannot forge an approval.
 */

export type ThreeDSResult = 'approve' | 'fail'

export class ThreeDSTokens {
  readonly #secret = randomBytes(32)

  paReq (purchaseId: string): string {
    const nonce = randomBytes(6).toString('hex')
    return `<PaReq id="${purchaseId}" nonce='${nonce}'>3DS&v=1.0.2</PaReq>`
  }

  /** The purchase a PaReq names, or undefined for text that is not one. */
  purchaseOf (paReq: string): string | undefined {
    return /^<PaReq id="([^"]+)" nonce='[0-9a-f]+'>/.exec(paReq)?.[1]
  }

  md (): string {
    // 25 bytes: always '==' padding, and + or / in most values.
    return randomBytes(25).toString('base64')
  }

  paRes (purchaseId: string, result: ThreeDSResult): string {
    const payload = Buffer.from(JSON.stringify({ p: purchaseId, r: result })).toString('base64')
    return `${payload}.${this.#sign(payload)}`
  }

  /** The result a genuine PaRes for `purchaseId` carries, else undefined. */
  verify (paRes: string, purchaseId: string): ThreeDSResult | undefined {
    const [payload, mac] = paRes.split('.')
    if (!payload || !mac) return undefined
    const expected = Buffer.from(this.#sign(payload))
    const given = Buffer.from(mac)
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined
    const { p, r } = JSON.parse(Buffer.from(payload, 'base64').toString()) as { p: string, r: ThreeDSResult }
    return p === purchaseId ? r : undefined
  }

  #sign (payload: string): string {
    return createHmac('sha256', this.#secret).update(payload).digest('base64')
  }
}
