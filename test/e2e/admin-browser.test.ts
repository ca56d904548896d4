/**
 * The admin page in Chromium, mounted by the demo behind its `mod` user: it lists the
 * scenario's sessions by channel, kicks one (its socket closes), and refuses an action that
 * lacks the page's CSRF token or comes cross-site. `GATEHOUSE_SCREENSHOT=1` also writes
 * `docs/images/admin.png`.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type Browser, chromium } from 'playwright-core'
import {
  type ChatSocket,
  connect,
  DEADLINE_MS,
  type Demo,
  login,
  open,
  startDemo,
} from './support/demo.ts'

const CHROMIUM = '/usr/bin/chromium'
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const haveChromium = existsSync(CHROMIUM)
if (!haveChromium && process.env.CI === 'true') {
  throw new Error(`${CHROMIUM} is missing: the browser tests cannot run in CI`)
}

describe('admin page in Chromium', { skip: !haveChromium, timeout: 90_000 }, () => {
  let demo: Demo
  let browser: Browser
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
        ],
      }),
    ])
  })
  after(async () => {
    await browser?.close()
    await demo?.stop()
  })

  it('lists sessions by channel, kicks one, refuses actions without the CSRF token', async () => {
    const [alice, bob, carol] = await Promise.all(
      ['alice', 'bob', 'mod'].map((u) => login(demo, u)),
    )
    if (!alice || !bob || !carol) throw new Error('login')
    const aliceLobby = await open(demo, alice, 'lobby')
    const bobLobby = await open(demo, bob, 'lobby')
    const aliceDev = await open(demo, alice, 'release-42')
    const sockets: ChatSocket[] = [aliceLobby, bobLobby, aliceDev]
    // Some refusals for the page to show: a foreign origin, missing tokens, an IP over its rate.
    await connect(demo, { session: alice, channel: 'lobby', origin: 'http://evil.example' })
    for (let i = 0; i < 22; i++)
      await connect(demo, { channel: 'lobby', localAddress: '127.0.0.7' })

    const context = await browser.newContext({ viewport: { width: 1180, height: 900 } })
    const page = await context.newPage()
    page.setDefaultTimeout(DEADLINE_MS)
    const cspErrors: string[] = []
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text())
    })
    // Anyone but a moderator is refused by the demo before the admin page sees the request.
    const asAlice = await context.request.get(`${demo.appUrl}/admin`, {
      headers: { cookie: alice.cookie },
    })
    assert.equal(asAlice.status(), 403)

    // The mod logs in through the page's form, then opens the admin page.
    await page.goto(`${demo.appUrl}/`)
    await page.fill('input[name="username"]', 'mod')
    await page.fill('input[name="password"]', 'mod')
    await page.click('#login-form button[type="submit"]')
    await page.locator('#chat-view').waitFor()
    await page.goto(`${demo.appUrl}/admin`)
    await page.locator('#by-channel').waitFor()

    const channel = page.locator('#by-channel tbody')
    assert.equal((await channel.locator('tr').count()) >= 3, true)
    assert.match((await channel.textContent()) ?? '', /lobby/)
    assert.match((await channel.textContent()) ?? '', /release-42/)
    const bobRow = page.locator('#by-channel tr', { has: page.locator('td', { hasText: /^bob$/ }) })
    assert.equal(await bobRow.count(), 1)
    assert.match((await page.locator('#refusals').textContent()) ?? '', /origin_forbidden/)
    assert.match((await page.locator('#hot-keys').textContent()) ?? '', /connect:fail:127\.0\.0\.7/)

    // Without the page's token (same browser, same cookies) the action is refused.
    const bobId = (await bobRow.locator('code').textContent()) as string
    const noToken = await context.request.post(`${demo.appUrl}/admin/kick`, {
      form: { connectionId: bobId },
      headers: { origin: demo.appUrl },
    })
    assert.equal(noToken.status(), 403)
    const token = (await bobRow.locator('input[name="csrf"]').getAttribute('value')) as string
    const crossSite = await context.request.post(`${demo.appUrl}/admin/kick`, {
      form: { connectionId: bobId, csrf: token },
      headers: { 'sec-fetch-site': 'cross-site' },
    })
    assert.equal(crossSite.status(), 403)
    assert.equal(bobLobby.ws.readyState, bobLobby.ws.OPEN, 'refused actions closed nothing')

    // The real button: bob's socket closes.
    await bobRow.locator('button', { hasText: 'Kick' }).click()
    await page.locator('.notice', { hasText: `Connection ${bobId} closed.` }).waitFor()
    const closed = await bobLobby.closed
    assert.equal(closed.code, 1000)
    assert.equal(
      await page
        .locator('#by-channel tr', { has: page.locator('td', { hasText: /^bob$/ }) })
        .count(),
      0,
    )
    assert.equal(aliceLobby.ws.readyState, aliceLobby.ws.OPEN)
    assert.deepEqual(cspErrors, [])

    // Only on request: a test run must leave the checkout as it found it.
    if (process.env.GATEHOUSE_SCREENSHOT === '1') {
      await page.screenshot({ path: join(root, 'docs/images/admin.png'), fullPage: true })
    }
    for (const s of sockets) await s.close()
    await context.close()
  })
})
