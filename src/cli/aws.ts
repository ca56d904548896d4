/**
 * @module cli/aws
 * `gatehouse aws plan|apply|status|destroy`: provision the AWS API Gateway WebSocket API an
 * app runs behind, from a config file and flags. Progress goes to stderr as each resource is
 * made; results to stdout, as text or (`--json`) one JSON object for scripts. The SDK client
 * uses the default credential chain; `deps.createClient` replaces it (tests, custom clients).
 */
import { createInterface } from 'node:readline/promises'
import { parseArgs } from 'node:util'
import { type AwsProvisionConfig, parseAwsConfig, readIntegrationSecret } from '../aws/config.ts'
import { type AwsChange, converge } from '../aws/converge.ts'
import { desiredState } from '../aws/desired.ts'
import { destroy } from '../aws/destroy.ts'
import type { AwsContext } from '../aws/find.ts'
import {
  accountIdOf,
  lambdaInvokeStatement,
  pushPolicy,
  UNKNOWN_ACCOUNT,
  UNKNOWN_API_ID,
} from '../aws/iam.ts'
import { loadAwsConfigFile } from '../aws/load-config.ts'
import { type ApiGatewayV2ClientLike, loadApiGatewayV2 } from '../aws/sdk.ts'
import { awsStatus, stageUrls } from '../aws/status.ts'
import { GatehouseError } from '../errors.ts'
import type { CliIo } from './io.ts'
import { usageError } from './io.ts'

/** The help text of `gatehouse aws`. */
export const AWS_USAGE = `Usage: gatehouse aws <plan|apply|status|destroy> [options]

Provision the AWS API Gateway WebSocket API an app runs behind: the API, $connect,
$disconnect, $default and extra routes with their integrations, route responses for two-way
routes, a throttled stage with access logging, a deployment, and optionally a custom domain.

  plan      print what apply would change (read-only), and the IAM policy a push needs
  apply     create or update what differs; a second apply changes nothing
  status    what exists, the wss:// URL and the @connections endpoint
  destroy   delete the API (and the custom domain gatehouse created); asks first

Options:
  --config <file>          JSON, or a .ts/.js module whose default export is the config
  --name <name>            the API name (else the config's "name")
  --integration <url>      HTTP_PROXY to the app: <url>connect, <url>disconnect, <url>default…
                           The secret header is derived from $GATEHOUSE_SECRET (see secretEnv)
  --lambda <function-arn>  AWS_PROXY to one Lambda function for every route
  --stage <name>           the stage (default production)
  --region <region>        the AWS region (default: AWS_REGION or the SDK's profile chain)
  --json                   print one JSON object on stdout
  --yes                    destroy without asking (required when stdin is not a terminal)
  -h, --help               show this help
`

const SUBCOMMANDS = new Set(['plan', 'apply', 'status', 'destroy'])

/** What {@link runAwsCli} can be given instead of the real SDK client. */
export interface AwsCliDeps {
  readonly createClient?: (region: string | undefined) => ApiGatewayV2ClientLike
}

/**
 * Run `gatehouse aws …` (arguments after `aws`); resolves to the exit status.
 *
 * @example
 * ```ts
 * process.exitCode = await runAwsCli(['plan', '--config', 'gatehouse.aws.json'], process)
 * ```
 */
export async function runAwsCli(
  argv: readonly string[],
  io: CliIo,
  deps: AwsCliDeps = {},
): Promise<number> {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(argv)
  } catch (err) {
    return usageError(io, (err as Error).message, AWS_USAGE)
  }
  const { sub, values } = parsed
  if (values.help) {
    io.stdout.write(AWS_USAGE)
    return 0
  }
  if (sub === undefined) return usageError(io, 'missing aws subcommand', AWS_USAGE)
  if (!SUBCOMMANDS.has(sub)) {
    return usageError(io, `unknown aws subcommand ${JSON.stringify(sub.slice(0, 40))}`, AWS_USAGE)
  }
  if (values.integration !== undefined && values.lambda !== undefined) {
    return usageError(io, '--integration and --lambda exclude each other', AWS_USAGE)
  }

  const config = await readConfig(values)
  const env = io.env ?? process.env
  const sdk = await loadApiGatewayV2()
  const explicitRegion = values.region ?? config.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION
  const client = deps.createClient
    ? deps.createClient(explicitRegion)
    : sdk.createClient(explicitRegion === undefined ? {} : { region: explicitRegion })
  const region = explicitRegion ?? (await clientRegion(client))
  const ctx: AwsContext = { sdk, client }
  const json = values.json === true
  const accountId = accountIdOf(config)

  if (sub === 'status') {
    const status = await awsStatus(ctx, config, region)
    if (json) io.stdout.write(`${JSON.stringify({ command: 'status', ...status })}\n`)
    else io.stdout.write(formatStatus(status))
    return status.exists ? 0 : 1
  }

  if (sub === 'destroy') {
    const target = { name: config.name, domainName: config.domain?.name }
    const doomed = await destroy(ctx, target, { apply: false })
    if (doomed.length === 0) {
      write(
        io,
        json,
        { command: 'destroy', name: config.name, changes: [] },
        `Nothing to destroy: no API named ${config.name}.\n`,
      )
      return 0
    }
    if (!values.yes) {
      io.stderr.write(
        `gatehouse aws destroy will delete, in ${region}:\n${doomed.map(line).join('')}`,
      )
      if (io.stdin?.isTTY !== true) {
        io.stderr.write('gatehouse aws destroy: refusing without --yes: stdin is not a terminal.\n')
        return 1
      }
      if (!(await confirm(io, `Type the API name (${config.name}) to confirm: `, config.name))) {
        io.stderr.write('gatehouse aws destroy: not confirmed; nothing deleted.\n')
        return 1
      }
    }
    const changes = await destroy(ctx, target, {
      apply: true,
      onChange: (c) => io.stderr.write(`deleted ${c.resource} ${c.name}\n`),
    })
    write(
      io,
      json,
      { command: 'destroy', name: config.name, region, changes },
      `Destroyed: ${changes.length} resources.\n`,
    )
    return 0
  }

  const secret =
    config.integration.type === 'http' ? readIntegrationSecret(config.integration, env) : undefined
  const desired = desiredState(config, { region, secret })
  const apply = sub === 'apply'
  const result = await converge(ctx, desired, {
    apply,
    ...(apply ? { onChange: (c: AwsChange) => io.stderr.write(progress(c)) } : {}),
  })
  const apiId = result.apiId ?? UNKNOWN_API_ID
  const account = accountId ?? UNKNOWN_ACCOUNT
  const policy = pushPolicy({ region, accountId: account, apiId, stage: config.stage.name })
  const permission =
    config.integration.type === 'lambda'
      ? lambdaInvokeStatement({
          region,
          accountId: account,
          apiId,
          functionArn: config.integration.functionArn,
        })
      : undefined
  const urls = result.apiId ? stageUrls(result.apiId, region, config.stage.name) : undefined
  if (json) {
    io.stdout.write(
      `${JSON.stringify({
        command: sub,
        name: config.name,
        region,
        apiId: result.apiId ?? null,
        changes: result.changes,
        ...(urls ?? {}),
        ...(result.domainTarget ? { domainTarget: result.domainTarget } : {}),
        iamPolicy: policy,
        ...(permission ? { lambdaPermission: permission } : {}),
      })}\n`,
    )
    return 0
  }
  const out: string[] = []
  if (result.changes.length === 0)
    out.push(`No changes: ${config.name} in ${region} is up to date.\n`)
  else {
    out.push(`${apply ? 'Applied' : 'Plan'} for WebSocket API ${config.name} in ${region}:\n`)
    out.push(...result.changes.map(line))
    out.push(`${summary(result.changes, apply)}\n`)
  }
  if (urls)
    out.push(`\nwebsocket:     ${urls.websocketUrl}\n@connections:  ${urls.connectionsEndpoint}\n`)
  if (config.domain) {
    out.push(`custom domain: wss://${config.domain.name}/${config.domain.basePath}`)
    out.push(result.domainTarget ? ` (DNS: CNAME or alias to ${result.domainTarget})\n` : '\n')
  }
  out.push(
    `\nIAM policy for the app's role (push, describe and close connections):\n${JSON.stringify(policy, null, 2)}\n`,
  )
  if (accountId === undefined)
    out.push(`(set "accountId" in the config to fill in ${UNKNOWN_ACCOUNT})\n`)
  if (permission) {
    out.push(
      `\nResource policy statement the Lambda function needs (API Gateway may invoke it):\n${JSON.stringify(permission, null, 2)}\n`,
    )
  }
  io.stdout.write(out.join(''))
  return 0
}

function parse(argv: readonly string[]) {
  const { values, positionals } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      name: { type: 'string' },
      integration: { type: 'string' },
      lambda: { type: 'string' },
      stage: { type: 'string' },
      region: { type: 'string' },
      json: { type: 'boolean' },
      yes: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (positionals.length > 1)
    throw new Error(`unexpected argument ${JSON.stringify(positionals[1])}`)
  return { sub: positionals[0], values }
}

async function readConfig(values: ReturnType<typeof parse>['values']): Promise<AwsProvisionConfig> {
  const where = values.config ?? 'flags'
  const raw = values.config === undefined ? {} : await loadAwsConfigFile(values.config)
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new GatehouseError('ERR_INVALID_OPTION', `${where} must hold a config object`)
  }
  const merged: Record<string, unknown> = { ...(raw as Record<string, unknown>) }
  if (values.name !== undefined) merged.name = values.name
  if (values.region !== undefined) merged.region = values.region
  const current = merged.integration as Record<string, unknown> | undefined
  if (values.integration !== undefined) {
    // Keep the file's secretEnv and timeout when only the URL comes from the flag.
    const keep = current?.type === 'http' ? current : {}
    merged.integration = { ...keep, type: 'http', url: values.integration }
  }
  if (values.lambda !== undefined) {
    const keep = current?.type === 'lambda' ? current : {}
    merged.integration = { ...keep, type: 'lambda', functionArn: values.lambda }
  }
  if (values.stage !== undefined) {
    merged.stage = { ...((merged.stage as object | undefined) ?? {}), name: values.stage }
  }
  if (merged.name === undefined) {
    throw new GatehouseError('ERR_INVALID_OPTION', `${where}: name is required (--name or "name")`)
  }
  return parseAwsConfig(merged, where)
}

async function clientRegion(client: ApiGatewayV2ClientLike): Promise<string> {
  const provider = client.config?.region
  let region: unknown = provider
  if (typeof provider === 'function') {
    try {
      region = await (provider as () => Promise<unknown>)()
    } catch {
      region = undefined
    }
  }
  if (typeof region !== 'string' || region === '') {
    throw new GatehouseError(
      'ERR_INVALID_OPTION',
      'No AWS region: pass --region, set "region", or set AWS_REGION',
    )
  }
  return region
}

async function confirm(io: CliIo, question: string, expected: string): Promise<boolean> {
  const rl = createInterface({
    input: io.stdin as NodeJS.ReadableStream,
    output: io.stderr as NodeJS.WritableStream,
    terminal: false,
  })
  try {
    const answer = await rl.question(question)
    return answer.trim() === expected
  } catch {
    return false
  } finally {
    rl.close()
  }
}

const SIGN = { create: '+', update: '~', delete: '-' } as const
const PAST = { create: 'created', update: 'updated', delete: 'deleted' } as const

function line(c: AwsChange): string {
  const fields = c.fields && c.fields.length > 0 ? ` (${c.fields.join(', ')})` : ''
  return `  ${SIGN[c.action]} ${c.action} ${c.resource} ${c.name}${fields}\n`
}

function progress(c: AwsChange): string {
  const id = c.id !== undefined ? ` [${c.id}]` : ''
  return `${PAST[c.action]} ${c.resource} ${c.name}${id}\n`
}

function summary(changes: readonly AwsChange[], applied: boolean): string {
  const count = (a: AwsChange['action']) => changes.filter((c) => c.action === a).length
  const verb = applied ? ['created', 'updated', 'deleted'] : ['to create', 'to update', 'to delete']
  return `${count('create')} ${verb[0]}, ${count('update')} ${verb[1]}, ${count('delete')} ${verb[2]}.`
}

function write(io: CliIo, json: boolean, value: object, text: string): void {
  io.stdout.write(json ? `${JSON.stringify(value)}\n` : text)
}

function formatStatus(status: Awaited<ReturnType<typeof awsStatus>>): string {
  if (!status.exists) return `No WebSocket API named ${status.name} in ${status.region}.\n`
  const out = [`WebSocket API ${status.name} (${status.apiId}) in ${status.region}\n`]
  for (const r of status.routes) {
    out.push(
      `  route ${r.key.padEnd(12)} ${r.integrationType ?? '(no integration)'} ${r.integrationUri ?? ''}${r.twoWay ? ' [two-way]' : ''}\n`,
    )
  }
  if (status.stage) {
    out.push(
      `  stage ${status.stage.name}: deployment ${status.stage.deploymentId ?? '(none)'}, ${status.stage.throttlingRateLimitPerSecond ?? '?'}/s burst ${status.stage.throttlingBurstLimit ?? '?'}\n`,
    )
    out.push(
      `websocket:     ${status.websocketUrl}\n@connections:  ${status.connectionsEndpoint}\n`,
    )
  } else out.push('  no stage yet: run gatehouse aws apply\n')
  if (status.domain) {
    const d = status.domain
    out.push(
      `custom domain: ${d.websocketUrl} ${d.exists ? (d.mapped ? 'mapped' : 'NOT mapped') : 'does not exist'}${d.dnsTarget ? ` (DNS: ${d.dnsTarget})` : ''}\n`,
    )
  }
  return out.join('')
}
