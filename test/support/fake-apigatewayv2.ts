/**
 * A small in-memory API Gateway v2 (WebSocket APIs) behind `aws-sdk-client-mock`: Create*
 * stores what it is given, Get* returns it (paged two items at a time, so pagination is
 * exercised), Update* merges, Delete* removes. It enforces the rules a real API Gateway
 * enforces that provisioning could get wrong: required inputs, unique route keys and stage
 * names, route targets that name an existing integration, request-parameter syntax, the
 * `$default`-only route-response key, a deployment needing routes, mappings onto existing
 * stages, and no deleting an API or domain that is still mapped.
 */
import {
  ApiGatewayV2Client,
  BadRequestException,
  ConflictException,
  NotFoundException,
} from '@aws-sdk/client-apigatewayv2'
import { mockClient } from 'aws-sdk-client-mock'

type Rec = Record<string, unknown>

interface ApiState {
  api: Rec
  routes: Rec[]
  integrations: Rec[]
  stages: Rec[]
  deployments: Rec[]
  routeResponses: Record<string, Rec[]>
}

interface DomainState {
  domain: Rec
  mappings: Rec[]
}

/** What the fake holds, serialisable (for a CLI test across processes). */
export interface FakeState {
  apis: ApiState[]
  domains: DomainState[]
  nextId: number
}

const PAGE = 2
const PARAM_TARGET = /^integration\.request\.(header|querystring|path)\.[a-zA-Z0-9._$-]+$/
const PARAM_SOURCE =
  /^(context\.[A-Za-z.]+|route\.request\.(header|querystring|multivalueheader|multivaluequerystring|body)\.[A-Za-z0-9._$-]+|stageVariables\.[A-Za-z0-9_]+|'[^']*')$/

const meta = { $metadata: {} }
const notFound = (what: string) => new NotFoundException({ message: `${what} not found`, ...meta })
const conflict = (message: string) => new ConflictException({ message, ...meta })
const bad = (message: string) => new BadRequestException({ message, ...meta })

/** The in-memory API Gateway. */
export class FakeApiGateway {
  state: FakeState
  readonly region: string
  /** Every command received: its name (without `Command`) and input. */
  readonly calls: Array<{ name: string; input: Rec }> = []

  constructor(region = 'eu-west-1', state?: FakeState) {
    this.region = region
    this.state = state ?? { apis: [], domains: [], nextId: 1 }
  }

  /** Names of the mutating commands received (anything but Get*). */
  mutations(): string[] {
    return this.calls.filter((c) => !c.name.startsWith('Get')).map((c) => c.name)
  }

  /** The inputs of every call of one command. */
  inputs(name: string): Rec[] {
    return this.calls.filter((c) => c.name === name).map((c) => c.input)
  }

  /** Route every `ApiGatewayV2Client#send` in this process to the fake. */
  install(): { restore(): void } {
    const mock = mockClient(ApiGatewayV2Client)
    mock.send.callsFake(
      async (command: object) =>
        (await this.handle(
          command.constructor.name.replace(/Command$/, ''),
          (command as { input: Rec }).input,
        )) as never,
    )
    return { restore: () => mock.restore() }
  }

  /** Answer one command. */
  async handle(name: string, rawInput: Rec): Promise<Rec> {
    const input = structuredClone(rawInput)
    this.calls.push({ name, input })
    const method = (this as unknown as Record<string, (input: Rec) => Rec>)[`op${name}`]
    if (typeof method !== 'function') throw new Error(`fake API Gateway: ${name} not emulated`)
    return structuredClone({ ...method.call(this, input), ...meta })
  }

  private id(): string {
    const n = this.state.nextId++
    return `${n.toString(36).padStart(3, '0')}fake${(n * 7919).toString(36)}`.slice(0, 10)
  }

  private apiOf(input: Rec): ApiState {
    const api = this.state.apis.find((a) => a.api.ApiId === input.ApiId)
    if (!api) throw notFound(`API ${String(input.ApiId)}`)
    return api
  }

  private page(items: Rec[], input: Rec): Rec {
    const start = Number(input.NextToken ?? 0)
    const slice = items.slice(start, start + PAGE)
    return {
      Items: slice,
      ...(start + PAGE < items.length ? { NextToken: String(start + PAGE) } : {}),
    }
  }

  // --- APIs
  opCreateApi(input: Rec): Rec {
    if (typeof input.Name !== 'string' || input.ProtocolType === undefined) {
      throw bad('Name and ProtocolType are required')
    }
    if (input.ProtocolType === 'WEBSOCKET' && typeof input.RouteSelectionExpression !== 'string') {
      throw bad('RouteSelectionExpression is required for WEBSOCKET')
    }
    const ApiId = this.id()
    const api = {
      ...input,
      ApiId,
      ApiEndpoint: `wss://${ApiId}.execute-api.${this.region}.amazonaws.com`,
      ApiKeySelectionExpression: '$request.header.x-api-key',
      CreatedDate: new Date(0),
    }
    this.state.apis.push({
      api,
      routes: [],
      integrations: [],
      stages: [],
      deployments: [],
      routeResponses: {},
    })
    return api
  }
  opGetApis(input: Rec): Rec {
    return this.page(
      this.state.apis.map((a) => a.api),
      input,
    )
  }
  opUpdateApi(input: Rec): Rec {
    const a = this.apiOf(input)
    Object.assign(a.api, input)
    return a.api
  }
  opDeleteApi(input: Rec): Rec {
    const a = this.apiOf(input)
    if (this.state.domains.some((d) => d.mappings.some((m) => m.ApiId === a.api.ApiId))) {
      throw conflict('The API is still mapped to a custom domain')
    }
    this.state.apis = this.state.apis.filter((x) => x !== a)
    return {}
  }

  // --- integrations
  opCreateIntegration(input: Rec): Rec {
    const a = this.apiOf(input)
    checkIntegration(input)
    const { ApiId: _, ...rest } = input
    const integration = { ...rest, IntegrationId: this.id() }
    a.integrations.push(integration)
    return integration
  }
  opGetIntegrations(input: Rec): Rec {
    return this.page(this.apiOf(input).integrations, input)
  }
  opUpdateIntegration(input: Rec): Rec {
    const a = this.apiOf(input)
    const i = a.integrations.find((x) => x.IntegrationId === input.IntegrationId)
    if (!i) throw notFound('Integration')
    const { ApiId: _, ...rest } = input
    const merged = { ...i, ...rest }
    checkIntegration(merged)
    Object.assign(i, merged)
    return i
  }
  opDeleteIntegration(input: Rec): Rec {
    const a = this.apiOf(input)
    if (a.routes.some((r) => r.Target === `integrations/${String(input.IntegrationId)}`)) {
      throw conflict('A route still targets the integration')
    }
    const before = a.integrations.length
    a.integrations = a.integrations.filter((x) => x.IntegrationId !== input.IntegrationId)
    if (a.integrations.length === before) throw notFound('Integration')
    return {}
  }

  // --- routes and route responses
  private checkTarget(a: ApiState, target: unknown): void {
    if (target === undefined) return
    const id =
      typeof target === 'string' && target.startsWith('integrations/') ? target.slice(13) : ''
    if (!a.integrations.some((i) => i.IntegrationId === id)) {
      throw bad(`Target ${String(target)} is not integrations/<an existing integration id>`)
    }
  }
  opCreateRoute(input: Rec): Rec {
    const a = this.apiOf(input)
    if (typeof input.RouteKey !== 'string') throw bad('RouteKey is required')
    if (a.routes.some((r) => r.RouteKey === input.RouteKey))
      throw conflict(`Route ${input.RouteKey} exists`)
    this.checkTarget(a, input.Target)
    const { ApiId: _, ...rest } = input
    const route = { ...rest, RouteId: this.id() }
    a.routes.push(route)
    return route
  }
  opGetRoutes(input: Rec): Rec {
    return this.page(this.apiOf(input).routes, input)
  }
  opUpdateRoute(input: Rec): Rec {
    const a = this.apiOf(input)
    const r = a.routes.find((x) => x.RouteId === input.RouteId)
    if (!r) throw notFound('Route')
    this.checkTarget(a, input.Target)
    const { ApiId: _, ...rest } = input
    Object.assign(r, rest)
    return r
  }
  opDeleteRoute(input: Rec): Rec {
    const a = this.apiOf(input)
    a.routes = a.routes.filter((x) => x.RouteId !== input.RouteId)
    delete a.routeResponses[String(input.RouteId)]
    return {}
  }
  opCreateRouteResponse(input: Rec): Rec {
    const a = this.apiOf(input)
    const routeId = String(input.RouteId)
    if (!a.routes.some((r) => r.RouteId === routeId)) throw notFound('Route')
    if (input.RouteResponseKey !== '$default')
      throw bad('Only the $default route response key is supported')
    const list = a.routeResponses[routeId] ?? []
    a.routeResponses[routeId] = list
    if (list.some((r) => r.RouteResponseKey === '$default')) throw conflict('Route response exists')
    const response = { RouteResponseKey: '$default', RouteResponseId: this.id() }
    list.push(response)
    return response
  }
  opGetRouteResponses(input: Rec): Rec {
    const a = this.apiOf(input)
    if (!a.routes.some((r) => r.RouteId === input.RouteId)) throw notFound('Route')
    return this.page(a.routeResponses[String(input.RouteId)] ?? [], input)
  }
  opDeleteRouteResponse(input: Rec): Rec {
    const a = this.apiOf(input)
    const key = String(input.RouteId)
    a.routeResponses[key] = (a.routeResponses[key] ?? []).filter(
      (r) => r.RouteResponseId !== input.RouteResponseId,
    )
    return {}
  }

  // --- stages and deployments
  opCreateStage(input: Rec): Rec {
    const a = this.apiOf(input)
    if (typeof input.StageName !== 'string') throw bad('StageName is required')
    if (a.stages.some((s) => s.StageName === input.StageName)) throw conflict('Stage exists')
    const stage = { ...input }
    delete stage.ApiId
    a.stages.push(stage)
    return stage
  }
  opGetStages(input: Rec): Rec {
    return this.page(this.apiOf(input).stages, input)
  }
  opUpdateStage(input: Rec): Rec {
    const a = this.apiOf(input)
    const s = a.stages.find((x) => x.StageName === input.StageName)
    if (!s) throw notFound('Stage')
    const { ApiId: _, ...rest } = input
    Object.assign(s, rest)
    return s
  }
  opCreateDeployment(input: Rec): Rec {
    const a = this.apiOf(input)
    if (a.routes.length === 0 || a.routes.some((r) => r.Target === undefined)) {
      throw bad('At least one route is required, and every route needs an integration')
    }
    const deployment = {
      DeploymentId: this.id(),
      DeploymentStatus: 'DEPLOYED',
      Description: input.Description,
    }
    a.deployments.push(deployment)
    if (input.StageName !== undefined) {
      const s = a.stages.find((x) => x.StageName === input.StageName)
      if (!s) throw notFound('Stage')
      s.DeploymentId = deployment.DeploymentId
    }
    return deployment
  }

  // --- domains and mappings
  private domainOf(input: Rec): DomainState {
    const d = this.state.domains.find((x) => x.domain.DomainName === input.DomainName)
    if (!d) throw notFound(`Domain ${String(input.DomainName)}`)
    return d
  }
  opCreateDomainName(input: Rec): Rec {
    if (this.state.domains.some((d) => d.domain.DomainName === input.DomainName)) {
      throw conflict('Domain exists')
    }
    const configs = input.DomainNameConfigurations as Rec[] | undefined
    if (!configs?.[0]?.CertificateArn) throw bad('A certificate ARN is required')
    const domain = {
      ...input,
      DomainNameConfigurations: configs.map((c) => ({
        ...c,
        ApiGatewayDomainName: `d-${this.id()}.execute-api.${this.region}.amazonaws.com`,
        DomainNameStatus: 'AVAILABLE',
      })),
    }
    this.state.domains.push({ domain, mappings: [] })
    return domain
  }
  opGetDomainNames(input: Rec): Rec {
    return this.page(
      this.state.domains.map((d) => d.domain),
      input,
    )
  }
  opUpdateDomainName(input: Rec): Rec {
    const d = this.domainOf(input)
    const old = (d.domain.DomainNameConfigurations as Rec[])[0] ?? {}
    d.domain.DomainNameConfigurations = (input.DomainNameConfigurations as Rec[]).map((c) => ({
      ...c,
      ApiGatewayDomainName: old.ApiGatewayDomainName,
    }))
    return d.domain
  }
  opDeleteDomainName(input: Rec): Rec {
    const d = this.domainOf(input)
    if (d.mappings.length > 0) throw conflict('The domain still has API mappings')
    this.state.domains = this.state.domains.filter((x) => x !== d)
    return {}
  }
  opCreateApiMapping(input: Rec): Rec {
    const d = this.domainOf(input)
    const a = this.apiOf(input)
    if (!a.stages.some((s) => s.StageName === input.Stage))
      throw bad(`No stage ${String(input.Stage)}`)
    const key = (input.ApiMappingKey as string | undefined) ?? ''
    if (d.mappings.some((m) => (m.ApiMappingKey ?? '') === key))
      throw conflict('Mapping key in use')
    const mapping = {
      ApiId: input.ApiId,
      Stage: input.Stage,
      ApiMappingKey: key,
      ApiMappingId: this.id(),
    }
    d.mappings.push(mapping)
    return mapping
  }
  opGetApiMappings(input: Rec): Rec {
    return this.page(this.domainOf(input).mappings, input)
  }
  opUpdateApiMapping(input: Rec): Rec {
    const d = this.domainOf(input)
    const m = d.mappings.find((x) => x.ApiMappingId === input.ApiMappingId)
    if (!m) throw notFound('Mapping')
    Object.assign(m, { ApiId: input.ApiId, Stage: input.Stage })
    return m
  }
  opDeleteApiMapping(input: Rec): Rec {
    const d = this.domainOf(input)
    d.mappings = d.mappings.filter((x) => x.ApiMappingId !== input.ApiMappingId)
    return {}
  }
}

function checkIntegration(input: Rec): void {
  const type = input.IntegrationType
  if (
    type !== 'HTTP_PROXY' &&
    type !== 'AWS_PROXY' &&
    type !== 'HTTP' &&
    type !== 'AWS' &&
    type !== 'MOCK'
  ) {
    throw bad('IntegrationType is required')
  }
  if ((type === 'HTTP_PROXY' || type === 'AWS_PROXY') && typeof input.IntegrationUri !== 'string') {
    throw bad('IntegrationUri is required')
  }
  if (type === 'HTTP_PROXY' && typeof input.IntegrationMethod !== 'string') {
    throw bad('IntegrationMethod is required for HTTP_PROXY')
  }
  if (
    type === 'AWS_PROXY' &&
    !/^arn:aws[a-z-]*:apigateway:[a-z0-9-]+:lambda:path\/2015-03-31\/functions\/arn:.+\/invocations$/.test(
      String(input.IntegrationUri),
    )
  ) {
    throw bad(
      'A Lambda integration URI is arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations',
    )
  }
  const timeout = input.TimeoutInMillis
  if (timeout !== undefined && (typeof timeout !== 'number' || timeout < 50 || timeout > 29_000)) {
    throw bad('TimeoutInMillis must be 50 to 29000')
  }
  for (const [target, source] of Object.entries(
    (input.RequestParameters as Rec | undefined) ?? {},
  )) {
    if (!PARAM_TARGET.test(target) || typeof source !== 'string' || !PARAM_SOURCE.test(source)) {
      throw bad(`Invalid mapping expression: ${target} = ${String(source)}`)
    }
  }
}
