import type { ValueError } from '@sinclair/typebox/errors'

/**
 * TypeBox's reason for refusing a value, for the middle of a sentence: only
 * its first letter lowered, since the rest may quote a pattern or a literal
 * whose case is the rule (`'^[A-Z]{3}$'`).
 */
export function schemaReason ({ message }: Pick<ValueError, 'message'>): string {
  return message.charAt(0).toLowerCase() + message.slice(1)
}

/** Where and why a value was refused: its path (never the value, which may hold anything) and the reason. */
export function schemaProblem (error: Pick<ValueError, 'path' | 'message'>): string {
  return `${error.path || 'the value'} ${schemaReason(error)}`
}
