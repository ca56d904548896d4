/**
 * @module aws/iam
 * The least-privilege IAM policy an app needs to push: `execute-api:ManageConnections` on
 * exactly its API's stage's `@connections` resources, for POST (send), GET (describe) and
 * DELETE (close), and nothing else: no other stage, no other API, no wildcard account.
 */
import type { AwsProvisionConfig } from './config.ts'
import { partitionOf } from './desired.ts'

/** Placeholder printed for a value not known yet (the API id before `apply`). */
export const UNKNOWN_API_ID = '<api-id>'
/** Placeholder printed when no account id is configured or derivable. */
export const UNKNOWN_ACCOUNT = '<account-id>'

/** An IAM policy document. */
export interface IamPolicy {
  readonly Version: '2012-10-17'
  readonly Statement: ReadonlyArray<{
    readonly Sid: string
    readonly Effect: 'Allow'
    readonly Action: string
    readonly Resource: readonly string[]
  }>
}

/**
 * The `@connections` resource ARNs of a stage.
 *
 * @example
 * ```ts
 * connectionsArns({ region: 'eu-west-1', accountId: '123456789012', apiId: 'abc123', stage: 'production' })
 * // ['arn:aws:execute-api:eu-west-1:123456789012:abc123/production/POST/@connections/*', … GET, DELETE]
 * ```
 */
export function connectionsArns(p: {
  readonly region: string
  readonly accountId: string
  readonly apiId: string
  readonly stage: string
}): string[] {
  const base = `arn:${partitionOf(p.region)}:execute-api:${p.region}:${p.accountId}:${p.apiId}/${p.stage}`
  return ['POST', 'GET', 'DELETE'].map((method) => `${base}/${method}/@connections/*`)
}

/**
 * The policy to attach to the role the app runs as (Lambda execution role, ECS task role…).
 *
 * @example
 * ```ts
 * JSON.stringify(pushPolicy({ region, accountId, apiId, stage: 'production' }), null, 2)
 * ```
 */
export function pushPolicy(p: Parameters<typeof connectionsArns>[0]): IamPolicy {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'GatehousePush',
        Effect: 'Allow',
        Action: 'execute-api:ManageConnections',
        Resource: connectionsArns(p),
      },
    ],
  }
}

/**
 * The account id: configured, or read from an ARN in the config (Lambda function, ACM
 * certificate, log destination); `undefined` when none names it.
 *
 * @example
 * ```ts
 * accountIdOf(config) ?? UNKNOWN_ACCOUNT
 * ```
 */
export function accountIdOf(config: AwsProvisionConfig): string | undefined {
  if (config.accountId !== undefined) return config.accountId
  const arns = [
    config.integration.type === 'lambda' ? config.integration.functionArn : undefined,
    config.domain?.certificateArn,
    config.stage.accessLog?.destinationArn,
  ]
  for (const arn of arns) {
    const account = arn?.split(':')[4]
    if (account !== undefined && /^[0-9]{12}$/.test(account)) return account
  }
  return undefined
}

/**
 * The statement of the Lambda function's resource policy that lets this API invoke it
 * (`lambda:InvokeFunction` from `apigateway.amazonaws.com`, limited to this API's ARN).
 *
 * @example
 * ```ts
 * lambdaInvokeStatement({ region, accountId, apiId, functionArn })
 * ```
 */
export function lambdaInvokeStatement(p: {
  readonly region: string
  readonly accountId: string
  readonly apiId: string
  readonly functionArn: string
}): Record<string, unknown> {
  return {
    Sid: `gatehouse-${p.apiId}`,
    Effect: 'Allow',
    Principal: { Service: 'apigateway.amazonaws.com' },
    Action: 'lambda:InvokeFunction',
    Resource: p.functionArn,
    Condition: {
      ArnLike: {
        'AWS:SourceArn': `arn:${partitionOf(p.region)}:execute-api:${p.region}:${p.accountId}:${p.apiId}/*`,
      },
    },
  }
}
