/**
 * @module aws/desired
 * The API Gateway resources a config asks for, as the exact SDK inputs (minus the ids AWS
 * assigns): the WebSocket API, one integration and one route per route key, route responses
 * for two-way routes, the stage, and the custom domain with its mapping. Pure: no calls.
 *
 * The HTTP integration maps, with request parameters (research `apigw-ws-spec.md` §1.4):
 * - `connectionId` ← `context.connectionId` (AWS sends no connection id otherwise);
 * - `x-gatehouse-secret` ← the app's `gatewaySecret` as a static literal: what the app's
 *   authenticity check accepts behind AWS in place of the bundled gateway's HMAC;
 * - the `x-gatehouse-*` context headers the app reads (request id, connect time, stage,
 *   domain, and on message routes the message id; after `$connect` the client's User-Agent),
 *   each overriding any copy a client sent.
 */
import { CONTEXT_HEADERS } from '../events/context-headers.ts'
import { integrationUrlFor } from '../events/integration-request.ts'
import { STATIC_SECRET_HEADER, staticSecretValue } from '../events/signing.ts'
import { type AwsProvisionConfig, OWNER_TAG } from './config.ts'

/** An integration and the route that targets it. */
export interface DesiredRoute {
  readonly key: string
  readonly twoWay: boolean
  /** `CreateIntegration` input without `ApiId`. */
  readonly integration: {
    readonly IntegrationType: 'HTTP_PROXY' | 'AWS_PROXY'
    readonly IntegrationUri: string
    readonly IntegrationMethod: 'POST'
    readonly ConnectionType: 'INTERNET'
    readonly PayloadFormatVersion: '1.0'
    readonly TimeoutInMillis: number
    readonly Description: string
    readonly RequestParameters?: Readonly<Record<string, string>>
  }
  /** `CreateRoute` input without `ApiId` and `Target`. */
  readonly route: {
    readonly RouteKey: string
    readonly AuthorizationType: 'NONE'
    readonly ApiKeyRequired: false
    readonly RouteResponseSelectionExpression?: '$default'
  }
}

/** Everything to provision. */
export interface DesiredState {
  readonly api: {
    readonly Name: string
    readonly ProtocolType: 'WEBSOCKET'
    readonly RouteSelectionExpression: string
    readonly Description: string
    readonly Tags: Readonly<Record<string, string>>
  }
  readonly routes: readonly DesiredRoute[]
  /** `CreateStage` input without `ApiId`. */
  readonly stage: {
    readonly StageName: string
    readonly Description: string
    readonly DefaultRouteSettings: {
      readonly ThrottlingRateLimit: number
      readonly ThrottlingBurstLimit: number
      readonly DetailedMetricsEnabled: boolean
    }
    readonly AccessLogSettings?: { readonly DestinationArn: string; readonly Format: string }
    readonly Tags: Readonly<Record<string, string>>
  }
  readonly domain?: {
    readonly DomainName: string
    readonly DomainNameConfigurations: readonly [
      {
        readonly CertificateArn: string
        readonly EndpointType: 'REGIONAL'
        readonly SecurityPolicy: 'TLS_1_2'
      },
    ]
    readonly Tags: Readonly<Record<string, string>>
    /** `CreateApiMapping`: key and stage. */
    readonly mapping: { readonly ApiMappingKey: string; readonly Stage: string }
  }
}

/** The description that marks the integration of a route (found again even without a route). */
export function integrationDescription(routeKey: string): string {
  return `gatehouse route ${routeKey}`
}

/**
 * The resources for a config. `secret` is the HTTP integration's static secret (unused for
 * Lambda); `region` places the Lambda invocation URI.
 *
 * @example
 * ```ts
 * const desired = desiredState(config, { region: 'eu-west-1', secret: process.env.GATEHOUSE_SECRET })
 * desired.routes.map((r) => r.key) // ['$connect', '$disconnect', '$default']
 * ```
 */
export function desiredState(
  config: AwsProvisionConfig,
  context: { readonly region: string; readonly secret: string | undefined },
): DesiredState {
  const tags = { ...config.tags, [OWNER_TAG]: config.name }
  const keys = [
    { key: '$connect', twoWay: false },
    { key: '$disconnect', twoWay: false },
    ...config.routes,
  ]
  const routes = keys.map(({ key, twoWay }): DesiredRoute => {
    const integration = config.integration
    const common = {
      IntegrationMethod: 'POST' as const,
      ConnectionType: 'INTERNET' as const,
      PayloadFormatVersion: '1.0' as const,
      TimeoutInMillis: integration.timeoutMs,
      Description: integrationDescription(key),
    }
    return {
      key,
      twoWay,
      integration:
        integration.type === 'http'
          ? {
              IntegrationType: 'HTTP_PROXY',
              IntegrationUri: integrationUrlFor(integration.url, key),
              ...common,
              RequestParameters: httpRequestParameters(key, context.secret ?? ''),
            }
          : {
              IntegrationType: 'AWS_PROXY',
              IntegrationUri: lambdaInvocationUri(context.region, integration.functionArn),
              ...common,
            },
      route: {
        RouteKey: key,
        AuthorizationType: 'NONE',
        ApiKeyRequired: false,
        ...(twoWay ? { RouteResponseSelectionExpression: '$default' as const } : {}),
      },
    }
  })
  return {
    api: {
      Name: config.name,
      ProtocolType: 'WEBSOCKET',
      RouteSelectionExpression: config.routeSelectionExpression,
      Description: config.description,
      Tags: tags,
    },
    routes,
    stage: {
      StageName: config.stage.name,
      Description: `${config.name} ${config.stage.name}`,
      DefaultRouteSettings: {
        ThrottlingRateLimit: config.stage.throttlingRateLimitPerSecond,
        ThrottlingBurstLimit: config.stage.throttlingBurstLimit,
        DetailedMetricsEnabled: config.stage.detailedMetrics,
      },
      ...(config.stage.accessLog
        ? {
            AccessLogSettings: {
              DestinationArn: config.stage.accessLog.destinationArn,
              Format: config.stage.accessLog.format,
            },
          }
        : {}),
      Tags: tags,
    },
    ...(config.domain
      ? {
          domain: {
            DomainName: config.domain.name,
            DomainNameConfigurations: [
              {
                CertificateArn: config.domain.certificateArn,
                EndpointType: 'REGIONAL',
                SecurityPolicy: 'TLS_1_2',
              },
            ],
            Tags: tags,
            mapping: { ApiMappingKey: config.domain.basePath, Stage: config.stage.name },
          },
        }
      : {}),
  }
}

/**
 * The request parameters of an HTTP integration for one route.
 *
 * @example
 * ```ts
 * httpRequestParameters('$connect', secret)['integration.request.header.connectionId'] // 'context.connectionId'
 * ```
 */
export function httpRequestParameters(routeKey: string, secret: string): Record<string, string> {
  const h = (name: string) => `integration.request.header.${name}`
  const params: Record<string, string> = {
    [h('connectionId')]: 'context.connectionId',
    // A static value is a single-quoted literal in a request parameter mapping. It is
    // readable with apigateway:GET, so it is a value derived from the secret, never the
    // secret (the HMAC key is derived separately).
    [h(STATIC_SECRET_HEADER)]: `'${staticSecretValue(secret)}'`,
    [h(CONTEXT_HEADERS.requestId)]: 'context.requestId',
    [h(CONTEXT_HEADERS.connectedAt)]: 'context.connectedAt',
    [h(CONTEXT_HEADERS.stage)]: 'context.stage',
    [h(CONTEXT_HEADERS.domainName)]: 'context.domainName',
  }
  if (routeKey !== '$connect') params[h(CONTEXT_HEADERS.userAgent)] = 'context.identity.userAgent'
  if (routeKey !== '$connect' && routeKey !== '$disconnect') {
    params[h(CONTEXT_HEADERS.messageId)] = 'context.messageId'
  }
  return params
}

/**
 * The invocation URI API Gateway calls a Lambda function at.
 *
 * @example
 * ```ts
 * lambdaInvocationUri('eu-west-1', 'arn:aws:lambda:eu-west-1:123456789012:function:chat')
 * // 'arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:…:function:chat/invocations'
 * ```
 */
export function lambdaInvocationUri(region: string, functionArn: string): string {
  return `arn:${partitionOf(region)}:apigateway:${region}:lambda:path/2015-03-31/functions/${functionArn}/invocations`
}

/**
 * The ARN partition of a region (`aws`, `aws-cn`, `aws-us-gov`).
 *
 * @example
 * ```ts
 * partitionOf('cn-north-1') // 'aws-cn'
 * ```
 */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn'
  if (region.startsWith('us-gov-')) return 'aws-us-gov'
  return 'aws'
}
