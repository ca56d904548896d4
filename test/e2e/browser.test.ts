/**
 * The demo chat in a real browser: Debian's Chromium driven by playwright-core (never a
 * downloaded browser). Each user is a separate browser context (its own cookie jar).
 *
 * When `/usr/bin/chromium` is missing the tests are skipped loudly, or fail under `CI=true`
 * (`.ci/run` installs it). `GATEHOUSE_SCREENSHOT=1` also writes `docs/images/demo.png`.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type Browser, chromium, type Page } from 'playwright-core'
import { DEADLINE_MS, type Demo, startDemo, stats, waitUntil } from './support/demo.ts'

const CHROMIUM = '/usr/bin/chromium'
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const haveChromium = existsSync(CHROMIUM)
if (!haveChromium) {
  if (process.env.CI === 'true')
    throw new Error(`${CHROMIUM} is missing: the browser tests cannot run in CI`)
  process.stderr.write(
    `\n!!! SKIPPING the browser tests: ${CHROMIUM} is missing (apt-get install -y chromium) !!!\n\n`,
  )
}

describe('demo chat in Chromium', { skip: !haveChromium, timeout: 90_000 }, () => {
  let demo: Demo
  let browser: Browser
  const pages = new Map<string, Page>()
  /** Script errors and CSP violations of every page; must stay empty. */
  const pageErrors: string[] = []

  before(async () => {
    ;[demo, browser] = await Promise.all([
      startDemo(),
      chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--no-first-run',
          '--disable-sync',
        ],
      }),
    ])
  })
  after(async () => {
    await browser?.close()
    await demo?.stop()
  })

  /** A fresh browser (context) for `user`, logged in through the form. */
  async function signIn(user: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1120, height: 620 } })
    const page = await context.newPage()
    page.setDefaultTimeout(DEADLINE_MS)
    page.on('pageerror', (err) => pageErrors.push(`${user}: ${err.message}`))
    page.on('console', (msg) => {
      // A CSP violation is reported on the console; the page must never cause one.
      if (/Content Security Policy/i.test(msg.text())) pageErrors.push(`${user}: ${msg.text()}`)
    })
    await page.goto(`${demo.appUrl}/`)
    await page.locator('#login-view').waitFor()
    await page.fill('input[name="username"]', user)
    await page.fill('input[name="password"]', user)
    await page.click('#login-form button[type="submit"]')
    await page.locator('#chat-view').waitFor()
    pages.set(user, page)
    return page
  }

  const connected = (page: Page) => page.locator('#status[data-state="open"]').waitFor()
  const messageIn = (page: Page, text: string) =>
    page.locator('#messages li.msg .text', { hasText: text }).waitFor()
  const people = async (page: Page) =>
    (await page.locator('#people li.person .name').allTextContents()).sort()
  async function say(page: Page, text: string): Promise<void> {
    await page.fill('#text', text)
    await page.press('#text', 'Enter')
    await messageIn(page, text)
  }
  async function peopleAre(page: Page, expected: string[]): Promise<void> {
    await waitUntil(`people ${expected.join(',')}`, async () => {
      const now = await people(page)
      return now.join(',') === expected.join(',') ? true : undefined
    })
  }

  it('two browsers log in and chat in a room', async () => {
    const [alice, bob] = await Promise.all([signIn('alice'), signIn('bob')])
    await Promise.all([connected(alice), connected(bob)])
    await peopleAre(alice, ['alice', 'bob'])
    await peopleAre(bob, ['alice', 'bob'])
    await say(alice, 'Hi bob! Did the deploy go out?')
    await messageIn(bob, 'Hi bob! Did the deploy go out?')
    assert.equal(await bob.locator('#messages li.msg .author').last().textContent(), 'alice')
    await say(bob, 'It did. WebSocket tokens are single-use now, so a leaked URL is worthless.')
    await messageIn(alice, 'It did. WebSocket tokens are single-use now')
    await say(
      alice,
      'Nice. And if the gateway restarts, the page reconnects by itself with a fresh token.',
    )
    await messageIn(bob, 'reconnects by itself')
    await say(bob, 'Moderators can kick from the list on the left, too.')
    await messageIn(alice, 'Moderators can kick')

    if (process.env.GATEHOUSE_SCREENSHOT === '1') {
      await alice.locator('#text').blur()
      await alice.screenshot({ path: join(root, 'docs/images/demo.png') })
    }

    // User text is text, never markup.
    await say(bob, '<img src=x onerror=alert(1)> <b>bold?</b>')
    await messageIn(alice, '<img src=x onerror=alert(1)>')
    assert.equal(await alice.locator('#messages img').count(), 0)
    assert.equal(await alice.locator('#messages b').count(), 0)
  })

  it('changing room: each room gets its own messages and presence', async () => {
    const alice = pages.get('alice')!
    const bob = pages.get('bob')!
    await bob.click('#rooms button[data-room="general"]')
    await bob.locator('#room-name', { hasText: '# general' }).waitFor()
    await peopleAre(bob, ['bob'])
    await peopleAre(alice, ['alice'])
    assert.equal(await bob.locator('#messages li.msg').count(), 0, 'a new room starts empty')

    await say(alice, 'lobby only')
    // bob's own message comes after anything from the lobby that could have reached him.
    await say(bob, 'general sentinel')
    assert.equal(await bob.locator('#messages li.msg .text', { hasText: 'lobby only' }).count(), 0)
    assert.equal(
      await alice.locator('#messages li.msg .text', { hasText: 'general sentinel' }).count(),
      0,
    )

    await bob.fill('#room-form input[name="room"]', 'lobby')
    await bob.press('#room-form input[name="room"]', 'Enter')
    await bob.locator('#room-name', { hasText: '# lobby' }).waitFor()
    await peopleAre(alice, ['alice', 'bob'])
    await say(bob, 'back in the lobby')
    await messageIn(alice, 'back in the lobby')
  })

  it('eve (no chat.use) is refused', async () => {
    const eve = await signIn('eve')
    await eve.locator('#status[data-state="refused"]').waitFor()
    assert.match((await eve.locator('#banner-text').textContent()) ?? '', /refused/)
    const s = await stats(demo)
    assert.ok(
      s.connects.some((c) => c.user === 'eve' && c.status === 403),
      'the gateway answered 403 to eve',
    )
    assert.equal(s.connected.eve, 0)
    await eve.context().close()
  })

  it('the gateway restarts and the pages reconnect by themselves with new tokens', async () => {
    const alice = pages.get('alice')!
    const bob = pages.get('bob')!
    const before = await stats(demo)
    // Record every status the pages go through.
    for (const page of [alice, bob]) {
      await page.evaluate(() => {
        const w = window as unknown as { states: string[] }
        w.states = []
        const status = document.getElementById('status')!
        new MutationObserver(() => w.states.push(status.dataset.state ?? '')).observe(status, {
          attributes: true,
          attributeFilter: ['data-state'],
        })
      })
    }
    const restart = await fetch(`${demo.appUrl}/__test/restart-gateway`, { method: 'POST' })
    assert.equal(restart.status, 200)
    await restart.body?.cancel()

    const accepted = (s: typeof before, user: string) =>
      s.connects.filter((c) => c.user === user && c.status === 200).length
    const after = await waitUntil('both pages connected again', async () => {
      const s = await stats(demo)
      return accepted(s, 'alice') > accepted(before, 'alice') &&
        accepted(s, 'bob') > accepted(before, 'bob')
        ? s
        : undefined
    })
    await Promise.all([connected(alice), connected(bob)])
    for (const page of [alice, bob]) {
      const states = await page.evaluate(() => (window as unknown as { states: string[] }).states)
      assert.ok(states.includes('reconnecting'), `went through reconnecting: ${states.join(' → ')}`)
      assert.equal(states.at(-1), 'open')
    }
    assert.equal(after.gatewayRestarts, before.gatewayRestarts + 1)
    assert.ok(after.tokensIssued.alice! > before.tokensIssued.alice!, 'alice asked for a new token')
    assert.ok(after.tokensIssued.bob! > before.tokensIssued.bob!, 'bob asked for a new token')
    assert.equal(after.tokensPresentedTwice, 0, 'no token was presented twice')

    await say(alice, 'still there after the restart?')
    await messageIn(bob, 'still there after the restart?')
    await peopleAre(bob, ['alice', 'bob'])
  })

  it('a page kept offline while 50 messages go to its room receives them in order, then live ones; past the history it is told', async () => {
    const alice = pages.get('alice')!
    const bob = pages.get('bob')!
    await Promise.all([connected(alice), connected(bob)])
    // bob's page gets no token until released: after the restart it stays disconnected.
    let release = () => {}
    const holdTokens = async () => {
      const held = new Promise<void>((r) => {
        release = r
      })
      await bob.route(/\/api\/ws-token\/?$/, async (route) => {
        await held
        await route.continue()
      })
    }
    const restartGateway = async () => {
      const r = await fetch(`${demo.appUrl}/__test/restart-gateway`, { method: 'POST' })
      assert.equal(r.status, 200)
      await r.body?.cancel()
    }
    const publish = async (text: string, count: number) => {
      const r = await fetch(`${demo.appUrl}/__test/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ channel: 'lobby', user: 'alice', text, count }),
      })
      assert.equal(r.status, 200)
      await r.body?.cancel()
    }
    const texts = () => bob.locator('#messages li.msg .text').allTextContents()

    await holdTokens()
    const before = (await texts()).length
    await restartGateway()
    await bob.locator('#status:not([data-state="open"])').waitFor()
    await publish('missed', 50)
    await connected(alice)
    assert.equal((await texts()).length, before, 'nothing reaches an offline page')
    release()
    await connected(bob)
    await messageIn(bob, 'missed 50')
    await say(alice, 'live after the recovery')
    await messageIn(bob, 'live after the recovery')
    assert.deepEqual(
      (await texts()).slice(before),
      [...Array.from({ length: 50 }, (_, i) => `missed ${i + 1}`), 'live after the recovery'],
      'the 50 missed messages once each, in order, then the live one',
    )
    assert.equal(await bob.locator('#messages li.system', { hasText: 'were missed' }).count(), 0)

    // A gap longer than the room's history (100): the page says so and shows none of it.
    await bob.unrouteAll()
    await holdTokens()
    const count = (await texts()).length
    await restartGateway()
    await bob.locator('#status:not([data-state="open"])').waitFor()
    await publish('lost', 120)
    release()
    await connected(bob)
    await bob.locator('#messages li.system', { hasText: 'some messages were missed' }).waitFor()
    await connected(alice)
    await say(alice, 'live after the gap')
    await messageIn(bob, 'live after the gap')
    assert.deepEqual((await texts()).slice(count), ['live after the gap'])
    await bob.unrouteAll()
  })

  it('a moderator kicks bob: his page is disconnected and stays out', async () => {
    const alice = pages.get('alice')!
    const bob = pages.get('bob')!
    const mod = await signIn('mod')
    await connected(mod)
    await peopleAre(mod, ['alice', 'bob', 'mod'])
    assert.equal(await alice.locator('#people button.kick').count(), 0, 'alice may not kick')
    await mod.click('#people button.kick[data-user="bob"]')

    await bob.locator('#status[data-state="kicked"]').waitFor()
    assert.match(
      (await bob.locator('#banner-text').textContent()) ?? '',
      /removed from the chat by mod/,
    )
    await mod.locator('#messages li.system', { hasText: 'bob was disconnected' }).waitFor()
    await peopleAre(alice, ['alice', 'mod'])
    await waitUntil('bob has no socket', async () =>
      (await stats(demo)).connected.bob === 0 ? true : undefined,
    )
  })

  it('logout closes the socket', async () => {
    const alice = pages.get('alice')!
    const [response] = await Promise.all([
      alice.waitForResponse((r) => r.url().endsWith('/logout')),
      alice.click('#logout'),
    ])
    assert.equal(response.status(), 200)
    assert.equal(
      ((await response.json()) as { closed: number }).closed,
      1,
      'the server closed her socket',
    )
    await alice.locator('#login-view').waitFor()
    const s = await stats(demo)
    assert.equal(s.connected.alice, 0)
    await peopleAre(pages.get('mod')!, ['mod'])
    // bob, kicked earlier, did not come back.
    assert.equal(s.connected.bob, 0)
    assert.equal(await pages.get('bob')!.locator('#status').getAttribute('data-state'), 'kicked')
    assert.deepEqual(pageErrors, [])
    for (const page of pages.values()) await page.close()
  })
})
