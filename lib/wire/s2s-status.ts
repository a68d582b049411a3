import { Type, type Static } from '@sinclair/typebox'

const loose = { additionalProperties: true }

/** Answers of `POST {direct_post_url}?s2s=true` and of `POST {callback_url}`. */
export const S2SExecuted = Type.Object({ status: Type.Literal('executed') }, loose)
export const S2SAuthorized = Type.Object({ status: Type.Literal('authorized') }, loose)
export const S2SThreeDSRequired = Type.Object({
  status: Type.Literal('3DS_required'),
  Method: Type.Union([Type.Literal('POST'), Type.Literal('GET')]),
  PaReq: Type.String(),
  /** May be empty or absent; send it back as it came (absent: empty). */
  MD: Type.Optional(Type.String()),
  /** The issuer's ACS. */
  URL: Type.String(),
  callback_url: Type.String()
}, loose)
export const S2SError = Type.Object({
  status: Type.Literal('error'),
  code: Type.Optional(Type.String()),
  message: Type.Optional(Type.String())
}, loose)
export const S2SStatus = Type.Union([S2SExecuted, S2SAuthorized, S2SThreeDSRequired, S2SError])
export type S2SExecuted = Static<typeof S2SExecuted>
export type S2SAuthorized = Static<typeof S2SAuthorized>
export type S2SThreeDSRequired = Static<typeof S2SThreeDSRequired>
export type S2SError = Static<typeof S2SError>
export type S2SStatus = Static<typeof S2SStatus>
