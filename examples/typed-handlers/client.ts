import { GatehouseClient } from '../../src/client/index.ts'
import type { handlers } from './handlers.ts'

type ChatIn = { type: 'chat_message'; text: string; priority: 'low' | 'high' }

// The server's handler map types the client: bodies follow the schemas, replies the handlers.
export function openChat(url: string): GatehouseClient<ChatIn, typeof handlers> {
  const chat = new GatehouseClient<ChatIn, typeof handlers>({ url, channel: 'lobby' })
  chat.on('message', (msg) => console.log(msg.text))
  chat.connect()
  chat.send('send_message', { text: 'hi', priority: 'high' })
  return chat
}
