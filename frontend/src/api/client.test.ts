// @vitest-environment node
import { type IncomingMessage, type ServerResponse } from 'node:http'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { runChat } from '@/features/playground/runChat'
import { readOpenAiStream } from '@/lib/sse'
import {
  ApiError,
  buildExportUrl,
  createApiClient,
  filenameFromContentDisposition,
  parseRetryAfter,
  toQueryString,
} from './client'
import type { ChatCompletionChunk } from './types'
import { json, serveForTests } from '@/test/server'

interface Seen {
  method: string
  url: string
  authorization: string | undefined
  contentType: string | undefined
  body: string
}

let seen: Seen[] = []

const TOKEN = 'user-jwt'
const SECRET = 'tg-secret'

function controlError(res: ServerResponse, status: number, code: string, message: string) {
  json(res, status, { error: { code, message } })
}

async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = []
  for await (const part of req) parts.push(part as Buffer)
  return Buffer.concat(parts).toString('utf8')
}

const gateway = {
  id: 'gw_1',
  name: 'prod',
  secret_hint: 'tg-…cret',
  created_at: '2025-03-01T00:00:00Z',
  updated_at: '2025-03-01T00:00:00Z',
}

async function handle(req: IncomingMessage, res: ServerResponse) {
  const body = await readBody(req)
  seen.push({
    method: req.method ?? '',
    url: req.url ?? '',
    authorization: req.headers.authorization,
    contentType: req.headers['content-type'],
    body,
  })
  const url = new URL(req.url ?? '/', 'http://x')
  const key = `${req.method} ${url.pathname}`
  const userAuthed = req.headers.authorization === `Bearer ${TOKEN}`
  const gatewayAuthed = req.headers.authorization === `Bearer ${SECRET}`

  if (key === 'POST /auth/join') {
    return json(res, 201, { id: 'u1', username: 'Brave_Fox', token: TOKEN, expires_at: '2999-01-01T00:00:00Z' })
  }
  if (key === 'POST /auth/login') {
    const { username, password } = JSON.parse(body)
    if (username === 'Flooded_Fox') {
      return json(
        res,
        429,
        { error: { code: 'too_many_attempts', message: 'Too many sign-in attempts; try again later' } },
        { 'Retry-After': '120' },
      )
    }
    if (username === 'Brave_Fox' && password === 'correct horse') {
      return json(res, 200, { id: 'u1', username, token: TOKEN, expires_at: '2999-01-01T00:00:00Z' })
    }
    return controlError(res, 401, 'invalid_credentials', 'Wrong username or password')
  }
  if (url.pathname.startsWith('/v1/')) {
    if (!gatewayAuthed) {
      return json(res, 401, { error: { message: 'Invalid gateway secret', type: 'invalid_request_error', code: 'invalid_api_key', param: null } })
    }
    if (key === 'GET /v1/models') {
      return json(res, 200, {
        object: 'list',
        data: [
          {
            id: 'mock/echo',
            object: 'model',
            created: 0,
            owned_by: 'mock',
            pricing: { input_per_mtok: 1, cached_input_per_mtok: 0.5, output_per_mtok: 2 },
            context_window: 8192,
          },
        ],
      })
    }
    if (key === 'POST /v1/chat/completions') {
      const request = JSON.parse(body)
      if (request.model === 'limited/echo') {
        return json(
          res,
          429,
          { error: { message: 'Rate limit of 5 requests per minute reached', type: 'requests', code: 'rate_limit_exceeded', param: 'rpm' } },
          { 'retry-after': '7', 'x-ratelimit-limit-requests': '5', 'x-ratelimit-remaining-requests': '0', 'x-request-id': 'req_429' },
        )
      }
      const usage = { prompt_tokens: 12, completion_tokens: 4, total_tokens: 16 }
      if (!request.stream) {
        return json(
          res,
          200,
          {
            id: 'c1',
            object: 'chat.completion',
            created: 0,
            model: request.model,
            choices: [{ index: 0, message: { role: 'assistant', content: 'Hello there' }, finish_reason: 'stop' }],
            usage,
          },
          { 'x-request-id': 'req_plain' },
        )
      }
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'x-request-id': 'req_stream' })
      const chunk = (delta: object, extra: object = {}) =>
        `data: ${JSON.stringify({ id: 'c2', object: 'chat.completion.chunk', created: 0, model: request.model, choices: [{ index: 0, delta, finish_reason: null }], ...extra })}\n\n`
      res.write(chunk({ role: 'assistant' }))
      res.write(chunk({ content: 'Hel' }))
      await new Promise((r) => setTimeout(r, 20))
      res.write(chunk({ content: 'lo' }).slice(0, 25))
      await new Promise((r) => setTimeout(r, 5))
      res.write(chunk({ content: 'lo' }).slice(25))
      if (request.stream_options?.include_usage) {
        res.write(`data: ${JSON.stringify({ id: 'c2', object: 'chat.completion.chunk', created: 0, model: request.model, choices: [], usage })}\n\n`)
      }
      res.end('data: [DONE]\n\n')
      return
    }
  }
  if (!userAuthed) return controlError(res, 401, 'unauthorized', 'Sign in again')
  if (key === 'GET /auth/me') return json(res, 200, { id: 'u1', username: 'Brave_Fox', created_at: gateway.created_at, has_password: false })
  if (key === 'PUT /auth/password') {
    const { new_password } = JSON.parse(body)
    if (new_password.length < 8) return controlError(res, 400, 'password_too_short', 'Use at least 8 characters')
    return json(res, 200, {
      id: 'u1',
      username: 'Brave_Fox',
      created_at: gateway.created_at,
      has_password: true,
      token: 'user-jwt-2',
      expires_at: '2999-01-01T00:00:00Z',
    })
  }
  if (key === 'POST /auth/logout') {
    res.writeHead(204)
    return res.end()
  }
  if (key === 'GET /gateways') return json(res, 200, { gateways: [gateway] })
  if (key === 'POST /gateways') return json(res, 201, { ...gateway, name: JSON.parse(body).name, secret: SECRET })
  if (key === 'GET /gateways/gw_1') return json(res, 200, gateway)
  if (key === 'PATCH /gateways/gw_1') return json(res, 200, { ...gateway, ...JSON.parse(body) })
  if (key === 'GET /gateways/gw_1/provider-keys') {
    return json(res, 200, { keys: [], providers: [{ name: 'openai', operator_keys: true }] })
  }
  if (key === 'POST /gateways/gw_1/provider-keys') {
    const { provider, label } = JSON.parse(body)
    return json(res, 201, {
      id: 'key_1',
      provider,
      label,
      key_hint: 'sk-…abcd',
      status: 'active',
      last_used_at: null,
      created_at: gateway.created_at,
    })
  }
  if (key === 'DELETE /gateways/gw_1/provider-keys/key%2F1') {
    res.writeHead(204)
    return res.end()
  }
  if (key === 'DELETE /gateways/gw_1') {
    res.writeHead(204)
    return res.end()
  }
  if (key === 'POST /gateways/gw_1/secret') return json(res, 200, { id: 'gw_1', secret: 'tg-new', secret_hint: 'tg-…-new' })
  if (key === 'GET /gateways/gw_1/analytics') return json(res, 200, { gateway_id: 'gw_1', echo: url.search })
  if (key === 'GET /gateways/gw_1/logs') return json(res, 200, { logs: [], next_cursor: null })
  if (key === 'GET /gateways/gw_1/logs/export') {
    res.writeHead(200, {
      'Content-Type': 'text/csv',
      'Content-Disposition': 'attachment; filename="tollgate-prod-logs.csv"',
    })
    return res.end('id,model\nl1,mock/echo\n')
  }
  if (key === 'GET /gateways/broken') {
    res.writeHead(502, { 'Content-Type': 'text/plain' })
    return res.end('upstream proxy said no')
  }
  if (url.pathname.startsWith('/gateways/')) return controlError(res, 404, 'not_found', 'Gateway not found')
  res.writeHead(500, { 'Content-Type': 'text/plain' })
  res.end('boom')
}

const testServer = serveForTests((req, res) => {
  handle(req, res).catch((error) => {
    res.writeHead(500)
    res.end(String(error))
  })
})

beforeEach(() => {
  seen = []
})

function client(token: string | null = TOKEN, onUnauthorized = vi.fn()) {
  return { api: createApiClient({ baseUrl: `${testServer.url}/`, getToken: () => token, onUnauthorized }), onUnauthorized }
}

describe('auth', () => {
  it('joins without a token and returns the session', async () => {
    const { api } = client(null)
    const session = await api.join()
    expect(session.username).toBe('Brave_Fox')
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/auth/join', authorization: undefined })
  })

  it('logs in, and reports bad credentials without ending a session', async () => {
    const { api, onUnauthorized } = client(null)
    await expect(api.login({ username: 'Brave_Fox', password: 'correct horse' })).resolves.toMatchObject({ token: TOKEN })
    const error = await api.login({ username: 'Brave_Fox', password: 'nope' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ApiError)
    expect(error).toMatchObject({ status: 401, code: 'invalid_credentials', message: 'Wrong username or password' })
    expect(onUnauthorized).not.toHaveBeenCalled()
  })

  it('sends the JWT on control-plane calls', async () => {
    const { api } = client()
    await expect(api.me()).resolves.toMatchObject({ username: 'Brave_Fox', has_password: false })
    expect(seen[0].authorization).toBe(`Bearer ${TOKEN}`)
    await expect(api.setPassword({ new_password: 'long enough' })).resolves.toMatchObject({ has_password: true })
    expect(seen[1]).toMatchObject({ method: 'PUT', contentType: 'application/json' })
    expect(JSON.parse(seen[1].body)).toEqual({ new_password: 'long enough' })
  })

  it('ends the session on a 401 to a call that carried a token, naming the refused token', async () => {
    const { api, onUnauthorized } = client('expired-jwt')
    await expect(api.listGateways()).rejects.toMatchObject({ status: 401, code: 'unauthorized' })
    expect(onUnauthorized).toHaveBeenCalledTimes(1)
    expect(onUnauthorized).toHaveBeenCalledWith('expired-jwt')
  })

  it('answers a password change with the new session token', async () => {
    const { api } = client()
    await expect(api.setPassword({ new_password: 'long enough', current_password: 'old one' })).resolves.toEqual({
      id: 'u1',
      username: 'Brave_Fox',
      created_at: gateway.created_at,
      has_password: true,
      token: 'user-jwt-2',
      expires_at: '2999-01-01T00:00:00Z',
    })
  })

  it('signs out with POST /auth/logout and the JWT', async () => {
    const { api } = client()
    await expect(api.logout()).resolves.toBeUndefined()
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/auth/logout', authorization: `Bearer ${TOKEN}` })
  })

  it('does not report a 401 to logout as an expired session: the user is signing out', async () => {
    const { api, onUnauthorized } = client('expired-jwt')
    await expect(api.logout()).rejects.toMatchObject({ status: 401 })
    expect(onUnauthorized).not.toHaveBeenCalled()
  })

  it('reads a 429 too_many_attempts with its Retry-After', async () => {
    const { api, onUnauthorized } = client(null)
    const before = Date.now()
    const error = await api.login({ username: 'Flooded_Fox', password: 'guess' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ApiError)
    expect(error).toMatchObject({
      status: 429,
      code: 'too_many_attempts',
      message: 'Too many sign-in attempts; try again later',
      retryAfterSeconds: 120,
    })
    const { retryAt } = error as ApiError
    expect(retryAt).toBeGreaterThanOrEqual(before + 120_000)
    expect(retryAt).toBeLessThanOrEqual(Date.now() + 120_000)
    expect(onUnauthorized).not.toHaveBeenCalled()
  })

  it('surfaces validation errors with their code', async () => {
    const { api } = client()
    await expect(api.setPassword({ new_password: 'short' })).rejects.toMatchObject({
      status: 400,
      code: 'password_too_short',
    })
  })
})

describe('gateways', () => {
  it('lists, creates, reads, renames, rotates and deletes', async () => {
    const { api } = client()
    expect(await api.listGateways()).toHaveLength(1)
    expect(await api.createGateway('staging')).toMatchObject({ name: 'staging', secret: SECRET })
    expect(JSON.parse(seen[1].body)).toEqual({ name: 'staging' })
    expect(await api.getGateway('gw_1')).toMatchObject({ id: 'gw_1' })
    expect(await api.renameGateway('gw_1', 'renamed')).toMatchObject({ name: 'renamed' })
    expect(seen[3].method).toBe('PATCH')
    expect(await api.rotateSecret('gw_1')).toEqual({ id: 'gw_1', secret: 'tg-new', secret_hint: 'tg-…-new' })
    await expect(api.deleteGateway('gw_1')).resolves.toBeUndefined()
    expect(seen[5]).toMatchObject({ method: 'DELETE', url: '/gateways/gw_1' })
  })

  it('sets limits with PATCH, sending only the named ones', async () => {
    const { api } = client()
    const updated = await api.setLimits('gw_1', { rpm: 60, daily_budget_usd: null })
    expect(seen[0]).toMatchObject({ method: 'PATCH', url: '/gateways/gw_1' })
    expect(JSON.parse(seen[0].body)).toEqual({ limits: { rpm: 60, daily_budget_usd: null } })
    expect(updated.limits).toEqual({ rpm: 60, daily_budget_usd: null })
  })

  it('lists, adds and deletes provider keys', async () => {
    const { api } = client()
    expect(await api.listProviderKeys('gw_1')).toEqual({ keys: [], providers: [{ name: 'openai', operator_keys: true }] })
    const added = await api.addProviderKey('gw_1', { provider: 'openai', api_key: 'sk-test-abcd', label: 'e2e' })
    expect(added).toMatchObject({ id: 'key_1', key_hint: 'sk-…abcd', status: 'active' })
    expect(seen[1]).toMatchObject({ method: 'POST', url: '/gateways/gw_1/provider-keys', authorization: `Bearer ${TOKEN}` })
    expect(JSON.parse(seen[1].body)).toEqual({ provider: 'openai', api_key: 'sk-test-abcd', label: 'e2e' })
    await expect(api.deleteProviderKey('gw_1', 'key/1')).resolves.toBeUndefined()
    expect(seen[2]).toMatchObject({ method: 'DELETE', url: '/gateways/gw_1/provider-keys/key%2F1' })
  })

  it('maps 404 to an ApiError', async () => {
    const { api } = client()
    await expect(api.getGateway('someone-elses')).rejects.toMatchObject({ status: 404, code: 'not_found' })
  })

  it('tolerates a non-JSON error body', async () => {
    const { api } = client()
    await expect(api.getGateway('broken')).rejects.toMatchObject({
      status: 502,
      code: 'http_502',
      message: 'upstream proxy said no',
    })
  })
})

describe('analytics and logs', () => {
  it('passes the range and filters as query parameters', async () => {
    const { api } = client()
    await api.analytics('gw_1', { days: 7 })
    await api.analytics('gw_1', { from: '2025-03-01', to: '2025-03-09', model: 'mock/echo' })
    await api.logs('gw_1', { limit: 50, before: 'cursor==', status: 'error', model: undefined, from: '2025-03-09T00:00:00Z' })
    expect(seen.map((s) => s.url)).toEqual([
      '/gateways/gw_1/analytics?days=7',
      '/gateways/gw_1/analytics?from=2025-03-01&to=2025-03-09&model=mock%2Fecho',
      '/gateways/gw_1/logs?limit=50&before=cursor%3D%3D&status=error&from=2025-03-09T00%3A00%3A00Z',
    ])
  })

  it('downloads an export with the JWT and the server-given file name', async () => {
    const { api } = client()
    const { blob, filename } = await api.exportLogs('gw_1', 'csv', { status: 'ok' })
    expect(filename).toBe('tollgate-prod-logs.csv')
    expect(await blob.text()).toBe('id,model\nl1,mock/echo\n')
    expect(seen[0]).toMatchObject({ url: '/gateways/gw_1/logs/export?format=csv&status=ok', authorization: `Bearer ${TOKEN}` })
  })
})

describe('data plane', () => {
  it('lists models with the gateway secret, not the JWT', async () => {
    const { api } = client()
    const models = await api.listModels(SECRET)
    expect(models.data[0]).toMatchObject({ id: 'mock/echo', pricing: { input_per_mtok: 1 } })
    expect(seen[0].authorization).toBe(`Bearer ${SECRET}`)
  })

  it('reports OpenAI-shaped errors without ending the user session', async () => {
    const { api, onUnauthorized } = client()
    await expect(api.listModels('tg-wrong')).rejects.toMatchObject({ status: 401, code: 'invalid_api_key' })
    expect(onUnauthorized).not.toHaveBeenCalled()
  })

  it('keeps what a 429 of a limit says: its type, param, Retry-After and rate-limit headers', async () => {
    const { api } = client()
    const error = await api
      .chatCompletion(SECRET, { model: 'limited/echo', messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ApiError)
    expect(error).toMatchObject({
      status: 429,
      code: 'rate_limit_exceeded',
      type: 'requests',
      param: 'rpm',
      message: 'Rate limit of 5 requests per minute reached',
      retryAfterSeconds: 7,
      requestId: 'req_429',
    })
    expect((error as ApiError).headers?.get('x-ratelimit-limit-requests')).toBe('5')
    expect((error as ApiError).headers?.get('x-ratelimit-remaining-requests')).toBe('0')
  })

  it('streams a chat completion over SSE', async () => {
    const { api } = client()
    const response = await api.chatCompletion(SECRET, {
      model: 'mock/echo',
      messages: [{ role: 'user', content: 'Hello' }],
      stream: true,
      stream_options: { include_usage: true },
    })
    const chunks = []
    for await (const chunk of readOpenAiStream<ChatCompletionChunk>(response.body!)) chunks.push(chunk)
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello')
    expect(chunks.at(-1)?.usage).toEqual({ prompt_tokens: 12, completion_tokens: 4, total_tokens: 16 })
  })

  it('runChat measures a streamed call and asks for usage', async () => {
    const { api } = client()
    const deltas: string[] = []
    const result = await runChat(
      api,
      SECRET,
      { model: 'mock/echo', messages: [{ role: 'user', content: 'Hello' }], stream: true },
      { onDelta: (d) => deltas.push(d) },
    )
    expect(JSON.parse(seen[0].body).stream_options).toEqual({ include_usage: true })
    expect(deltas).toEqual(['Hel', 'lo'])
    expect(result).toMatchObject({ content: 'Hello', requestId: 'req_stream', model: 'mock/echo' })
    expect(result.usage?.total_tokens).toBe(16)
    expect(result.ttftMs).not.toBeNull()
    expect(result.latencyMs).toBeGreaterThanOrEqual(result.ttftMs!)
  })

  it('runChat reads a non-streamed answer', async () => {
    const { api } = client()
    const result = await runChat(api, SECRET, { model: 'mock/echo', messages: [{ role: 'user', content: 'Hi' }], stream: false })
    expect(JSON.parse(seen[0].body)).toMatchObject({ stream: false })
    expect(JSON.parse(seen[0].body).stream_options).toBeUndefined()
    expect(result).toMatchObject({ content: 'Hello there', ttftMs: null, requestId: 'req_plain', finishReason: 'stop' })
    expect(result.usage?.prompt_tokens).toBe(12)
  })
})

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-03-10T12:00:00Z')

  it('reads delta-seconds and HTTP dates', () => {
    expect(parseRetryAfter('120', now)).toBe(120)
    expect(parseRetryAfter(' 0 ', now)).toBe(0)
    expect(parseRetryAfter('Mon, 10 Mar 2025 12:05:00 GMT', now)).toBe(300)
  })

  it('never goes negative, and gives null for nothing readable', () => {
    expect(parseRetryAfter('Mon, 10 Mar 2025 11:00:00 GMT', now)).toBe(0)
    expect(parseRetryAfter(null, now)).toBeNull()
    expect(parseRetryAfter('', now)).toBeNull()
    expect(parseRetryAfter('soon', now)).toBeNull()
    expect(parseRetryAfter('-5', now)).toBeNull()
  })

  it('has no Retry-After on errors without the header', () => {
    expect(new ApiError(500, 'internal', 'boom')).toMatchObject({ retryAfterSeconds: null, retryAt: null })
  })
})

describe('URL helpers', () => {
  it('builds query strings from defined values only', () => {
    expect(toQueryString({})).toBe('')
    expect(toQueryString({ a: 1, b: undefined, c: '', d: null, e: 'x y' })).toBe('?a=1&e=x+y')
  })

  it('builds export URLs with the table filters', () => {
    expect(buildExportUrl('', 'gw_1', 'csv')).toBe('/gateways/gw_1/logs/export?format=csv')
    expect(
      buildExportUrl('https://api.example.com/', 'gw 1', 'ndjson', {
        status: 'error',
        model: 'openai/gpt-4o',
        from: '2025-03-01',
        to: '2025-03-02',
      }),
    ).toBe(
      'https://api.example.com/gateways/gw%201/logs/export?format=ndjson&status=error&model=openai%2Fgpt-4o&from=2025-03-01&to=2025-03-02',
    )
  })

  it('reads file names from Content-Disposition', () => {
    expect(filenameFromContentDisposition('attachment; filename="logs.csv"')).toBe('logs.csv')
    expect(filenameFromContentDisposition('attachment; filename=logs.ndjson')).toBe('logs.ndjson')
    expect(filenameFromContentDisposition(`attachment; filename="a.csv"; filename*=UTF-8''caf%C3%A9.csv`)).toBe('café.csv')
    expect(filenameFromContentDisposition('attachment')).toBeNull()
    expect(filenameFromContentDisposition(null)).toBeNull()
  })
})
