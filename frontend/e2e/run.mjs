// End-to-end test of the web app against the real backend, in Debian's
// Chromium driven by playwright-core. One user journey, step by step; each
// step relies on the ones before it. Screenshots land in e2e/screenshots/
// (E2E_SCREENSHOTS_DIR overrides; `make screenshots` refreshes docs/screenshots/).

import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { after, afterEach, before, describe, it } from 'node:test'
import { chromium } from 'playwright-core'
import { backendBinary, buildFrontend, frontendDir, startBackend } from './backend.mjs'

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium'
const SCREENSHOTS = path.resolve(process.env.E2E_SCREENSHOTS_DIR ?? path.join(frontendDir, 'e2e', 'screenshots'))
const GATEWAY_NAME = 'production-chatbot'
const DESKTOP = { width: 1280, height: 860 }
const PHONE = { width: 375, height: 812 }

let failures = 0

/** State the steps hand to each other. */
const s = {
  backend: null,
  browser: null,
  context: null,
  page: null,
  username: null,
  password: 'correct horse battery',
  gatewayId: null,
  secret: null,
  oldSecret: null,
}

/** A link of the gateway's section tabs. */
function tab(name, page = s.page) {
  return page.getByRole('navigation', { name: 'Gateway sections' }).getByRole('link', { name, exact: true })
}

function url(pathname) {
  return `${s.backend.baseUrl}${pathname}`
}

async function shot(name, page = s.page, options = {}) {
  await page.evaluate(() => document.fonts?.ready)
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), ...options })
}

/** POST /v1/chat/completions with a gateway secret, from Node. */
async function chatStatus(secret) {
  const response = await fetch(url('/v1/chat/completions'), {
    method: 'POST',
    headers: { Authorization: `Bearer ${secret}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'mock/echo', messages: [{ role: 'user', content: 'ping' }] }),
  })
  await response.arrayBuffer()
  return response.status
}

/** GET /gateways/{id} with the page's session, from Node: the gateway as the API answers it. */
async function storedGateway() {
  const response = await fetch(url(`/gateways/${s.gatewayId}`), { headers: { Authorization: `Bearer ${await storedToken()}` } })
  assert.equal(response.status, 200)
  return response.json()
}

/** The session JWT the page keeps in localStorage. */
async function storedToken(page = s.page) {
  return page.evaluate(() => JSON.parse(localStorage.getItem('tollgate.session') ?? 'null')?.token ?? null)
}

/** GET /auth/me with a user token, from Node: its status. */
async function meStatus(token) {
  const response = await fetch(url('/auth/me'), { headers: { Authorization: `Bearer ${token}` } })
  await response.arrayBuffer()
  return response.status
}

/** Clicks the page's refresh button until `locator` has `text` (analytics land within a flush). */
async function untilText(page, locator, text, refreshName, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const current = (await locator.textContent({ timeout: 5_000 }).catch(() => null))?.trim()
    if (current === text) return
    if (Date.now() > deadline) assert.fail(`expected "${text}", still "${current}"`)
    await page.waitForTimeout(400)
    await page.getByRole('button', { name: refreshName }).click()
  }
}

describe('Tollgate web app', { timeout: 30 * 60_000 }, () => {
  before(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true })
    const ensure = spawnSync('bash', [path.join(import.meta.dirname, 'ensure-chromium.sh')], { stdio: 'inherit' })
    assert.equal(ensure.status, 0, 'chromium is available')
    const dist = buildFrontend()
    const binary = backendBinary()
    s.backend = await startBackend({ binary, dist })
    s.browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-quic',
      ],
    })
    s.context = await s.browser.newContext({
      viewport: DESKTOP,
      colorScheme: 'light',
      reducedMotion: 'reduce',
      acceptDownloads: true,
    })
    await s.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: s.backend.baseUrl })
    s.page = await s.context.newPage()
    s.page.on('pageerror', (error) => console.error('page error:', error))
  })

  after(async () => {
    await s.browser?.close()
    const keepData = failures > 0 || process.env.E2E_KEEP_DATA === '1'
    if (keepData && s.backend) console.log(`backend data and log kept in ${s.backend.dataDir}`)
    await s.backend?.stop({ keepData })
  })

  afterEach((t) => {
    if (t.passed === false) failures += 1
  })

  it('serves the SPA at / and on a reload of a client route', async () => {
    for (const pathname of ['/', '/g/some-id/analytics', '/profile']) {
      const response = await fetch(url(pathname), { headers: { Accept: 'text/html' } })
      assert.equal(response.status, 200, pathname)
      assert.match(await response.text(), /<div id="root">/, pathname)
    }
  })

  it('starts in one click and shows the generated username', async () => {
    const { page } = s
    await page.goto(url('/'))
    await shot('welcome')
    await page.getByRole('button', { name: 'Start in one click' }).click()
    const welcome = page.getByTestId('welcome-username')
    await welcome.waitFor()
    s.username = (await welcome.textContent()).trim()
    assert.match(s.username, /^[A-Za-z]+_[A-Za-z]+_[A-Za-z]+$/)
    assert.equal((await page.getByTestId('header-username').textContent()).trim(), s.username)
    await page.getByRole('heading', { name: 'Create your first gateway' }).waitFor()
    await shot('gateway-list-empty')
  })

  it('creates a gateway and shows its secret once, with a working copy button and snippets', async () => {
    const { page } = s
    await page.getByRole('button', { name: 'New gateway' }).first().click()
    await page.getByLabel('Name').fill(GATEWAY_NAME)
    await page.getByRole('button', { name: 'Create gateway' }).click()
    const secretValue = page.getByTestId('secret-value')
    await secretValue.waitFor()
    s.secret = (await secretValue.textContent()).trim()
    assert.match(s.secret, /^tg-[A-Za-z0-9_-]{20,}$/)

    await page.getByRole('button', { name: 'Copy secret' }).click()
    await page.getByRole('button', { name: 'Copy secret' }).getByText('Copied').waitFor()
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), s.secret)

    const baseUrl = `${s.backend.baseUrl}/v1`
    assert.equal((await page.getByTestId('base-url').textContent()).trim(), baseUrl)
    const snippet = await page.getByRole('tabpanel').textContent()
    assert.ok(snippet.includes(`${baseUrl}/chat/completions`) && snippet.includes(`Bearer ${s.secret}`), 'curl snippet')
    await page.getByRole('tab', { name: 'Python' }).click()
    const python = await page.getByRole('tabpanel').textContent()
    assert.ok(python.includes(`base_url="${baseUrl}"`) && python.includes(`api_key="${s.secret}"`), 'python snippet')
    await page.getByRole('tab', { name: 'Node.js' }).click()
    assert.ok((await page.getByRole('tabpanel').textContent()).includes(`apiKey: "${s.secret}"`), 'node snippet')
    await page.getByRole('tab', { name: 'curl' }).click()
    await shot('secret-dialog')

    await page.getByRole('button', { name: 'I’ve saved it' }).click()
    await page.waitForURL(/\/g\/[^/]+$/)
    s.gatewayId = new URL(page.url()).pathname.split('/')[2]
    assert.equal((await page.getByTestId('gateway-name').textContent()).trim(), GATEWAY_NAME)
    await page.getByTestId('no-calls').waitFor()
    assert.equal(await chatStatus(s.secret), 200, 'the shown secret works')
  })

  it('streams a playground call and shows tokens, cost, latency and TTFT', async () => {
    const { page } = s
    // The call made from Node above is not part of this journey's numbers: use a fresh gateway view.
    await tab('Playground').click()
    const secretInput = page.getByLabel('Gateway secret')
    assert.equal(await secretInput.inputValue(), s.secret, 'secret prefilled from this tab session')
    assert.equal(
      await page.evaluate(() => Object.keys(localStorage).filter((k) => k.includes('secret')).length),
      0,
      'no secret in localStorage',
    )
    const model = page.getByLabel('Model', { exact: true })
    await page.waitForFunction(() => document.querySelector('select[name="model"]')?.value === 'mock/echo')
    assert.equal(await model.inputValue(), 'mock/echo')

    await page.getByLabel('Message 1 (user)').fill('Hello from the end-to-end test')
    assert.equal(await page.getByRole('switch', { name: 'Stream the answer' }).getAttribute('aria-checked'), 'true')
    await page.getByRole('button', { name: 'Send' }).click()
    await page.getByTestId('playground-metrics').waitFor()
    assert.match(await page.getByTestId('playground-answer').textContent(), /Hello from the end-to-end test/)
    assert.match(await page.getByTestId('metric-tokens').textContent(), /^\d+ → \d+$/)
    assert.match(await page.getByTestId('metric-cost').textContent(), /^\$0\.0+[1-9]\d*$/)
    assert.match(await page.getByTestId('metric-latency').textContent(), /\d+(\.\d+)? (ms|s)$/)
    assert.match(await page.getByTestId('metric-ttft').textContent(), /\d+(\.\d+)? (ms|s)$/)
    assert.notEqual((await page.getByTestId('metric-request-id').textContent()).trim(), '—')
    await shot('playground')

    await page.getByRole('switch', { name: 'Stream the answer' }).click()
    await page.getByLabel('Message 1 (user)').fill('And once more, without streaming')
    await page.getByRole('button', { name: 'Send' }).click()
    await page.getByTestId('playground-answer').getByText('And once more, without streaming').waitFor()
    await page.getByTestId('playground-metrics').waitFor()
    assert.equal((await page.getByTestId('metric-ttft').textContent()).trim(), 'not streamed')
    assert.match(await page.getByTestId('metric-tokens').textContent(), /^\d+ → \d+$/)
  })

  it('shows those calls in analytics, with charts', async () => {
    const { page } = s
    await tab('Analytics').click()
    // 3 calls: the Node check of the new secret and the two playground calls.
    await untilText(page, page.getByTestId('stat-requests'), '3', 'Refresh analytics')
    assert.match(await page.getByTestId('stat-cost').textContent(), /^\$0\.0+[1-9]\d*$/)
    assert.equal((await page.getByTestId('stat-error-rate').textContent()).trim(), '0%')
    assert.match(await page.getByTestId('stat-p50-latency').textContent(), /\d+(\.\d+)? (ms|s)$/)
    for (const chart of ['chart-requests', 'chart-cost', 'chart-tokens', 'chart-models', 'chart-latency']) {
      await page.getByTestId(chart).locator('svg.recharts-surface').first().waitFor()
    }
    assert.ok((await page.getByTestId('chart-requests').locator('.recharts-bar-rectangle path').count()) > 0, 'request bars drawn')
    assert.ok((await page.getByTestId('chart-models').getByText('mock/echo').count()) > 0, 'model breakdown lists mock/echo')

    await page.getByRole('radio', { name: '30 days' }).click()
    await page.waitForURL(/range=30d/)
    await untilText(page, page.getByTestId('stat-requests'), '3', 'Refresh analytics')
    await page.getByRole('radio', { name: '24 h' }).click()
    await untilText(page, page.getByTestId('stat-requests'), '3', 'Refresh analytics')
    await page.getByRole('radio', { name: '7 days' }).click()
    await untilText(page, page.getByTestId('stat-requests'), '3', 'Refresh analytics')
    await page.mouse.move(0, 0)
    await shot('analytics', page, { fullPage: true })
  })

  it('lists the calls in logs, opens details and exports the filtered set as CSV', async () => {
    const { page } = s
    await tab('Logs').click()
    const rows = page.getByTestId('logs-table').locator('tbody tr')
    await rows.first().waitFor()
    assert.equal(await rows.count(), 3)
    await shot('logs')

    await rows.first().click()
    const details = page.getByTestId('log-details')
    await details.waitFor()
    const detailsText = await details.textContent()
    for (const field of ['Request ID', 'Upstream model', 'Provider', 'Prompt tokens', 'Completion tokens', 'Cost', 'Latency', 'Attempts']) {
      assert.ok(detailsText.includes(field), `details show ${field}`)
    }
    assert.ok(detailsText.includes('mock/echo'))
    await shot('log-details')
    await page.getByRole('button', { name: 'Close details' }).click()

    await page.getByRole('radio', { name: 'OK' }).click()
    await page.waitForURL(/status=ok/)
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()])
    assert.match(download.suggestedFilename(), /^tollgate-.*\.csv$/)
    const file = path.join(s.backend.dataDir, download.suggestedFilename())
    await download.saveAs(file)
    const lines = readFileSync(file, 'utf8').trim().split(/\r?\n/)
    assert.match(lines[0], /request_id/)
    assert.equal(lines.length, 1 + 3, 'header and one row per call')
    assert.ok(lines.slice(1).every((line) => line.includes('mock/echo')))

    const [ndjson] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export NDJSON' }).click()])
    assert.match(ndjson.suggestedFilename(), /\.ndjson$/)

    await page.getByRole('radio', { name: 'Errors' }).click()
    await page.getByRole('heading', { name: 'No calls match these filters' }).waitFor()
  })

  it('summarises the gateway on its overview, with the recent calls', async () => {
    const { page } = s
    await tab('Overview').click()
    await page.getByText('Recent calls').waitFor()
    await page.getByTestId('stat-requests').filter({ hasText: /^3$/ }).waitFor()
    assert.equal(await page.getByTestId('logs-table').locator('tbody tr').count(), 3)
    await page.getByTestId('chart-requests').locator('svg.recharts-surface').waitFor()
    await page.mouse.move(0, 0)
    await shot('overview', page, { fullPage: true })
  })

  it('rotates the secret: a new one is shown once and the old one stops working', async () => {
    const { page } = s
    await tab('Settings').click()
    await page.getByRole('button', { name: 'Rotate secret' }).click()
    await page.getByRole('button', { name: 'Rotate now' }).click()
    const secretValue = page.getByTestId('secret-value')
    await secretValue.waitFor()
    s.oldSecret = s.secret
    s.secret = (await secretValue.textContent()).trim()
    assert.notEqual(s.secret, s.oldSecret)
    assert.match(s.secret, /^tg-/)
    await page.getByRole('button', { name: 'I’ve saved it' }).click()
    assert.ok((await page.getByTestId('settings-secret-hint').textContent()).includes(s.secret.slice(-4)))
    assert.equal(await chatStatus(s.oldSecret), 401, 'old secret refused')
    assert.equal(await chatStatus(s.secret), 200, 'new secret accepted')

    await tab('Playground').click()
    assert.equal(await page.getByLabel('Gateway secret').inputValue(), s.secret, 'playground uses the rotated secret')
  })

  it('sets a fallback chain in the settings, and shows the server refusing an unknown model', async () => {
    const { page } = s
    await tab('Settings').click()
    await page.getByRole('button', { name: 'New fallback chain' }).click()
    await page.getByLabel('Requested model').fill('mock/echo')
    await page.getByLabel('Fallback model').fill('mock/slow-echo')
    await page.getByRole('button', { name: 'Add fallback' }).click()
    await page.getByRole('button', { name: 'Save chain' }).click()
    await page.getByRole('list', { name: 'Fallbacks of mock/echo' }).getByText('mock/slow-echo').waitFor()
    assert.deepEqual((await storedGateway()).fallbacks, { 'mock/echo': ['mock/slow-echo'] }, 'the chain is stored')

    await page.getByRole('button', { name: 'New fallback chain' }).click()
    await page.getByLabel('Requested model').fill('mock/slow-echo')
    await page.getByLabel('Fallback model').fill('no-such-model')
    await page.getByRole('button', { name: 'Add fallback' }).click()
    await page.getByRole('button', { name: 'Save chain' }).click()
    await page.getByText('The chain was not saved').waitFor()
    assert.match(await page.getByRole('alert').filter({ hasText: 'The chain was not saved' }).textContent(), /no-such-model/)
    await page.getByRole('button', { name: 'Cancel', exact: true }).click()
    assert.equal(await page.getByTestId('fallback-chain').count(), 1, 'the refused chain was not added')
  })

  it('adds a provider key on the Keys page, and shows only its hint from then on', async () => {
    const { page } = s
    const apiKey = 'sk-e2e-test-key-0000abcd'
    await tab('Keys').click()
    await page.getByRole('heading', { name: 'Add a key' }).waitFor()
    await page.getByTestId('no-keys').waitFor()
    await page.getByLabel('Provider', { exact: true }).selectOption('openai')
    const keyInput = page.getByLabel('API key', { exact: true })
    assert.equal(await keyInput.getAttribute('type'), 'password')
    await keyInput.fill(apiKey)
    await page.getByLabel('Label', { exact: true }).fill('e2e')
    await page.getByRole('button', { name: 'Add key' }).click()

    const row = page.getByTestId('provider-key').filter({ hasText: 'e2e' })
    await row.waitFor()
    assert.equal(await page.getByTestId('provider-key').count(), 1)
    assert.match((await row.getByTestId('key-hint').textContent()).trim(), /abcd$/)
    assert.equal((await row.getByTestId('key-status').textContent()).trim(), 'Active')
    assert.equal((await row.getByTestId('key-last-used').textContent()).trim(), 'never')
    assert.ok((await row.textContent()).includes('OpenAI'))
    assert.equal(await keyInput.inputValue(), '', 'the key input is cleared')
    assert.ok(!(await page.content()).includes(apiKey), 'the key itself is not on the page')
    const coverage = await page.getByTestId('provider-coverage').filter({ hasText: 'OpenAI' }).textContent()
    assert.match(coverage, /1 key/)
    assert.match(coverage, /Without a key of your own, calls to OpenAI (use the operator’s keys|are refused: add a key)\./)

    const listed = await fetch(url(`/gateways/${s.gatewayId}/provider-keys`), {
      headers: { Authorization: `Bearer ${await storedToken()}` },
    })
    const listedText = await listed.text()
    assert.equal(listed.status, 200)
    assert.ok(!listedText.includes(apiKey), 'the API never returns the key')
    const { keys } = JSON.parse(listedText)
    assert.equal(keys.length, 1)
    assert.deepEqual([keys[0].provider, keys[0].label, keys[0].status], ['openai', 'e2e', 'active'])
    await page.mouse.move(0, 0)
    await shot('keys', page, { fullPage: true })
  })

  it('sets a requests-per-minute limit, which the playground explains once a call hits it', async () => {
    const { page } = s
    await tab('Limits').click()
    const rpm = page.getByLabel('Requests per minute', { exact: true })
    await rpm.fill('1')
    await page.getByRole('button', { name: 'Save limits' }).click()
    await page.getByText('Limits saved').waitFor()
    assert.equal((await storedGateway()).limits.rpm, 1, 'the limit is stored')
    assert.equal(await rpm.inputValue(), '1')
    await page.getByRole('meter', { name: 'Requests this minute' }).waitFor()
    assert.match(await page.getByTestId('usage-rpm').textContent(), / of 1$/)
    await page.mouse.move(0, 0)
    await shot('limits', page, { fullPage: true })

    await tab('Playground').click()
    await page.waitForFunction(() => document.querySelector('select[name="model"]')?.value === 'mock/echo')
    await page.getByLabel('Message 1 (user)').fill('First call of the minute')
    await page.getByRole('button', { name: 'Send' }).click()
    // The steps before may have called within this minute already, so the
    // first call either answers or is refused; the second is refused either way.
    await page.getByTestId('playground-metrics').or(page.getByTestId('limit-explanation')).waitFor()
    await page.getByLabel('Message 1 (user)').fill('Second call of the minute')
    await page.getByRole('button', { name: 'Send' }).click()
    const explanation = page.getByTestId('limit-explanation')
    await explanation.waitFor()
    assert.equal(
      (await explanation.getByTestId('limit-summary').textContent()).trim(),
      'This gateway’s limit of 1 request per minute was reached.',
    )
    assert.match(await explanation.textContent(), /The gateway said: “.+”/)
    assert.match(
      await explanation.getByTestId('limit-retry').textContent(),
      /^(Try again in \d+ seconds?\.|Try again in 1 minute \(at \d\d:\d\d\)\.|You can try again now\.)$/,
    )
    const limitsLink = explanation.getByRole('link', { name: 'See this gateway’s limits' })
    assert.equal(await limitsLink.getAttribute('href'), `/g/${s.gatewayId}/limits`)
    await shot('playground-rate-limited')

    // Removing the limit lets calls through again (the steps after make some).
    await limitsLink.click()
    await rpm.fill('')
    await page.getByRole('button', { name: 'Save limits' }).click()
    await page.getByTestId('usage-rpm').filter({ hasText: 'no limit' }).waitFor()
    assert.equal((await storedGateway()).limits.rpm, null, 'the limit is removed')
    assert.equal(await chatStatus(s.secret), 200, 'calls pass again')
  })

  it('renames the gateway', async () => {
    const { page } = s
    await tab('Settings').click()
    await page.getByLabel('Gateway name').fill(`${GATEWAY_NAME}-v2`)
    await page.getByRole('button', { name: 'Save', exact: true }).click()
    await page.getByTestId('gateway-name').getByText(`${GATEWAY_NAME}-v2`).waitFor()
    await shot('settings', page, { fullPage: true })
  })

  it('toggles the theme and remembers it across reloads', async () => {
    const { page } = s
    const isDark = () => page.evaluate(() => document.documentElement.classList.contains('dark'))
    assert.equal(await isDark(), false, 'light by default under a light OS theme')
    await page.getByTestId('theme-toggle').click()
    assert.equal(await isDark(), true)
    assert.equal(await page.evaluate(() => localStorage.getItem('tollgate.theme')), 'dark')
    await page.goto(url(`/g/${s.gatewayId}/analytics`))
    assert.equal(await isDark(), true, 'still dark after a reload')
    await page.getByTestId('chart-requests').locator('svg.recharts-surface').waitFor()
    await page.mouse.move(0, 0)
    await shot('analytics-dark', page, { fullPage: true })
    await page.goto(url(`/g/${s.gatewayId}/playground`))
    await page.getByLabel('Message 1 (user)').fill('Dark mode, streamed')
    await page.getByRole('button', { name: 'Send' }).click()
    await page.getByTestId('playground-metrics').waitFor()
    await shot('playground-dark')
    await page.getByTestId('theme-toggle').click()
    assert.equal(await isDark(), false)
  })

  it('works at phone width', async () => {
    const phone = await s.context.newPage()
    await phone.setViewportSize(PHONE)
    for (const [name, pathname, ready] of [
      ['phone-gateways', '/', 'New gateway'],
      ['phone-overview', `/g/${s.gatewayId}`, 'Recent calls'],
      ['phone-settings', `/g/${s.gatewayId}/settings`, 'Fallbacks'],
      ['phone-keys', `/g/${s.gatewayId}/keys`, 'Your keys'],
      ['phone-limits', `/g/${s.gatewayId}/limits`, 'Current use'],
      ['phone-logs', `/g/${s.gatewayId}/logs`, null],
    ]) {
      await phone.goto(url(pathname))
      if (ready) await phone.getByText(ready).first().waitFor()
      else await phone.getByTestId('logs-table').waitFor()
      const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
      assert.ok(overflow <= 0, `${pathname} has no horizontal scroll at 375px (overflow ${overflow}px)`)
      await shot(name, phone)
    }
    await phone.close()
  })

  it('keeps the session across a reload', async () => {
    const { page } = s
    await page.goto(url('/'))
    await page.reload()
    assert.equal((await page.getByTestId('header-username').textContent()).trim(), s.username)
    await page.getByRole('link', { name: new RegExp(`${GATEWAY_NAME}-v2`) }).waitFor()
    await page.mouse.move(0, 0)
    await shot('gateway-list')
  })

  it('sets a password and signs in from another browser', async () => {
    const { page } = s
    await page.goto(url('/profile'))
    assert.equal((await page.getByTestId('profile-username').textContent()).trim(), s.username)
    const tokenBefore = await storedToken()
    await page.getByLabel('New password', { exact: true }).fill(s.password)
    await page.getByLabel('Confirm new password').fill(s.password)
    await page.getByRole('button', { name: 'Set password' }).click()
    await page.getByText('Password set', { exact: true }).waitFor()
    // The change ends the other sessions and answers a new token, which this tab switched to.
    const tokenAfter = await storedToken()
    assert.ok(tokenAfter && tokenAfter !== tokenBefore, 'the tab stores the token the password change returned')
    assert.equal(await meStatus(tokenAfter), 200, 'the new token is valid')
    await page.reload()
    assert.equal((await page.getByTestId('profile-username').textContent()).trim(), s.username, 'still signed in after a reload')

    await page.getByLabel('Current password').fill('not my password')
    await page.getByLabel('New password', { exact: true }).fill('another long password')
    await page.getByLabel('Confirm new password').fill('another long password')
    await page.getByRole('button', { name: 'Change password' }).click()
    await page.getByText('The current password is not right.').waitFor()
    assert.equal(new URL(page.url()).pathname, '/profile', 'a wrong current password does not end the session')
    await page.getByLabel('Current password').fill('')
    await page.getByLabel('New password', { exact: true }).fill('')
    await page.getByLabel('Confirm new password').fill('')
    await page.mouse.move(0, 0)
    await shot('profile', page, { fullPage: true })

    const other = await s.browser.newContext({ viewport: DESKTOP })
    const otherPage = await other.newPage()
    await otherPage.goto(url('/login'))
    await otherPage.getByLabel('Username').fill(s.username)
    await otherPage.getByLabel('Password').fill('wrong password')
    await otherPage.getByRole('button', { name: 'Sign in', exact: true }).click()
    await otherPage.getByText('That username and password do not match.').waitFor()
    await otherPage.getByLabel('Password').fill(s.password)
    await otherPage.getByRole('button', { name: 'Sign in', exact: true }).click()
    await otherPage.getByRole('link', { name: new RegExp(`${GATEWAY_NAME}-v2`) }).waitFor()
    await other.close()
  })

  it('deletes the gateway after the name is typed', async () => {
    const { page } = s
    await page.goto(url(`/g/${s.gatewayId}/settings`))
    await page.getByRole('button', { name: 'Delete gateway' }).click()
    const confirm = page.getByRole('button', { name: 'Delete forever' })
    await page.getByLabel(/to confirm/).fill('not the name')
    assert.equal(await confirm.isDisabled(), true)
    await page.getByLabel(/to confirm/).fill(`${GATEWAY_NAME}-v2`)
    await confirm.click()
    await page.waitForURL(url('/'))
    await page.getByRole('heading', { name: 'Create your first gateway' }).waitFor()
    assert.equal(await chatStatus(s.secret), 401, 'a deleted gateway refuses its secret')
  })

  it('sends an invalid session back to sign-in with a message', async () => {
    const { page } = s
    await page.evaluate(() => {
      const session = JSON.parse(localStorage.getItem('tollgate.session'))
      localStorage.setItem('tollgate.session', JSON.stringify({ ...session, token: 'not-a-valid-token' }))
    })
    await page.goto(url('/profile'))
    await page.getByText('Your session expired, sign in again').waitFor()
    assert.equal(new URL(page.url()).pathname, '/login')
    assert.equal(await page.evaluate(() => localStorage.getItem('tollgate.session')), null)
    await shot('session-expired')

    await page.getByLabel('Username').fill(s.username)
    await page.getByLabel('Password').fill(s.password)
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await page.waitForURL(url('/profile'))
    await page.getByTestId('profile-username').waitFor()
  })

  it('signs out, ending the session on the server too', async () => {
    const { page } = s
    const token = await storedToken()
    assert.equal(await meStatus(token), 200)
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('button', { name: 'Start in one click' }).waitFor()
    assert.equal(await page.evaluate(() => localStorage.getItem('tollgate.session')), null)
    assert.equal(await meStatus(token), 401, 'POST /auth/logout ended the session: its token is refused')
  })
})
