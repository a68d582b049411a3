import { stepChannel, traced } from './publish.js'

/** What one reconciliation sweep did. */
export interface SweepResult { checked: number, reported: number, pending: number }

/** `qorepay:reconcile`, one per sweep; the counts are set when it ends. */
export type ReconcileContext = Partial<SweepResult>

export const reconcileChannel = stepChannel<ReconcileContext>('qorepay:reconcile')

/** Traces one sweep: only its three counts are published. */
export function traceSweep<T extends SweepResult> (sweep: () => Promise<T>): Promise<T> {
  return traced(reconcileChannel, () => ({}), sweep, ({ checked, reported, pending }, context) => {
    Object.assign(context, { checked, reported, pending })
    return { checked, reported, pending }
  })
}
