/**
 * 2xx bodies a card post or a 3DS callback may get that say nothing usable:
 * each is an unknown outcome (looked up, never success, never re-sent).
 * For the simulator's `status` fault: a string is sent as HTML, the rest as JSON.
 */
export const UNREADABLE_ANSWERS: Array<[name: string, body: unknown]> = [
  ['HTML under 200', '<html><body><h1>Thank you</h1></body></html>'],
  ['{}', {}],
  ['[]', []],
  ['null', null],
  ['an empty body', ''],
  ['{"status":"pending_execute"}', { status: 'pending_execute' }],
  ['{"status":"processing"}', { status: 'processing' }]
]
