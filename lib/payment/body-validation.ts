import { isIP } from 'node:net'
import { Ajv, type ErrorObject } from 'ajv'

/**
 * The one validator of the plugin's request bodies: the routes' (through
 * Fastify's validator compiler) and `app.qorepay.pay`'s, so both refuse the
 * same bodies with the same messages.
 */
export function bodyAjv (): Ajv {
  // strictNumbers: JSON's 1e400 parses to Infinity, which is no integer or number a payment field can hold.
  const ajv = new Ajv({ coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false, strict: false, strictNumbers: true })
  // node:net's reading of an address, the same the gateway's validator takes (no zone ids, no leading zeros).
  ajv.addFormat('ipv4', (value: string) => isIP(value) === 4)
  ajv.addFormat('ipv6', (value: string) => isIP(value) === 6)
  return ajv
}

/** The routes' schema error text (`setSchemaErrorFormatter`): the field only, since deeper paths hold the payer's own `order` keys, which an answer never reflects. */
export function schemaErrors (errors: Array<Pick<ErrorObject, 'instancePath' | 'message'>>, dataVar: string): Error {
  return new Error(errors.map((e) => `${dataVar}${e.instancePath.split('/', 2).join('/')} ${String(e.message)}`).join(', '))
}

/** Fastify's validation error for a body, as its route validation throws it: 400 `FST_ERR_VALIDATION`. */
export function bodyValidationError (errors: ErrorObject[]): Error {
  return Object.assign(schemaErrors(errors, 'body'), { statusCode: 400, code: 'FST_ERR_VALIDATION', validation: errors, validationContext: 'body' })
}
