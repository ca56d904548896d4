/**
 * @module aws/sdk
 * The API Gateway v2 SDK (`@aws-sdk/client-apigatewayv2`, an optional peer dependency),
 * loaded only when `gatehouse aws` runs, so an app that never provisions never needs it.
 * Commands are built by name through {@link V2Sdk.command}; their input types come from the
 * SDK itself (type-only imports, erased at run time).
 */
import type * as V2 from '@aws-sdk/client-apigatewayv2'
import { GatehouseError } from '../errors.ts'

const PACKAGE = '@aws-sdk/client-apigatewayv2'

/** The client surface provisioning uses (an `ApiGatewayV2Client` satisfies it). */
export interface ApiGatewayV2ClientLike {
  send(command: unknown): Promise<unknown>
  /** A real client's resolved config: its region comes from the SDK's default chain. */
  readonly config?: { readonly region?: unknown }
}

/** The commands provisioning issues, by name, with the SDK's own input and output types. */
export interface V2Commands {
  GetApis: [V2.GetApisCommandInput, V2.GetApisCommandOutput]
  CreateApi: [V2.CreateApiCommandInput, V2.CreateApiCommandOutput]
  UpdateApi: [V2.UpdateApiCommandInput, V2.UpdateApiCommandOutput]
  DeleteApi: [V2.DeleteApiCommandInput, V2.DeleteApiCommandOutput]
  GetIntegrations: [V2.GetIntegrationsCommandInput, V2.GetIntegrationsCommandOutput]
  CreateIntegration: [V2.CreateIntegrationCommandInput, V2.CreateIntegrationCommandOutput]
  UpdateIntegration: [V2.UpdateIntegrationCommandInput, V2.UpdateIntegrationCommandOutput]
  DeleteIntegration: [V2.DeleteIntegrationCommandInput, V2.DeleteIntegrationCommandOutput]
  GetRoutes: [V2.GetRoutesCommandInput, V2.GetRoutesCommandOutput]
  CreateRoute: [V2.CreateRouteCommandInput, V2.CreateRouteCommandOutput]
  UpdateRoute: [V2.UpdateRouteCommandInput, V2.UpdateRouteCommandOutput]
  DeleteRoute: [V2.DeleteRouteCommandInput, V2.DeleteRouteCommandOutput]
  GetRouteResponses: [V2.GetRouteResponsesCommandInput, V2.GetRouteResponsesCommandOutput]
  CreateRouteResponse: [V2.CreateRouteResponseCommandInput, V2.CreateRouteResponseCommandOutput]
  DeleteRouteResponse: [V2.DeleteRouteResponseCommandInput, V2.DeleteRouteResponseCommandOutput]
  GetStages: [V2.GetStagesCommandInput, V2.GetStagesCommandOutput]
  CreateStage: [V2.CreateStageCommandInput, V2.CreateStageCommandOutput]
  UpdateStage: [V2.UpdateStageCommandInput, V2.UpdateStageCommandOutput]
  CreateDeployment: [V2.CreateDeploymentCommandInput, V2.CreateDeploymentCommandOutput]
  GetDomainNames: [V2.GetDomainNamesCommandInput, V2.GetDomainNamesCommandOutput]
  CreateDomainName: [V2.CreateDomainNameCommandInput, V2.CreateDomainNameCommandOutput]
  UpdateDomainName: [V2.UpdateDomainNameCommandInput, V2.UpdateDomainNameCommandOutput]
  DeleteDomainName: [V2.DeleteDomainNameCommandInput, V2.DeleteDomainNameCommandOutput]
  GetApiMappings: [V2.GetApiMappingsCommandInput, V2.GetApiMappingsCommandOutput]
  CreateApiMapping: [V2.CreateApiMappingCommandInput, V2.CreateApiMappingCommandOutput]
  UpdateApiMapping: [V2.UpdateApiMappingCommandInput, V2.UpdateApiMappingCommandOutput]
  DeleteApiMapping: [V2.DeleteApiMappingCommandInput, V2.DeleteApiMappingCommandOutput]
}

/** A command name. Mutating ones are every name not starting with `Get`. */
export type V2CommandName = keyof V2Commands

/** The loaded SDK: build clients and send commands by name. */
export interface V2Sdk {
  createClient(options: { readonly region?: string }): ApiGatewayV2ClientLike
  call<N extends V2CommandName>(
    client: ApiGatewayV2ClientLike,
    name: N,
    input: V2Commands[N][0],
  ): Promise<V2Commands[N][1]>
}

let loaded: Promise<V2Sdk> | undefined

/**
 * Load the SDK once.
 *
 * @throws GatehouseError `ERR_INVALID_OPTION` when the package is not installed, saying how
 *   to install it.
 * @example
 * ```ts
 * const sdk = await loadApiGatewayV2()
 * const client = sdk.createClient({ region: 'eu-west-1' })
 * const { Items } = await sdk.call(client, 'GetApis', {})
 * ```
 */
export function loadApiGatewayV2(): Promise<V2Sdk> {
  loaded ??= import(PACKAGE).then(
    (m: Record<string, unknown>) => {
      const Client = m.ApiGatewayV2Client as new (config: {
        region?: string
      }) => ApiGatewayV2ClientLike
      return {
        createClient: (options) =>
          new Client(options.region === undefined ? {} : { region: options.region }),
        call: async (client, name, input) => {
          const Command = m[`${name}Command`] as new (input: unknown) => unknown
          return (await client.send(new Command(input))) as never
        },
      } satisfies V2Sdk
    },
    (err: unknown) => {
      loaded = undefined
      throw new GatehouseError(
        'ERR_INVALID_OPTION',
        `gatehouse aws needs the package \`${PACKAGE}\`: npm install --save-dev ${PACKAGE}`,
        { cause: err },
      )
    },
  )
  return loaded
}

/**
 * True for an error the SDK raised because a resource does not exist (404 `NotFoundException`).
 *
 * @example
 * ```ts
 * if (isNotFound(err)) return undefined
 * ```
 */
export function isNotFound(err: unknown): boolean {
  const e = err as { name?: unknown; $metadata?: { httpStatusCode?: unknown } } | null
  return e?.name === 'NotFoundException' || e?.$metadata?.httpStatusCode === 404
}

/**
 * Every item of a paginated `Get*` list (`NextToken`), page after page.
 *
 * @example
 * ```ts
 * const apis = await listAll((NextToken) => sdk.call(client, 'GetApis', { NextToken }))
 * ```
 */
export async function listAll<T>(
  page: (
    nextToken: string | undefined,
  ) => Promise<{ Items?: T[] | undefined; NextToken?: string | undefined }>,
): Promise<T[]> {
  const items: T[] = []
  let token: string | undefined
  // A bound, so a misbehaving endpoint repeating its token cannot loop forever.
  for (let pages = 0; pages < 1000; pages++) {
    const out = await page(token)
    items.push(...(out.Items ?? []))
    token = out.NextToken
    if (token === undefined || token === '') return items
  }
  throw new GatehouseError('ERR_INTEGRATION_FAILED', 'A list from API Gateway never ended')
}
