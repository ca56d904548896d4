/**
 * Preloaded with `node --import` by the CLI tests so a real `gatehouse aws …` process talks
 * to the in-memory API Gateway instead of AWS: every `ApiGatewayV2Client#send` in the process
 * is routed to the fake. The fake's state lives in the JSON file named by
 * `GATEHOUSE_TEST_AWS_STATE`, read at start and written at exit, so consecutive commands
 * (apply, then apply again, then destroy) see one account. Test-only: nothing in src/ knows.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { FakeApiGateway, type FakeState } from './fake-apigatewayv2.ts'

const path = process.env.GATEHOUSE_TEST_AWS_STATE
if (!path) throw new Error('GATEHOUSE_TEST_AWS_STATE must name the fake state file')
const saved = existsSync(path)
  ? (JSON.parse(readFileSync(path, 'utf8')) as { state: FakeState; mutations: string[] })
  : undefined
const fake = new FakeApiGateway(process.env.AWS_REGION ?? 'eu-west-1', saved?.state)
fake.install()
process.on('exit', () => {
  writeFileSync(
    path,
    JSON.stringify({
      state: fake.state,
      mutations: [...(saved?.mutations ?? []), ...fake.mutations()],
    }),
  )
})
