import { fireEvent, render, screen, within } from '@testing-library/react'
import { type ServerResponse } from 'node:http'
import { createMemoryRouter, RouterProvider } from 'react-router'
import { beforeEach, describe, expect, it } from 'vitest'
import { createApiClient } from '@/api/client'
import { Providers } from '@/app/Providers'
import { createQueryClient } from '@/app/queryClient'
import { routes } from '@/app/router'
import { sessionStore } from '@/lib/session'
import { serveForTests } from '@/test/server'

// POST /auth/login answers what the test sets.
let answer: (res: ServerResponse) => void
const testServer = serveForTests((req, res) => {
  req.resume()
  req.on('end', () => answer(res))
})

beforeEach(() => sessionStore.end('signed_out'))

const FLOODED = 'Too many sign-in attempts for this account. Wait before trying again.'

function flooded(headers: Record<string, string>) {
  return (res: ServerResponse) => {
    res.writeHead(429, { 'Content-Type': 'application/json', ...headers })
    res.end(JSON.stringify({ error: { code: 'too_many_attempts', message: FLOODED } }))
  }
}

async function signIn() {
  const client = createApiClient({ baseUrl: testServer.url, getToken: sessionStore.token })
  const router = createMemoryRouter(routes, { initialEntries: ['/login'] })
  render(
    <Providers client={client} queryClient={createQueryClient()}>
      <RouterProvider router={router} />
    </Providers>,
  )
  fireEvent.change(await screen.findByLabelText('Username'), { target: { value: 'Brave_Fox' } })
  fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'guess' } })
  fireEvent.click(screen.getByRole('button', { name: 'Sign in' }))
  return router
}

describe('a sign-in refused because the account is flooded with attempts (429 too_many_attempts)', () => {
  it('shows the server’s message and when to retry, from Retry-After', async () => {
    answer = flooded({ 'Retry-After': '300' })
    const router = await signIn()
    const alert = (await screen.findByText('Too many sign-in attempts')).closest('[role="alert"]') as HTMLElement
    expect(within(alert).getByText(FLOODED, { exact: false })).toBeTruthy()
    expect(within(alert).getByTestId('login-retry-after').textContent).toMatch(/^Try again in 5 minutes \(at \d{2}:\d{2}\)\.$/)
    // Not mistaken for a wrong password, and still on the form.
    expect(screen.queryByText('That username and password do not match.')).toBeNull()
    expect(router.state.location.pathname).toBe('/login')
    expect(sessionStore.get()).toBeNull()
  })

  it('counts seconds for a short wait', async () => {
    answer = flooded({ 'Retry-After': '30' })
    await signIn()
    expect((await screen.findByTestId('login-retry-after')).textContent).toBe('Try again in 30 seconds.')
  })

  it('still says to wait when the answer has no readable Retry-After', async () => {
    answer = flooded({})
    await signIn()
    expect((await screen.findByTestId('login-retry-after')).textContent).toBe('Wait a few minutes, then try again.')
    expect(screen.getByText(FLOODED, { exact: false })).toBeTruthy()
  })

  it('keeps the usual message for a wrong password', async () => {
    answer = (res) => {
      res.writeHead(401, { 'Content-Type': 'application/json' })
      res.end(JSON.stringify({ error: { code: 'invalid_credentials', message: 'Wrong username or password' } }))
    }
    await signIn()
    await screen.findByText('That username and password do not match.')
    expect(screen.queryByText('Too many sign-in attempts')).toBeNull()
  })
})
