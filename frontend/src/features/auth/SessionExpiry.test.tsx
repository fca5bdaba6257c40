import { render, screen } from '@testing-library/react'
import { createMemoryRouter, RouterProvider } from 'react-router'
import { describe, expect, it } from 'vitest'
import { createApiClient } from '@/api/client'
import { Providers } from '@/app/Providers'
import { createQueryClient } from '@/app/queryClient'
import { routes } from '@/app/router'
import { sessionStore } from '@/lib/session'
import { serveForTests } from '@/test/server'

// A control plane that rejects every token, as after a JWT_SECRET change.
const testServer = serveForTests((_req, res) => {
  res.writeHead(401, { 'Content-Type': 'application/json' })
  res.end(JSON.stringify({ error: { code: 'unauthorized', message: 'Invalid token' } }))
})

describe('an invalid session', () => {
  it('sends the user to sign-in with a message instead of a blank page', async () => {
    sessionStore.set({ id: 'u1', username: 'Brave_Fox', token: 'not-a-valid-jwt', expires_at: '2999-01-01T00:00:00Z' })
    const client = createApiClient({
      baseUrl: testServer.url,
      getToken: sessionStore.token,
      onUnauthorized: () => sessionStore.end('expired'),
    })
    const router = createMemoryRouter(routes, { initialEntries: ['/g/gw_1/logs'] })
    render(
      <Providers client={client} queryClient={createQueryClient()}>
        <RouterProvider router={router} />
      </Providers>,
    )
    expect(await screen.findByText('Your session expired, sign in again')).toBeTruthy()
    expect(router.state.location.pathname).toBe('/login')
    expect(new URLSearchParams(router.state.location.search).get('next')).toBe('/g/gw_1/logs')
    expect(screen.getByLabelText('Username')).toBeTruthy()
    expect(window.localStorage.getItem('tollgate.session')).toBeNull()
  })
})
