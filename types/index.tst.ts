import { expect } from 'tstyche'
import type { SessionStore } from '../lib/index.js'

expect<SessionStore['claim']>().type.toBe<(key: string, value: unknown, ttlMs: number) => Promise<boolean>>()
