/**
 * @module aws/converge
 * `plan` and `apply` are one procedure: read what exists, compare it with what the config
 * asks for, and — only when applying — create, update or delete the difference. Sharing the
 * code means the plan shows exactly what apply will do. A plan issues `Get*` calls only.
 *
 * Order: API → per route its integration, route and route response → stale routes → stage
 * → deployment (only when routes or integrations changed, or the stage has none) → custom
 * domain → API mapping. A second apply over an unchanged config finds nothing to do.
 */
import type * as V2 from '@aws-sdk/client-apigatewayv2'
import { GatehouseError } from '../errors.ts'
import { OWNER_TAG } from './config.ts'
import type { DesiredRoute, DesiredState } from './desired.ts'
import {
  type AwsContext,
  findApi,
  findDomain,
  readApi,
  readRouteResponses,
  targetId,
} from './find.ts'
import { UNKNOWN_API_ID } from './iam.ts'

/** The kinds of resource provisioned. */
export type AwsResourceKind =
  | 'api'
  | 'integration'
  | 'route'
  | 'route-response'
  | 'stage'
  | 'deployment'
  | 'domain'
  | 'api-mapping'

/** One difference between what exists and what the config asks for. */
export interface AwsChange {
  readonly action: 'create' | 'update' | 'delete'
  readonly resource: AwsResourceKind
  /** The route key, stage name, domain name… */
  readonly name: string
  /** On update: the fields that drifted (names only: values may be secret). */
  readonly fields?: readonly string[]
  /** The id AWS assigned (apply) or the existing id (update, delete). */
  readonly id?: string
}

/** What {@link converge} found or did. */
export interface ConvergeResult {
  /** `undefined` only for a plan of an API that does not exist yet. */
  readonly apiId: string | undefined
  /** `wss://{apiId}.execute-api.{region}.amazonaws.com` once the API exists. */
  readonly apiEndpoint: string | undefined
  /** The regional target a DNS record for the custom domain must point at. */
  readonly domainTarget: string | undefined
  readonly changes: readonly AwsChange[]
}

/** Options of {@link converge}. */
export interface ConvergeOptions {
  /** Make the changes (apply); when false only `Get*` calls are made (plan). */
  readonly apply: boolean
  /** Called as each change is found (plan) or made (apply): progress for the CLI. */
  readonly onChange?: (change: AwsChange) => void
}

/**
 * Compare and, when applying, converge.
 *
 * @throws GatehouseError `ERR_OPTION_CONFLICT` for an API, domain or mapping that exists but
 *   belongs to something else; the SDK's errors (access denied, limits) as they are.
 * @example
 * ```ts
 * const planned = await converge(ctx, desired, { apply: false })
 * if (planned.changes.length > 0) await converge(ctx, desired, { apply: true, onChange: log })
 * ```
 */
export async function converge(
  ctx: AwsContext,
  desired: DesiredState,
  options: ConvergeOptions,
): Promise<ConvergeResult> {
  const { sdk, client } = ctx
  const changes: AwsChange[] = []
  const note = (change: AwsChange) => {
    changes.push(change)
    options.onChange?.(change)
  }
  const apply = options.apply
  let newIds = 0
  const placeholder = () => `<new-${++newIds}>`

  // --- the API
  const api = await findApi(ctx, desired.api.Name)
  let apiId: string
  let apiEndpoint: string | undefined = api?.ApiEndpoint
  if (!api) {
    if (apply) {
      const out = await sdk.call(client, 'CreateApi', {
        ...desired.api,
        Tags: { ...desired.api.Tags },
      })
      apiId = required(out.ApiId, 'CreateApi')
      apiEndpoint = out.ApiEndpoint
    } else apiId = UNKNOWN_API_ID
    note({ action: 'create', resource: 'api', name: desired.api.Name, id: apiId })
  } else {
    apiId = required(api.ApiId, 'GetApis')
    const fields = drift(api, {
      RouteSelectionExpression: desired.api.RouteSelectionExpression,
      Description: desired.api.Description,
    })
    if (fields.length > 0) {
      if (apply) {
        await sdk.call(client, 'UpdateApi', {
          ApiId: apiId,
          RouteSelectionExpression: desired.api.RouteSelectionExpression,
          Description: desired.api.Description,
        })
      }
      note({ action: 'update', resource: 'api', name: desired.api.Name, fields, id: apiId })
    }
  }

  const existing = api ? await readApi(ctx, apiId) : { routes: [], integrations: [], stages: [] }
  let routesChanged = false
  const targeted = new Set(existing.routes.map((r) => targetId(r)))

  // --- integrations, routes and route responses
  for (const want of desired.routes) {
    const route = existing.routes.find((r) => r.RouteKey === want.key)
    const integrationId = await convergeIntegration(want, route, existing.integrations)
    const target = `integrations/${integrationId}`
    let routeId: string
    if (!route) {
      if (apply) {
        const out = await sdk.call(client, 'CreateRoute', {
          ApiId: apiId,
          ...want.route,
          Target: target,
        })
        routeId = required(out.RouteId, 'CreateRoute')
      } else routeId = placeholder()
      routesChanged = true
      note({ action: 'create', resource: 'route', name: want.key, id: routeId })
    } else {
      routeId = required(route.RouteId, 'GetRoutes')
      const fields = drift(route, {
        Target: target,
        AuthorizationType: want.route.AuthorizationType,
        ApiKeyRequired: want.route.ApiKeyRequired,
        ...(want.twoWay ? { RouteResponseSelectionExpression: '$default' } : {}),
      })
      if (fields.length > 0) {
        if (apply) {
          await sdk.call(client, 'UpdateRoute', {
            ApiId: apiId,
            RouteId: routeId,
            ...want.route,
            Target: target,
          })
        }
        routesChanged = true
        note({ action: 'update', resource: 'route', name: want.key, fields, id: routeId })
      }
    }
    // Two-way: the `$default` route response makes API Gateway send the app's answer back.
    const responses = route ? await readRouteResponses(ctx, apiId, routeId) : []
    const response = responses.find((r) => r.RouteResponseKey === '$default')
    if (want.twoWay && !response) {
      let id: string
      if (apply) {
        const out = await sdk.call(client, 'CreateRouteResponse', {
          ApiId: apiId,
          RouteId: routeId,
          RouteResponseKey: '$default',
        })
        id = required(out.RouteResponseId, 'CreateRouteResponse')
      } else id = placeholder()
      routesChanged = true
      note({ action: 'create', resource: 'route-response', name: `${want.key} $default`, id })
    } else if (!want.twoWay && response) {
      const id = required(response.RouteResponseId, 'GetRouteResponses')
      if (apply) {
        await sdk.call(client, 'DeleteRouteResponse', {
          ApiId: apiId,
          RouteId: routeId,
          RouteResponseId: id,
        })
      }
      routesChanged = true
      note({ action: 'delete', resource: 'route-response', name: `${want.key} $default`, id })
    }
  }

  // --- routes no longer in the config, and the integrations only they used
  const wantedKeys = new Set(desired.routes.map((r) => r.key))
  const stale = existing.routes.filter(
    (r) => r.RouteKey !== undefined && !wantedKeys.has(r.RouteKey),
  )
  const kept = new Set(existing.routes.filter((r) => !stale.includes(r)).map((r) => targetId(r)))
  for (const route of stale) {
    const id = required(route.RouteId, 'GetRoutes')
    if (apply) await sdk.call(client, 'DeleteRoute', { ApiId: apiId, RouteId: id })
    routesChanged = true
    note({ action: 'delete', resource: 'route', name: route.RouteKey ?? id, id })
    const integration = targetId(route)
    if (
      integration !== undefined &&
      !kept.has(integration) &&
      existing.integrations.some((i) => i.IntegrationId === integration)
    ) {
      if (apply)
        await sdk.call(client, 'DeleteIntegration', { ApiId: apiId, IntegrationId: integration })
      note({
        action: 'delete',
        resource: 'integration',
        name: route.RouteKey ?? integration,
        id: integration,
      })
    }
  }

  // --- the stage and its deployment
  const stage = existing.stages.find((s) => s.StageName === desired.stage.StageName)
  const stageInput = {
    ApiId: apiId,
    StageName: desired.stage.StageName,
    Description: desired.stage.Description,
    DefaultRouteSettings: { ...desired.stage.DefaultRouteSettings },
    ...(desired.stage.AccessLogSettings
      ? { AccessLogSettings: { ...desired.stage.AccessLogSettings } }
      : {}),
  }
  if (!stage) {
    if (apply)
      await sdk.call(client, 'CreateStage', { ...stageInput, Tags: { ...desired.stage.Tags } })
    note({ action: 'create', resource: 'stage', name: desired.stage.StageName })
  } else {
    const fields = [
      ...drift(stage, { Description: desired.stage.Description }),
      ...drift(stage.DefaultRouteSettings ?? {}, desired.stage.DefaultRouteSettings).map(
        (f) => `DefaultRouteSettings.${f}`,
      ),
      ...(desired.stage.AccessLogSettings
        ? drift(stage.AccessLogSettings ?? {}, desired.stage.AccessLogSettings).map(
            (f) => `AccessLogSettings.${f}`,
          )
        : []),
    ]
    if (fields.length > 0) {
      if (apply) await sdk.call(client, 'UpdateStage', stageInput)
      note({ action: 'update', resource: 'stage', name: desired.stage.StageName, fields })
    }
  }
  if (routesChanged || !stage?.DeploymentId) {
    let id: string
    if (apply) {
      const out = await sdk.call(client, 'CreateDeployment', {
        ApiId: apiId,
        StageName: desired.stage.StageName,
        Description: 'gatehouse aws apply',
      })
      id = required(out.DeploymentId, 'CreateDeployment')
    } else id = placeholder()
    note({ action: 'create', resource: 'deployment', name: desired.stage.StageName, id })
  }

  // --- the custom domain and its mapping
  let domainTarget: string | undefined
  if (desired.domain) {
    const want = desired.domain
    const found = await findDomain(ctx, want.DomainName)
    if (found && found.domain.Tags?.[OWNER_TAG] !== desired.api.Name) {
      throw new GatehouseError(
        'ERR_OPTION_CONFLICT',
        `The custom domain ${want.DomainName} exists but was not created by gatehouse aws for ${desired.api.Name}; remove "domain" from the config and map it yourself, or tag it ${OWNER_TAG}=${desired.api.Name}.`,
      )
    }
    const configurations = want.DomainNameConfigurations.map((c) => ({ ...c }))
    if (!found) {
      if (apply) {
        const out = await sdk.call(client, 'CreateDomainName', {
          DomainName: want.DomainName,
          DomainNameConfigurations: configurations,
          Tags: { ...want.Tags },
        })
        domainTarget = out.DomainNameConfigurations?.[0]?.ApiGatewayDomainName
      }
      note({ action: 'create', resource: 'domain', name: want.DomainName })
    } else {
      const current = found.domain.DomainNameConfigurations?.[0] ?? {}
      domainTarget = current.ApiGatewayDomainName
      const fields = drift(current, want.DomainNameConfigurations[0])
      if (fields.length > 0) {
        if (apply) {
          await sdk.call(client, 'UpdateDomainName', {
            DomainName: want.DomainName,
            DomainNameConfigurations: configurations,
          })
        }
        note({ action: 'update', resource: 'domain', name: want.DomainName, fields })
      }
    }
    const key = want.mapping.ApiMappingKey
    const mapping = found?.mappings.find((m) => (m.ApiMappingKey ?? '') === key)
    const mappingName = `${want.DomainName}/${key}`
    if (mapping && mapping.ApiId !== apiId) {
      throw new GatehouseError(
        'ERR_OPTION_CONFLICT',
        `${mappingName} is mapped to another API (${mapping.ApiId}); pick another domain.basePath.`,
      )
    }
    if (!mapping) {
      let id: string
      if (apply) {
        const out = await sdk.call(client, 'CreateApiMapping', {
          DomainName: want.DomainName,
          ApiId: apiId,
          Stage: want.mapping.Stage,
          ...(key === '' ? {} : { ApiMappingKey: key }),
        })
        id = required(out.ApiMappingId, 'CreateApiMapping')
      } else id = placeholder()
      note({ action: 'create', resource: 'api-mapping', name: mappingName, id })
    } else if (mapping.Stage !== want.mapping.Stage) {
      const id = required(mapping.ApiMappingId, 'GetApiMappings')
      if (apply) {
        await sdk.call(client, 'UpdateApiMapping', {
          DomainName: want.DomainName,
          ApiMappingId: id,
          ApiId: apiId,
          Stage: want.mapping.Stage,
        })
      }
      note({ action: 'update', resource: 'api-mapping', name: mappingName, fields: ['Stage'], id })
    }
  }

  return {
    apiId: apiId === UNKNOWN_API_ID ? undefined : apiId,
    apiEndpoint,
    domainTarget,
    changes,
  }

  /** The id of the route's integration, created or updated to match. */
  async function convergeIntegration(
    want: DesiredRoute,
    route: V2.Route | undefined,
    integrations: readonly V2.Integration[],
  ): Promise<string> {
    const byTarget = integrations.find((i) => i.IntegrationId === targetId(route))
    // An integration whose route was never created (an interrupted run) is reused, not duplicated.
    const found =
      byTarget ??
      integrations.find(
        (i) => i.Description === want.integration.Description && !targeted.has(i.IntegrationId),
      )
    if (!found) {
      let id: string
      if (apply) {
        const out = await sdk.call(client, 'CreateIntegration', {
          ApiId: apiId,
          ...want.integration,
          ...(want.integration.RequestParameters
            ? { RequestParameters: { ...want.integration.RequestParameters } }
            : {}),
        })
        id = required(out.IntegrationId, 'CreateIntegration')
      } else id = placeholder()
      note({ action: 'create', resource: 'integration', name: want.key, id })
      return id
    }
    const id = required(found.IntegrationId, 'GetIntegrations')
    const { RequestParameters, ...scalars } = want.integration
    const fields = drift(found, scalars)
    if (!sameMap(found.RequestParameters, RequestParameters)) fields.push('RequestParameters')
    if (fields.length > 0) {
      if (apply) {
        await sdk.call(client, 'UpdateIntegration', {
          ApiId: apiId,
          IntegrationId: id,
          ...want.integration,
          ...(RequestParameters ? { RequestParameters: { ...RequestParameters } } : {}),
        })
      }
      routesChanged = true
      note({ action: 'update', resource: 'integration', name: want.key, fields, id })
    }
    return id
  }
}

/** The names of `want`'s fields whose value differs in `have`. */
function drift(have: object, want: Readonly<Record<string, unknown>>): string[] {
  const current = have as Record<string, unknown>
  return Object.keys(want).filter((key) => current[key] !== want[key])
}

function sameMap(
  a: Readonly<Record<string, string>> | undefined,
  b: Readonly<Record<string, string>> | undefined,
): boolean {
  const x = a ?? {}
  const y = b ?? {}
  const keys = Object.keys(x)
  return keys.length === Object.keys(y).length && keys.every((k) => x[k] === y[k])
}

function required(value: string | undefined, op: string): string {
  if (value === undefined || value === '') {
    throw new GatehouseError('ERR_INTEGRATION_FAILED', `${op} answered without an id`)
  }
  return value
}
