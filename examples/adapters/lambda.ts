import type { App } from 'gatehouse'
import { createGateway } from 'gatehouse/gateway'
import { toLambdaHandler } from 'gatehouse/lambda'

// On AWS, `toLambdaHandler(app)` is the function handler of the $connect, $disconnect and
// $default routes. Locally, the bundled gateway invokes the same handler with the Lambda
// proxy events AWS would send.
export function lambdaGateway(app: App, port = 3001) {
  const handler = toLambdaHandler(app)
  return createGateway({
    port,
    routes: {
      $connect: { type: 'lambda', handler },
      $disconnect: { type: 'lambda', handler },
      $default: { type: 'lambda', handler, twoWay: true },
    },
  })
}
