import * as cedar from '@cedar-policy/cedar-wasm/nodejs';

/** The functions of `@cedar-policy/cedar-wasm` the authorizer uses, so tests can pass a broken one. */
export type CedarEngine = Pick<
  typeof cedar,
  | 'checkParseSchema'
  | 'policySetTextToParts'
  | 'policyToJson'
  | 'policyToText'
  | 'validate'
  | 'preparsePolicySet'
  | 'preparseSchema'
  | 'schemaToJson'
  | 'statefulIsAuthorized'
>;

/** The real Cedar engine, compiled to WebAssembly and run in process. */
export const cedarEngine: CedarEngine = cedar;
