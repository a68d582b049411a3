import { createHash } from 'node:crypto'
import type { QorePayClient } from '../gateway/client.js'
import { QorePayIdempotencyConflictError, QorePayIdempotencyMismatchError, QorePayValidationError } from '../errors.js'
import type { SessionStore } from '../stores/session-store.js'
import { isIdempotencyKey } from './idempotency.js'
import { outcomeUnknown } from './settle.js'
import type { Purchase, RefundAnswer } from '../wire/purchase.js'

/**
 * `capture`, `refund` and `charge` under an idempotency key: the platform
 * keeps no keys of its own, so a call whose answer was lost (a timeout, a
 * reset, a 5xx) may or may not have moved money. Sent again under the same
 * key, the call first looks the purchase up and compares it with what it was
 * before the first send: changed, the first call (or something else) acted,
 * and the call resolves the Purchase as it is now without sending anything;
 * unchanged, it is sent again. A finished call's answer is kept 24 hours and
 * resolved again under its key.
 */
export interface ActionOptions {
  /** 1-255 printable ASCII characters; the same key must come with the same arguments. */
  idempotencyKey?: string
}

const RECORD_TTL_MS = 24 * 3600_000

/** What tells that a purchase moved: any of these changes when a capture, refund or charge (or anything else) happened. */
interface Snapshot { status: string, refundable: number, attempts: number, updatedOn: number }

interface ActionRecord<A> {
  /** A hash of the call's arguments: another call under the same key is refused. */
  args: string
  before: Snapshot
  /** The answer of the call that completed. */
  answer?: A
}

export interface RetriedActionDeps {
  client: QorePayClient
  store: SessionStore
  /** Namespaces keys per brand and prefix. */
  scope: string
  /**
   * How long a key stays held after a send's answer was lost: no retry looks
   * (or sends) before this is over, since the gateway may still be at work.
   */
  settleMs: number
}

export interface RetriedActions {
  capture: (id: string, amount?: number, options?: ActionOptions) => Promise<Purchase>
  refund: (id: string, amount?: number, options?: ActionOptions) => Promise<RefundAnswer>
  charge: (id: string, recurringToken: string, options?: ActionOptions) => Promise<Purchase>
}

export function retriedActions (deps: RetriedActionDeps): RetriedActions {
  const { client } = deps
  return {
    capture: (id, amount, options = {}) => options.idempotencyKey === undefined
      ? client.capture(id, amount)
      : once(deps, 'capture', id, options.idempotencyKey, [amount], () => client.capture(id, amount)),
    refund: (id, amount, options = {}) => options.idempotencyKey === undefined
      ? client.refund(id, amount)
      : once(deps, 'refund', id, options.idempotencyKey, [amount], () => client.refund(id, amount)),
    charge: (id, recurringToken, options = {}) => options.idempotencyKey === undefined
      ? client.charge(id, recurringToken)
      : once(deps, 'charge', id, options.idempotencyKey, [recurringToken], () => client.charge(id, recurringToken))
  }
}

async function once<A extends Purchase | RefundAnswer> (
  deps: RetriedActionDeps, action: string, id: string, idempotencyKey: string, args: unknown[], send: () => Promise<A>
): Promise<A | Purchase> {
  if (!isIdempotencyKey(idempotencyKey)) {
    throw new QorePayValidationError('idempotencyKey must be 1-255 printable ASCII characters without spaces')
  }
  // The id is checked by the first gateway call; in a key it is only hashed.
  const key = `action:${deps.scope}:${action}:${hash([id, idempotencyKey])}`
  const fingerprint = hash(args)
  const { store, client } = deps

  // One send at a time under a key, and none while an earlier one may still be at work.
  const sending = `${key}:sending`
  if (!await store.claim(sending, true, deps.settleMs)) {
    throw new QorePayIdempotencyConflictError(`A ${action} with this idempotencyKey is still in progress`)
  }
  // Let go of the claim once the outcome is known; a lost answer keeps it until its send is surely over.
  let outcomeLost = false
  try {
    const seen = await store.get(key) as ActionRecord<A> | undefined
    if (seen !== undefined && seen.args !== fingerprint) throw new QorePayIdempotencyMismatchError(`This idempotencyKey was used for another ${action}`)
    if (seen?.answer !== undefined) return seen.answer
    if (seen !== undefined) {
      // An earlier send's answer was lost: what the purchase is now tells whether it acted.
      const now = await client.getPurchase(id)
      if (moved(seen.before, snapshot(now))) {
        await store.set(key, { ...seen, answer: now } satisfies ActionRecord<Purchase>, RECORD_TTL_MS)
        return now
      }
    }
    const record: ActionRecord<A> = seen ?? { args: fingerprint, before: snapshot(await client.getPurchase(id)) }
    // Written before each send: a lost answer is then told apart from a call never made, for 24 hours from this send.
    await store.set(key, record, RECORD_TTL_MS)
    // The claim's time counts from the send, whatever the lookups before it took.
    await store.set(sending, true, deps.settleMs)
    let answer: A
    try {
      answer = await send()
    } catch (err) {
      // Refused (4xx), never sent, or stopped before sending (a malformed token): nothing happened, so the key is free for a fresh call.
      if (!outcomeUnknown(err)) {
        await store.delete(key)
      } else {
        // Lost: the claim holds the key from now on, while the gateway may still be at work on it.
        outcomeLost = true
        await store.set(sending, true, deps.settleMs)
      }
      throw err
    }
    await store.set(key, { ...record, answer }, RECORD_TTL_MS)
    return answer
  } finally {
    if (!outcomeLost) await store.delete(sending)
  }
}

function snapshot (purchase: Purchase): Snapshot {
  return { status: purchase.status, refundable: purchase.refundable_amount, attempts: purchase.transaction_data.attempts.length, updatedOn: purchase.updated_on }
}

function moved (before: Snapshot, now: Snapshot): boolean {
  return before.status !== now.status || before.refundable !== now.refundable || before.attempts !== now.attempts || before.updatedOn !== now.updatedOn
}

function hash (value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('base64url')
}
