/**
 * The admin page's "Gateway nodes" card with a real cluster: two gateway nodes registered in
 * the real Redis are listed with their slots; a registry that rejects (Redis down) is shown
 * as unreachable while the rest of the page still renders.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createAdmin } from '../../src/admin/index.ts'
import { GatehouseError } from '../../src/errors.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import {
  dropPrefix,
  settled,
  startNode,
  type TestNode,
  uniquePrefix,
} from '../gateway/cluster/support.ts'

const page = async (admin: (r: Request) => Promise<Response>): Promise<string> => {
  const res = await admin(new Request('http://admin.test/admin'))
  assert.equal(res.status, 200)
  const html = await res.text()
  return html.slice(html.indexOf('id="nodes"'))
}

describe('admin page: gateway nodes', () => {
  const prefix = uniquePrefix()
  let a: TestNode
  let b: TestNode
  before(async () => {
    a = await startNode(prefix, 'gw-a')
    b = await startNode(prefix, 'gw-b')
    await settled()
  })
  after(async () => {
    await Promise.allSettled([a.close(), b.close()])
    await dropPrefix(prefix)
  })

  it('lists the registered nodes with their slots', async () => {
    const cluster = a.gateway.cluster
    assert.ok(cluster)
    const admin = createAdmin({ store: createMemoryStore(), nodes: () => cluster.nodes() })
    const nodes = await page(admin)
    for (const node of [a, b]) {
      const slot = node.gateway.cluster?.slot
      assert.match(
        nodes,
        new RegExp(`<code>${node.gateway.cluster?.nodeId}</code></td><td>${slot}</td>`),
      )
    }
    admin.close()
  })

  it('shows one node without a registry, and an unreachable registry as such', async () => {
    const single = createAdmin({ store: createMemoryStore() })
    assert.match(await page(single), /One gateway node/)
    single.close()
    const down = createAdmin({
      store: createMemoryStore(),
      nodes: () =>
        Promise.reject(new GatehouseError('ERR_CLUSTER_UNAVAILABLE', 'Redis is unreachable.')),
    })
    assert.match(await page(down), /registry \(Redis\) is unreachable/)
    down.close()
  })
})
