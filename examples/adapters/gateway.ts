import { createGateway } from 'gatehouse/gateway'

// The bundled gateway in front of a web server: every event becomes an HTTP integration
// request to <backend>/ws/connect, /ws/disconnect or /ws/default, signed with `secret`
// (the app is given the same secret as `gatewaySecret`). Messages are two-way: what the
// handler returns goes back to the sender.
export function httpGateway(backend: string, secret: string, port = 3001) {
  const route = (name: string, twoWay = false) =>
    ({ type: 'http', url: `${backend}/ws/${name}`, secret, twoWay }) as const
  return createGateway({
    port,
    routes: {
      $connect: route('connect'),
      $disconnect: route('disconnect'),
      $default: route('default', true),
    },
  })
}
