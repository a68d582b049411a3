import { channel } from 'node:diagnostics_channel'

/** `qorepay:tracked`: a purchase starts (`+1`) or stops (`-1`) being tracked for reconciliation. */
export interface TrackedMessage { change: 1 | -1 }

export const trackedChannel = channel('qorepay:tracked')

/** Called by reconciliation where it adds or drops a tracked purchase; free when nobody listens. */
export function publishTracked (change: 1 | -1): void {
  if (trackedChannel.hasSubscribers) trackedChannel.publish({ change } satisfies TrackedMessage)
}
