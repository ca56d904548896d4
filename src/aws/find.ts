/**
 * @module aws/find
 * Reading what already exists: the API by name and owner tag, its routes, integrations,
 * route responses and stages, the custom domain and its mappings. Only `Get*` calls.
 * A same-named API or domain that `gatehouse aws` did not create is refused, never adopted
 * silently: changing someone else's API would be a far worse mistake than stopping.
 */
import type * as V2 from '@aws-sdk/client-apigatewayv2'
import { GatehouseError } from '../errors.ts'
import { OWNER_TAG } from './config.ts'
import { type ApiGatewayV2ClientLike, listAll, type V2Sdk } from './sdk.ts'

/** The client and loaded SDK every provisioning step works with. */
export interface AwsContext {
  readonly sdk: V2Sdk
  readonly client: ApiGatewayV2ClientLike
}

/**
 * The WebSocket API named `name` and tagged as ours, or `undefined`.
 *
 * @throws GatehouseError `ERR_OPTION_CONFLICT` when an untagged API has that name, or when
 *   several tagged ones do (a duplicate from an interrupted run: delete the extra one).
 * @example
 * ```ts
 * const api = await findApi({ sdk, client }, 'chat')
 * ```
 */
export async function findApi(ctx: AwsContext, name: string): Promise<V2.Api | undefined> {
  const apis = await listAll((NextToken) =>
    ctx.sdk.call(ctx.client, 'GetApis', NextToken === undefined ? {} : { NextToken }),
  )
  const named = apis.filter((a) => a.Name === name && a.ProtocolType === 'WEBSOCKET')
  const ours = named.filter((a) => a.Tags?.[OWNER_TAG] === name)
  if (ours.length > 1) {
    throw new GatehouseError(
      'ERR_OPTION_CONFLICT',
      `${ours.length} WebSocket APIs named ${name} carry the ${OWNER_TAG} tag (${ours
        .map((a) => a.ApiId)
        .join(', ')}); delete all but one.`,
    )
  }
  if (ours.length === 0 && named.length > 0) {
    throw new GatehouseError(
      'ERR_OPTION_CONFLICT',
      `A WebSocket API named ${name} exists (${named.map((a) => a.ApiId).join(', ')}) but was not created by gatehouse aws: choose another name, or tag it ${OWNER_TAG}=${name} to let gatehouse manage it.`,
    )
  }
  return ours[0]
}

/**
 * An API's routes, integrations and stages.
 *
 * @example
 * ```ts
 * const { routes, integrations, stages } = await readApi(ctx, api.ApiId!)
 * ```
 */
export async function readApi(
  ctx: AwsContext,
  apiId: string,
): Promise<{ routes: V2.Route[]; integrations: V2.Integration[]; stages: V2.Stage[] }> {
  const page = (NextToken: string | undefined) =>
    NextToken === undefined ? { ApiId: apiId } : { ApiId: apiId, NextToken }
  const [routes, integrations, stages] = await Promise.all([
    listAll((t) => ctx.sdk.call(ctx.client, 'GetRoutes', page(t))),
    listAll((t) => ctx.sdk.call(ctx.client, 'GetIntegrations', page(t))),
    listAll((t) => ctx.sdk.call(ctx.client, 'GetStages', page(t))),
  ])
  return { routes, integrations, stages }
}

/**
 * The route responses of one route.
 *
 * @example
 * ```ts
 * const responses = await readRouteResponses(ctx, apiId, routeId)
 * ```
 */
export function readRouteResponses(
  ctx: AwsContext,
  apiId: string,
  routeId: string,
): Promise<V2.RouteResponse[]> {
  return listAll((NextToken) =>
    ctx.sdk.call(
      ctx.client,
      'GetRouteResponses',
      NextToken === undefined
        ? { ApiId: apiId, RouteId: routeId }
        : { ApiId: apiId, RouteId: routeId, NextToken },
    ),
  )
}

/**
 * The custom domain `domainName` and its API mappings, or `undefined` when it does not exist.
 *
 * @example
 * ```ts
 * const found = await findDomain(ctx, 'ws.example.com')
 * found?.mappings.map((m) => m.ApiMappingKey)
 * ```
 */
export async function findDomain(
  ctx: AwsContext,
  domainName: string,
): Promise<{ domain: V2.DomainName; mappings: V2.ApiMapping[] } | undefined> {
  const domains = await listAll((NextToken) =>
    ctx.sdk.call(ctx.client, 'GetDomainNames', NextToken === undefined ? {} : { NextToken }),
  )
  const domain = domains.find((d) => d.DomainName === domainName)
  if (!domain) return undefined
  const mappings = await listAll((NextToken) =>
    ctx.sdk.call(
      ctx.client,
      'GetApiMappings',
      NextToken === undefined ? { DomainName: domainName } : { DomainName: domainName, NextToken },
    ),
  )
  return { domain, mappings }
}

/**
 * The integration id a route targets (`integrations/<id>`), or `undefined`.
 *
 * @example
 * ```ts
 * targetId({ RouteKey: '$default', Target: 'integrations/abc' }) // 'abc'
 * ```
 */
export function targetId(route: V2.Route | undefined): string | undefined {
  const target = route?.Target
  return target?.startsWith('integrations/') ? target.slice('integrations/'.length) : undefined
}
