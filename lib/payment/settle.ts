import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type { QorePayClient } from '../gateway/client.js'
import { QorePayGatewayError } from '../gateway/gateway-error.js'
import type { OutcomeReporter } from '../outcome/reporter.js'
import { outcomeOfAnswer, outcomeOfPurchase, toOutcomeEvent, type EventBase, type Outcome } from '../outcome/mapping.js'
import type { S2SStatus, S2SThreeDSRequired } from '../wire/s2s-status.js'

/**
 * "Post, or look up when the outcome is unknown": the card post (Step 2)
 * and the 3DS callback (Step 5) may move money, so both follow one rule.
 *
 * | what came back | means | so |
 * |---|---|---|
 * | a status answer (2xx, or 4xx `{"status":"error"}`) | the outcome | reported |
 * | a 4xx without one | the gateway refused the request and did nothing | the error is thrown (502) |
 * | nothing, and it provably never left (refused connection, DNS) | nothing happened | the error is thrown; the caller may try again |
 * | a timeout, a reset, a 5xx, or a 2xx we cannot read (not JSON, no status, a status the flow does not know) | unknown: it may have been charged | looked up with `GET /purchases/{id}/`, never sent again |
 */
export function outcomeUnknown (err: unknown): boolean {
  return err instanceof QorePayGatewayError && err.sent && !refused(err.gatewayStatus)
}

function refused (gatewayStatus: number | undefined): boolean {
  return gatewayStatus !== undefined && gatewayStatus >= 400 && gatewayStatus < 500
}

/** What a card post or a callback came to. `pending`: still undecided after the lookup. */
export type Settled =
  | { kind: 'outcome', outcome: Outcome }
  | { kind: 'pending' }
  | { kind: '3DS_required', threeDS: S2SThreeDSRequired }

export interface SettleStep {
  /** `direct_post` may answer `3DS_required`; at the `callback` that is a failed 3-D Secure. */
  step: 'direct_post' | 'callback'
  send: () => Promise<S2SStatus>
  /** What the outcome event carries besides the outcome. */
  event: EventBase & { source: 'direct' | '3ds' }
}

export interface SettleDeps {
  client: QorePayClient
  outcomes: OutcomeReporter
  lookupAttempts: number
}

const STEP_NAMES = { direct_post: 'card post', callback: '3DS callback' } as const
// A second 3DS round is not part of the S2S flow: the payer did not authenticate.
const THREE_DS_AGAIN: Outcome = { status: 'error', code: '3ds_failed', message: '3-D Secure did not complete' }

/**
 * Sends the step once and reports the outcome it comes to through the
 * exactly-once hooks (quietly: the payer's answer does not wait on a failing
 * hook or store). Throws only when nothing can have happened (see
 * `outcomeUnknown`).
 */
export async function settle (deps: SettleDeps, step: SettleStep, request: FastifyRequest): Promise<Settled> {
  const { purchaseId } = step.event
  let outcome: Outcome | undefined
  try {
    const answer = await step.send()
    if (answer.status === '3DS_required') {
      if (step.step === 'direct_post') return { kind: '3DS_required', threeDS: answer }
      outcome = THREE_DS_AGAIN
    } else {
      outcome = outcomeOfAnswer(answer)
    }
  } catch (err) {
    if (!outcomeUnknown(err)) throw err
    request.log.warn({ err, purchaseId }, `qorepay: ${STEP_NAMES[step.step]} for purchase ${purchaseId} has an unknown outcome; looking it up`)
    outcome = await lookupOutcome(deps.client, purchaseId, deps.lookupAttempts, request.log)
    if (outcome === undefined) return { kind: 'pending' }
  }
  await deps.outcomes.reportQuietly(toOutcomeEvent(outcome, step.event), request)
  return { kind: 'outcome', outcome }
}

/**
 * Asks the gateway what became of a purchase instead of sending anything
 * again. A few spaced tries, since the gateway may still be processing;
 * `undefined` when it still is not decided (or cannot be asked).
 */
export async function lookupOutcome (client: QorePayClient, purchaseId: string, attempts: number, log: FastifyBaseLogger): Promise<Outcome | undefined> {
  // `attempts` is at least 1 (the option's minimum); no wait after the last try.
  for (let attempt = 1; ; attempt++) {
    try {
      const outcome = outcomeOfPurchase(await client.getPurchase(purchaseId))
      if (outcome !== undefined) return outcome
    } catch (err) {
      log.warn({ err, purchaseId }, `qorepay: looking up purchase ${purchaseId} failed`)
    }
    if (attempt >= attempts) break
    await sleep(200 * attempt)
  }
  return undefined
}
