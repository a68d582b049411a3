import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type { QorePayClient } from './gateway/client.js'
import type { OutcomeEvent } from './events.js'
import type { OutcomeReporter, ReportResult } from './outcome/reporter.js'
import type { ResolvedOptions } from './options.js'
import type { SessionStore } from './stores/session-store.js'

/** What one registration of the plugin shares between its routes. */
export interface QorePayContext {
  opts: ResolvedOptions
  client: QorePayClient
  /** The host's store behind `guardStore`: failures are FST_QOREPAY_STORE_UNAVAILABLE. */
  store: SessionStore
  outcomes: OutcomeReporter
  log: FastifyBaseLogger
  /**
   * Reports an outcome on a path where the payer already has their answer:
   * a failing store or hook is logged, and the webhook reports it later.
   */
  reportQuietly (event: OutcomeEvent, request: FastifyRequest): Promise<ReportResult | undefined>
}
