/** The gateway's own words about an error: `__all__` first, else the first field's first message. */
export function gatewayMessage (body: unknown): { message: string, code?: string } | undefined {
  if (typeof body !== 'object' || body === null) return undefined
  const record = body as Record<string, unknown>
  if (typeof record.message === 'string') return { message: record.message, code: typeof record.code === 'string' ? record.code : undefined }
  const key = '__all__' in record ? '__all__' : Object.keys(record)[0]
  if (key === undefined) return undefined
  const value = record[key]
  const item = Array.isArray(value) ? value[0] as { message?: unknown, code?: unknown } | undefined : undefined
  if (item === undefined) return typeof value === 'object' ? prefixed(key, gatewayMessage(value)) : undefined
  const message = typeof item.message === 'string' ? item.message : 'error'
  const code = typeof item.code === 'string' ? item.code : undefined
  return key === '__all__' ? { message, code } : { message: `${key}: ${message}`, code }
}

function prefixed (key: string, inner: { message: string, code?: string } | undefined): { message: string, code?: string } | undefined {
  return inner === undefined ? undefined : { ...inner, message: `${key}.${inner.message}` }
}
