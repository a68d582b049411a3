import type { FastifyBaseLogger } from 'fastify'
import type { QorePayClient } from './gateway/client.js'
import type { OutcomeReporter } from './outcome/reporter.js'
import type { ResolvedOptions } from './options.js'
import type { SessionStore } from './stores/session-store.js'
import type { UndiciExposure } from './observability/undici-channels.js'
import type { Tracking } from './reconcile/tracking.js'

/** What one registration of the plugin shares between its routes. */
export interface QorePayContext {
  opts: ResolvedOptions
  /**
   * `publicUrl` and the full prefix the routes are registered under (a
   * parent scope's prefix included), no trailing slash: every URL the plugin
   * hands out (redirect_url, TermUrl, success_callback) starts with it.
   */
  routesUrl: string
  /**
   * What this registration's store records are keyed under (Idempotency-Keys,
   * the reconciliation queue): the brand id and the full prefix, a parent
   * scope's included, so two mounts of one brand sharing a store keep theirs apart.
   */
  storeScope: string
  client: QorePayClient
  /** The host's store behind `guardStore`: failures are FST_QOREPAY_STORE_UNAVAILABLE. */
  store: SessionStore
  outcomes: OutcomeReporter
  /** The purchases reconciliation still has to learn the outcome of; absent with `reconcile: false`. */
  tracking: Tracking | undefined
  log: FastifyBaseLogger
  /** Warns when undici's diagnostics channels, which see card data, gain a subscriber. */
  undiciExposure: UndiciExposure
}
