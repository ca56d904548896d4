/**
 * @module events
 * The neutral event model and its codecs: HTTP integration (both sides), Lambda proxy
 * (both sides), the gateway → app signature and API Gateway route selection.
 *
 * @example
 * ```ts
 * import { decodeHttpEvent, encodeHttpResponse, selectRoute } from 'gatehouse'
 * ```
 */
export { clfTime } from './clf-time.ts'
export { CONTEXT_HEADERS } from './context-headers.ts'
export type {
  EventHandler,
  EventTransport,
  EventType,
  GatewayEvent,
  GatewayResponse,
  SignedRequest,
} from './event.ts'
export { eventTypeOf } from './event.ts'
export {
  forwardableClientHeaders,
  HTTP_TOKEN,
  isGatewayOwnedHeader,
  isHeaderName,
  isHttpToken,
} from './headers.ts'
export {
  type DecodeHttpOptions,
  decodeHttpEvent,
  encodeHttpResponse,
  routeKeyFromPath,
} from './http.ts'
export { randomRequestId } from './ids.ts'
export {
  type IntegrationRequest,
  type IntegrationTarget,
  integrationHeadersAreSafe,
  integrationUrlFor,
  signIntegrationRequest,
  toIntegrationRequest,
} from './integration-request.ts'
export {
  type IntegrationResponse,
  integrationAgent,
  type SendIntegrationOptions,
  sendIntegrationRequest,
} from './integration-send.ts'
export {
  fromLambdaEvent,
  fromLambdaResult,
  type LambdaRequestContext,
  type LambdaResult,
  type LambdaWebSocketEvent,
  type ToLambdaEventExtra,
  toLambdaEvent,
  toLambdaResult,
} from './lambda.ts'
export {
  compileRouteExpression,
  createRouteSelector,
  type RouteExpression,
  selectRoute,
} from './route-selection.ts'
export {
  createSignatureVerifier,
  type EventSignature,
  hashSignedHeaders,
  isUnsignedHeader,
  SIGNATURE_HEADER,
  type SignatureVerdict,
  type SignatureVerifier,
  type SignatureVerifierOptions,
  type SignedParts,
  STATIC_SECRET_HEADER,
  signEvent,
  TIMESTAMP_HEADER,
  verifyStaticSecret,
} from './signing.ts'
