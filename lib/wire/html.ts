const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Safe in element text and in quoted attribute values: the pages put every outside value through it. */
export function escapeHtml (value: string): string {
  return value.replace(/[&<>"']/g, (c) => ENTITIES[c])
}
