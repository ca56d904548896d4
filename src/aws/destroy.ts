/**
 * @module aws/destroy
 * Removing what `gatehouse aws apply` created: the API mappings of this API on the custom
 * domain, the domain itself when gatehouse created it and nothing else is mapped on it, then
 * the API (which takes its routes, integrations, route responses, stages and deployments
 * with it). Nothing that lacks the owner tag is touched.
 */
import { OWNER_TAG } from './config.ts'
import type { AwsChange } from './converge.ts'
import { type AwsContext, findApi, findDomain } from './find.ts'

/**
 * List (`apply: false`) or delete (`apply: true`) the resources of an API.
 *
 * @example
 * ```ts
 * const doomed = await destroy(ctx, { name: 'chat', domainName: 'ws.example.com' }, { apply: false })
 * if (doomed.length > 0 && (await confirm())) await destroy(ctx, target, { apply: true })
 * ```
 */
export async function destroy(
  ctx: AwsContext,
  target: { readonly name: string; readonly domainName: string | undefined },
  options: { readonly apply: boolean; readonly onChange?: (change: AwsChange) => void },
): Promise<AwsChange[]> {
  const { sdk, client } = ctx
  const changes: AwsChange[] = []
  const note = (change: AwsChange) => {
    changes.push(change)
    options.onChange?.(change)
  }
  const api = await findApi(ctx, target.name)
  if (target.domainName !== undefined) {
    const found = await findDomain(ctx, target.domainName)
    if (found) {
      const ours = found.mappings.filter((m) => api !== undefined && m.ApiId === api.ApiId)
      for (const mapping of ours) {
        const id = mapping.ApiMappingId ?? ''
        if (options.apply) {
          await sdk.call(client, 'DeleteApiMapping', {
            DomainName: target.domainName,
            ApiMappingId: id,
          })
        }
        note({
          action: 'delete',
          resource: 'api-mapping',
          name: `${target.domainName}/${mapping.ApiMappingKey ?? ''}`,
          id,
        })
      }
      const othersMapped = found.mappings.length > ours.length
      if (found.domain.Tags?.[OWNER_TAG] === target.name && !othersMapped) {
        if (options.apply) {
          await sdk.call(client, 'DeleteDomainName', { DomainName: target.domainName })
        }
        note({ action: 'delete', resource: 'domain', name: target.domainName })
      }
    }
  }
  if (api?.ApiId !== undefined) {
    if (options.apply) await sdk.call(client, 'DeleteApi', { ApiId: api.ApiId })
    note({ action: 'delete', resource: 'api', name: target.name, id: api.ApiId })
  }
  return changes
}
