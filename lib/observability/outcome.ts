import type { OutcomeEvent } from '../events.js'
import type { ReportResult } from '../outcome/reporter.js'
import { stepChannel, traced } from './publish.js'

/** `qorepay:outcome`, one per report of an outcome through its hook. */
export interface OutcomeContext {
  purchaseId: string
  status: OutcomeEvent['status']
  source: OutcomeEvent['source']
  eventId: string
  /** The gateway's error code of a failed payment (`do_not_honour`, ...). */
  code?: string
  /** What the report did: `fired`, `duplicate`, `stale`, `in_progress` or `hook_failed`. */
  result?: ReportResult
}

export const outcomeChannel = stepChannel<OutcomeContext>('qorepay:outcome')

/** Traces one report of `event`; the event itself (its Purchase, its masked PAN) is not published. */
export function traceOutcome (event: OutcomeEvent, report: () => Promise<ReportResult>): Promise<ReportResult> {
  return traced(outcomeChannel, () => ({
    purchaseId: event.purchaseId,
    status: event.status,
    source: event.source,
    eventId: event.eventId,
    code: event.status === 'error' ? event.error.code : undefined
  }), report, (result) => result)
}
