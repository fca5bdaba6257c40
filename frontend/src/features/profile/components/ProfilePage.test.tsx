import { fireEvent, render, screen, waitFor } from '@testing-library/react'
import { type IncomingMessage, type ServerResponse } from 'node:http'
import { createMemoryRouter, RouterProvider } from 'react-router'
import { beforeEach, describe, expect, it } from 'vitest'
import { createApiClient } from '@/api/client'
import { Providers } from '@/app/Providers'
import { createQueryClient } from '@/app/queryClient'
import { routes } from '@/app/router'
import { sessionStore } from '@/lib/session'
import { json, serveForTests } from '@/test/server'

// A control plane with one account: tokens it accepts, and what it was asked.
const OLD_TOKEN = 'jwt-old'
const NEW_TOKEN = 'jwt-new'
const me = { id: 'u1', username: 'Brave_Fox', created_at: '2025-03-01T00:00:00Z', has_password: true }

let validTokens = new Set<string>()
let logoutAnswer: 204 | 401 | 500 = 204
let seen: { method: string; path: string; authorization?: string; body: string }[] = []

async function handle(req: IncomingMessage, res: ServerResponse) {
  const parts: Buffer[] = []
  for await (const part of req) parts.push(part as Buffer)
  const body = Buffer.concat(parts).toString('utf8')
  const path = new URL(req.url ?? '/', 'http://x').pathname
  seen.push({ method: req.method ?? '', path, authorization: req.headers.authorization, body })
  const token = req.headers.authorization?.replace(/^Bearer /, '') ?? ''
  const key = `${req.method} ${path}`

  if (key === 'POST /auth/logout' && logoutAnswer === 500) return json(res, 500, { error: { code: 'internal', message: 'boom' } })
  if (!validTokens.has(token)) return json(res, 401, { error: { code: 'unauthorized', message: 'Sign in again' } })
  if (key === 'POST /auth/logout') {
    if (logoutAnswer === 401) return json(res, 401, { error: { code: 'unauthorized', message: 'Session ended' } })
    validTokens.delete(token)
    res.writeHead(204)
    return res.end()
  }
  if (key === 'GET /auth/me') return json(res, 200, me)
  if (key === 'PUT /auth/password') {
    // Every session of the account ends; the answer carries a fresh one.
    validTokens = new Set([NEW_TOKEN])
    return json(res, 200, { ...me, token: NEW_TOKEN, expires_at: '2999-01-01T00:00:00Z' })
  }
  if (key === 'GET /gateways') return json(res, 200, { gateways: [] })
  json(res, 404, { error: { code: 'not_found', message: 'nope' } })
}

const testServer = serveForTests((req, res) => void handle(req, res))

beforeEach(() => {
  validTokens = new Set([OLD_TOKEN])
  logoutAnswer = 204
  seen = []
  sessionStore.set({ id: 'u1', username: 'Brave_Fox', token: OLD_TOKEN, expires_at: '2999-01-01T00:00:00Z' })
})

/** The profile page, wired as main.tsx wires the app. */
async function openProfile() {
  const client = createApiClient({ baseUrl: testServer.url, getToken: sessionStore.token, onUnauthorized: (t) => sessionStore.reject(t) })
  const router = createMemoryRouter(routes, { initialEntries: ['/profile'] })
  render(
    <Providers client={client} queryClient={createQueryClient()}>
      <RouterProvider router={router} />
    </Providers>,
  )
  await screen.findByTestId('profile-username')
  return router
}

const storedSession = () => window.localStorage.getItem('tollgate.session')

describe('signing out from the profile page', () => {
  it('ends the session on the server with POST /auth/logout, then here', async () => {
    const router = await openProfile()
    fireEvent.click(screen.getByRole('button', { name: 'Sign out' }))
    await screen.findByRole('button', { name: 'Start in one click' })

    const logout = seen.filter((s) => s.path === '/auth/logout')
    expect(logout).toEqual([{ method: 'POST', path: '/auth/logout', authorization: `Bearer ${OLD_TOKEN}`, body: '' }])
    expect(validTokens.has(OLD_TOKEN)).toBe(false)
    expect(sessionStore.get()).toBeNull()
    expect(storedSession()).toBeNull()
    expect(router.state.location.pathname).toBe('/')
  })

  it.each([
    ['the server fails', 500],
    ['the session had already ended (401)', 401],
  ] as const)('still signs out here when %s, landing on the welcome page', async (_case, status) => {
    logoutAnswer = status
    const router = await openProfile()
    fireEvent.click(screen.getByRole('button', { name: 'Sign out' }))
    await screen.findByRole('button', { name: 'Start in one click' })

    expect(seen.some((s) => s.method === 'POST' && s.path === '/auth/logout')).toBe(true)
    expect(storedSession()).toBeNull()
    // A signed-out user, not an "expired session" sent to the login form.
    expect(sessionStore.endReason()).toBe('signed_out')
    expect(router.state.location.pathname).toBe('/')
  })
})

describe('changing the password', () => {
  it('switches to the returned token, so this tab stays signed in while other sessions end', async () => {
    const router = await openProfile()
    fireEvent.change(screen.getByLabelText('Current password'), { target: { value: 'old password' } })
    fireEvent.change(screen.getByLabelText('New password'), { target: { value: 'a new long password' } })
    fireEvent.change(screen.getByLabelText('Confirm new password'), { target: { value: 'a new long password' } })
    fireEvent.click(screen.getByRole('button', { name: 'Change password' }))
    await screen.findByText('Password changed — your other sessions are signed out')

    const put = seen.find((s) => s.method === 'PUT' && s.path === '/auth/password')!
    expect(put.authorization).toBe(`Bearer ${OLD_TOKEN}`)
    expect(JSON.parse(put.body)).toEqual({ new_password: 'a new long password', current_password: 'old password' })

    expect(sessionStore.token()).toBe(NEW_TOKEN)
    expect(JSON.parse(storedSession()!)).toEqual({
      id: 'u1',
      username: 'Brave_Fox',
      token: NEW_TOKEN,
      expires_at: '2999-01-01T00:00:00Z',
    })

    // The next call carries the new token (the old one is refused now) and the tab is still signed in.
    await router.navigate('/')
    await waitFor(() => expect(seen.some((s) => s.path === '/gateways')).toBe(true))
    expect(seen.find((s) => s.path === '/gateways')!.authorization).toBe(`Bearer ${NEW_TOKEN}`)
    await screen.findByRole('heading', { name: 'Create your first gateway' })
    expect(sessionStore.get()).not.toBeNull()
  })
})
