/**
 * @module examples/chat/browser/app
 * The chat page's script (bundled with `gatehouse/client` at start-up). No framework and no
 * `innerHTML`: every piece of user data reaches the page through `textContent`.
 *
 * The socket comes from {@link GatehouseClient}: a fresh single-use token before every
 * attempt, and reconnection by itself when the gateway goes away. A browser cannot read the
 * HTTP status of a refused WebSocket upgrade, so when an attempt fails before opening the
 * page asks `/api/me` what it can tell: logged out, or not allowed to chat.
 */
import { GatehouseClient } from 'gatehouse/client'
import { $, avatar, el, timeLabel } from './dom.ts'
import type { ChatIn, ChatOut, Me } from './protocol.ts'

const ROOMS = ['lobby', 'general', 'random']
const ROOM_PATTERN = /^[A-Za-z0-9_-]{1,128}$/
/** Keeps idle sockets alive (the gateway closes after 10 minutes without data). */
const KEEP_ALIVE_MS = 240_000
/** Messages kept on screen per room. */
const MAX_SHOWN = 500

const wsPort =
  document.querySelector<HTMLMetaElement>('meta[name="gatehouse-ws-port"]')?.content ?? '3001'
// Same host name as the page, so the session cookie goes along with the handshake.
const wsUrl = `ws://${location.hostname}:${wsPort}/`

const view = {
  login: $('login-view'),
  chat: $('chat-view'),
  loginForm: $<HTMLFormElement>('login-form'),
  loginError: $('login-error'),
  status: $('status'),
  me: $('me'),
  meName: $('me-name'),
  meRole: $('me-role'),
  logout: $<HTMLButtonElement>('logout'),
  rooms: $<HTMLUListElement>('rooms'),
  roomForm: $<HTMLFormElement>('room-form'),
  people: $<HTMLUListElement>('people'),
  peopleCount: $('people-count'),
  roomName: $('room-name'),
  roomNote: $('room-note'),
  banner: $('banner'),
  bannerText: $('banner-text'),
  bannerAction: $<HTMLButtonElement>('banner-action'),
  messages: $<HTMLOListElement>('messages'),
  composer: $<HTMLFormElement>('composer'),
  text: $<HTMLInputElement>('text'),
}

let me: Me | null = null
let client: GatehouseClient<ChatIn, ChatOut> | null = null
let room = 'lobby'
/** Whether the current connection attempt got as far as an open socket. */
let opened = false

// ---- status and banner -----------------------------------------------------------------

const STATUS_TEXT: Record<string, string> = {
  idle: 'offline',
  connecting: 'connecting…',
  open: 'connected',
  reconnecting: 'reconnecting…',
  closed: 'disconnected',
  failed: 'signed out',
  refused: 'refused',
  kicked: 'removed',
}

function setStatus(state: string): void {
  view.status.dataset.state = state
  view.status.textContent = STATUS_TEXT[state] ?? state
}

function showBanner(text: string, action?: { label: string; run: () => void }): void {
  view.bannerText.textContent = text
  view.banner.hidden = false
  view.bannerAction.hidden = action === undefined
  view.bannerAction.onclick = action ? action.run : null
  if (action) view.bannerAction.textContent = action.label
}

function hideBanner(): void {
  view.banner.hidden = true
}

// ---- messages ----------------------------------------------------------------------------

function append(item: HTMLLIElement): void {
  const list = view.messages
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40
  list.append(item)
  while (list.childElementCount > MAX_SHOWN) list.firstElementChild?.remove()
  if (atBottom) list.scrollTop = list.scrollHeight
}

function showChat(user: string, text: string): void {
  const mine = user === me?.user
  append(
    el('li', { className: mine ? 'msg mine' : 'msg' }, [
      avatar(user),
      el('div', { className: 'bubble' }, [
        el('div', { className: 'meta' }, [
          el('span', { className: 'author', text: user }),
          el('time', { text: timeLabel(new Date()) }),
        ]),
        el('div', { className: 'text', text }),
      ]),
    ]),
  )
}

function showNotice(text: string, kind = 'notice'): void {
  append(el('li', { className: `system ${kind}`, text }))
}

// ---- rooms and people --------------------------------------------------------------------

function renderRooms(): void {
  const names = ROOMS.includes(room) ? ROOMS : [...ROOMS, room]
  view.rooms.replaceChildren(
    ...names.map((name) => {
      const button = el('button', {
        className: name === room ? 'room-link active' : 'room-link',
        text: `# ${name}`,
      })
      button.type = 'button'
      button.dataset.room = name
      button.addEventListener('click', () => switchRoom(name))
      return el('li', {}, [button])
    }),
  )
  view.roomName.textContent = `# ${room}`
  view.text.placeholder = `Message #${room}`
}

function renderPeople(users: readonly string[]): void {
  const canKick = me?.permissions.includes('chat.moderate') === true
  view.peopleCount.textContent = String(users.length)
  view.people.replaceChildren(
    ...users.map((user) => {
      const item = el('li', { className: 'person' }, [
        avatar(user),
        el('span', { className: 'name', text: user }),
      ])
      item.dataset.user = user
      if (user === me?.user) item.append(el('span', { className: 'you', text: 'you' }))
      else if (canKick) {
        const kick = el('button', { className: 'kick', text: 'Kick' })
        kick.type = 'button'
        kick.dataset.user = user
        kick.title = `Disconnect ${user}`
        kick.addEventListener('click', () => client?.send('kick', { user }))
        item.append(kick)
      }
      return item
    }),
  )
}

function switchRoom(name: string): void {
  if (!ROOM_PATTERN.test(name) || name === room) return
  if (client?.state === 'open') client.send('change_channel', { channel: name })
  else if (client) {
    // Not connected: the next attempt joins the new room.
    client.channel = name
    enterRoom(name)
  }
}

function enterRoom(name: string): void {
  room = name
  view.messages.replaceChildren()
  view.roomNote.textContent = 'Everyone in this room sees what you send.'
  renderRooms()
  renderPeople([])
}

// ---- the socket --------------------------------------------------------------------------

function onMessage(msg: ChatIn): void {
  switch (msg.type) {
    case 'chat_message':
      if (msg.channel === room) showChat(msg.user, msg.text)
      return
    case 'presence':
      if (msg.channel === room) renderPeople(msg.users)
      return
    case 'channel_changed':
      if (client) client.channel = msg.channel
      enterRoom(msg.channel)
      client?.send('who')
      return
    case 'kick_result':
      showNotice(
        `${msg.user} was disconnected (${msg.closed} connection${msg.closed === 1 ? '' : 's'}).`,
      )
      return
    case 'kicked':
      // Stay out: without this the client would reconnect at once.
      client?.close()
      setStatus('kicked')
      showBanner(`You were removed from the chat by ${msg.by}.`, {
        label: 'Rejoin',
        run: startSocket,
      })
      return
    case 'error':
      showNotice(`The server refused that (${msg.message}).`, 'error')
      return
    default:
      // The gateway's own error frames ({"message": "Too Many Requests", ...}).
      if (typeof (msg as { message?: unknown }).message === 'string') {
        showNotice(`Gateway: ${(msg as { message: string }).message}`, 'error')
      }
  }
}

/** After an attempt that never opened: explain it when the page can. */
async function explainFailure(current: GatehouseClient<ChatIn, ChatOut>): Promise<void> {
  const answer = await fetch('/api/me', { credentials: 'same-origin', cache: 'no-store' }).catch(
    () => null,
  )
  if (client !== current || answer === null) return
  if (answer.status === 401) {
    current.close()
    showLogin('Your session has ended; please sign in again.')
    return
  }
  if (!answer.ok) return
  const who = (await answer.json()) as Me
  if (!who.permissions.includes('chat.use')) {
    current.close()
    setStatus('refused')
    showBanner('The server refused the connection: your account may not use the chat.')
  }
}

function startSocket(): void {
  client?.close()
  hideBanner()
  opened = false
  const current = new GatehouseClient<ChatIn, ChatOut>({
    url: wsUrl,
    channel: room,
    keepAliveMs: KEEP_ALIVE_MS,
  })
  client = current
  current.on('state', ({ state }) => {
    if (client === current) setStatus(state)
  })
  current.on('open', () => {
    opened = true
    hideBanner()
    current.send('who')
  })
  current.on('message', onMessage)
  // After a reconnect the missed messages of the room arrive first, in order; when the room's
  // history no longer reaches back that far, say so (what was said meanwhile is not shown).
  current.on('recovered', ({ channel, recovered }) => {
    if (client !== current || channel !== room) return
    if (!recovered) showNotice('You were away for a while: some messages were missed.')
  })
  current.on('close', ({ willReconnect }) => {
    if (client !== current) return
    if (!opened && willReconnect) void explainFailure(current)
    if (opened && willReconnect) showBanner('Connection lost; reconnecting…')
    opened = false
  })
  current.on('failed', ({ reason }) => {
    if (client !== current) return
    if (reason === 'auth') showLogin('Your session has ended; please sign in again.')
  })
  current.connect()
}

// ---- login and logout --------------------------------------------------------------------

function showLogin(message = ''): void {
  client?.close()
  client = null
  me = null
  setStatus('idle')
  view.chat.hidden = true
  view.me.hidden = true
  view.logout.hidden = true
  view.login.hidden = false
  view.loginError.textContent = message
  view.loginForm.querySelector<HTMLInputElement>('input[name="username"]')?.focus()
}

function enterChat(who: Me): void {
  me = who
  view.login.hidden = true
  view.chat.hidden = false
  view.me.hidden = false
  view.logout.hidden = false
  view.meName.textContent = who.user
  view.meRole.textContent = who.permissions.includes('chat.moderate')
    ? 'moderator'
    : who.permissions.includes('chat.use')
      ? ''
      : 'no chat access'
  view.meRole.hidden = view.meRole.textContent === ''
  enterRoom(room)
  startSocket()
  view.text.focus()
}

function csrfToken(): string {
  for (const part of document.cookie.split(';')) {
    const [name, value] = part.trim().split('=')
    if (name === 'csrftoken' && value !== undefined) return value
  }
  return ''
}

view.loginForm.addEventListener('submit', async (event) => {
  event.preventDefault()
  const form = new FormData(view.loginForm)
  view.loginError.textContent = ''
  const answer = await fetch('/login', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: form.get('username'), password: form.get('password') }),
  }).catch(() => null)
  if (answer?.ok) {
    view.loginForm.reset()
    enterChat((await answer.json()) as Me)
  } else if (answer?.status === 429) {
    view.loginError.textContent = 'Too many attempts; wait a minute.'
  } else {
    view.loginError.textContent =
      answer === null ? 'The server is unreachable.' : 'Wrong user name or password.'
  }
})

view.logout.addEventListener('click', async () => {
  // The server ends the session and closes this browser's sockets itself.
  const answer = await fetch('/logout', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'X-CSRFToken': csrfToken() },
  }).catch(() => null)
  const body = (await answer?.json().catch(() => null)) as { closed?: number } | null
  showLogin(typeof body?.closed === 'number' ? 'Signed out.' : '')
})

view.composer.addEventListener('submit', (event) => {
  event.preventDefault()
  const text = view.text.value
  if (text.trim() === '' || client === null) return
  if (client.send('send_message', { text })) view.text.value = ''
})

view.roomForm.addEventListener('submit', (event) => {
  event.preventDefault()
  const input = view.roomForm.querySelector<HTMLInputElement>('input[name="room"]')
  const name = input?.value.trim() ?? ''
  if (!ROOM_PATTERN.test(name)) return
  if (input) input.value = ''
  switchRoom(name)
})

// ---- start -------------------------------------------------------------------------------

void (async () => {
  const answer = await fetch('/api/me', { credentials: 'same-origin', cache: 'no-store' }).catch(
    () => null,
  )
  if (answer?.ok) enterChat((await answer.json()) as Me)
  else showLogin()
})()
