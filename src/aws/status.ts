/**
 * @module aws/status
 * What exists for a config: the API, its routes and their integrations, the stage and its
 * deployment, the custom domain; and the URLs the app and its clients need — the `wss://`
 * URL browsers connect to and the `@connections` endpoint `createAwsConnections` pushes to.
 * Read-only (`Get*` calls), and never prints request parameters (they hold the secret).
 */
import type { AwsProvisionConfig } from './config.ts'
import { partitionOf } from './desired.ts'
import {
  type AwsContext,
  findApi,
  findDomain,
  readApi,
  readRouteResponses,
  targetId,
} from './find.ts'

/** One route as it exists. */
export interface AwsRouteStatus {
  readonly key: string
  readonly integrationType: string | undefined
  readonly integrationUri: string | undefined
  readonly twoWay: boolean
}

/** The report of {@link awsStatus}. */
export interface AwsStatus {
  readonly exists: boolean
  readonly name: string
  readonly region: string
  readonly apiId?: string
  readonly routes: readonly AwsRouteStatus[]
  readonly stage?: {
    readonly name: string
    readonly deploymentId: string | undefined
    readonly throttlingRateLimitPerSecond: number | undefined
    readonly throttlingBurstLimit: number | undefined
  }
  /** `wss://{apiId}.execute-api.{region}.amazonaws.com/{stage}` */
  readonly websocketUrl?: string
  /** `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}`: the `endpoint` of `createAwsConnections`. */
  readonly connectionsEndpoint?: string
  readonly domain?: {
    readonly name: string
    readonly exists: boolean
    readonly mapped: boolean
    /** `wss://{domain}/{basePath}` */
    readonly websocketUrl: string
    /** Point the domain's DNS record (CNAME or alias) here. */
    readonly dnsTarget: string | undefined
  }
}

/**
 * The execute-api URLs of a stage.
 *
 * @example
 * ```ts
 * stageUrls('abc123', 'eu-west-1', 'production').connectionsEndpoint
 * // 'https://abc123.execute-api.eu-west-1.amazonaws.com/production'
 * ```
 */
export function stageUrls(
  apiId: string,
  region: string,
  stage: string,
): { websocketUrl: string; connectionsEndpoint: string } {
  const suffix = partitionOf(region) === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com'
  const host = `${apiId}.execute-api.${region}.${suffix}`
  return { websocketUrl: `wss://${host}/${stage}`, connectionsEndpoint: `https://${host}/${stage}` }
}

/**
 * Describe what exists for a config.
 *
 * @example
 * ```ts
 * const status = await awsStatus(ctx, config, 'eu-west-1')
 * if (status.exists) console.log(status.websocketUrl, status.connectionsEndpoint)
 * ```
 */
export async function awsStatus(
  ctx: AwsContext,
  config: AwsProvisionConfig,
  region: string,
): Promise<AwsStatus> {
  const api = await findApi(ctx, config.name)
  const domain = config.domain
  const found = domain ? await findDomain(ctx, domain.name) : undefined
  const domainStatus = domain
    ? {
        name: domain.name,
        exists: found !== undefined,
        mapped:
          found?.mappings.some(
            (m) => m.ApiId === api?.ApiId && (m.ApiMappingKey ?? '') === domain.basePath,
          ) ?? false,
        websocketUrl: `wss://${domain.name}/${domain.basePath}`,
        dnsTarget: found?.domain.DomainNameConfigurations?.[0]?.ApiGatewayDomainName,
      }
    : undefined
  if (!api?.ApiId) {
    return {
      exists: false,
      name: config.name,
      region,
      routes: [],
      ...(domainStatus ? { domain: domainStatus } : {}),
    }
  }
  const apiId = api.ApiId
  const { routes, integrations, stages } = await readApi(ctx, apiId)
  const routeStatus: AwsRouteStatus[] = []
  for (const route of routes) {
    const integration = integrations.find((i) => i.IntegrationId === targetId(route))
    const responses = route.RouteId ? await readRouteResponses(ctx, apiId, route.RouteId) : []
    routeStatus.push({
      key: route.RouteKey ?? '',
      integrationType: integration?.IntegrationType,
      integrationUri: integration?.IntegrationUri,
      twoWay: responses.some((r) => r.RouteResponseKey === '$default'),
    })
  }
  const order = (key: string) => ['$connect', '$disconnect', '$default'].indexOf(key) >>> 0
  routeStatus.sort((a, b) => order(a.key) - order(b.key) || a.key.localeCompare(b.key))
  const stage = stages.find((s) => s.StageName === config.stage.name)
  return {
    exists: true,
    name: config.name,
    region,
    apiId,
    routes: routeStatus,
    ...(stage
      ? {
          stage: {
            name: config.stage.name,
            deploymentId: stage.DeploymentId,
            throttlingRateLimitPerSecond: stage.DefaultRouteSettings?.ThrottlingRateLimit,
            throttlingBurstLimit: stage.DefaultRouteSettings?.ThrottlingBurstLimit,
          },
          ...stageUrls(apiId, region, config.stage.name),
        }
      : {}),
    ...(domainStatus ? { domain: domainStatus } : {}),
  }
}
