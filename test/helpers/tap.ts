/** What the helpers need of a tap test: somewhere to put their clean-up. */
export interface Tap { teardown (fn: () => unknown): void }
