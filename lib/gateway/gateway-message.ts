interface Said { message: string, code?: string }

/**
 * The gateway's own words about an error: `message` when the answer has one,
 * else `__all__`'s first entry, else the first field's (at any depth, its
 * path before the message). An entry is `{ message, code }`; anything else
 * in a list is an unworded "error". Plain strings are not read as words:
 * only `message` fields are masked of card data (./card-text.ts), so a
 * string elsewhere could quote the card.
 */
export function gatewayMessage (body: unknown): Said | undefined {
  if (typeof body !== 'object' || body === null) return undefined
  const record = body as Record<string, unknown>
  if (typeof record.message === 'string') return { message: record.message, code: typeof record.code === 'string' ? record.code : undefined }
  const key = '__all__' in record ? '__all__' : Object.keys(record)[0]
  const value = record[key]
  if (!Array.isArray(value)) return prefixed(key, gatewayMessage(value))
  if (value.length === 0) return undefined
  const said = entry(value[0])
  return key === '__all__' ? said : { ...said, message: `${key}: ${said.message}` }
}

function entry (item: unknown): Said {
  const { message, code } = typeof item === 'object' && item !== null ? item as Record<string, unknown> : {}
  return { message: typeof message === 'string' ? message : 'error', code: typeof code === 'string' ? code : undefined }
}

function prefixed (key: string, inner: Said | undefined): Said | undefined {
  return inner === undefined ? undefined : { ...inner, message: `${key}.${inner.message}` }
}
