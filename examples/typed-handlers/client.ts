import { GatehouseClient } from '../../src/client/index.ts'
import type { handlers } from './handlers.ts'

type ChatIn = { type: 'chat_message'; text: string; priority: 'low' | 'high' }

// The server's handler map types the client: bodies follow the schemas, replies the handlers.
export async function openChat(url: string): Promise<number> {
  const chat = new GatehouseClient<ChatIn, typeof handlers>({ url, channel: 'lobby' })
  chat.on('message', (msg) => console.log(msg.text))
  chat.connect()
  chat.send('send_message', { text: 'hi', priority: 'high' })
  // Resolves with send_message's reply, { type: 'sent', length: number }; rejects on timeout,
  // on the error reply (e.g. a body the schema refuses) and on disconnect.
  const reply = await chat.request('send_message', { text: 'hello' }, { timeoutMs: 5000 })
  return reply.length
}
