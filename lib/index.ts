export type { SessionStore } from './store.js'
export * from './errors.js'
