import type { SessionStore } from '../../lib/stores/session-store.js'

/**
 * The five key-value methods of a store, bound to it: a store with no
 * due queue (valid with `reconcile: false`), and one to spread into a store
 * with a method changed.
 */
export function keyValueOf (store: SessionStore): SessionStore {
  return {
    get: (key) => store.get(key),
    set: (key, value, ttlMs) => store.set(key, value, ttlMs),
    claim: (key, value, ttlMs) => store.claim(key, value, ttlMs),
    take: (key) => store.take(key),
    delete: (key) => store.delete(key)
  }
}
