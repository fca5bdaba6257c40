import type { ReactNode } from 'react'
import { Navigate, useLocation } from 'react-router'
import { sessionStore } from '@/lib/session'
import { useSession } from './hooks'

/** Where to send a signed-out visitor of `from`. */
export function signInPath(from?: string): string {
  const params = new URLSearchParams()
  if (sessionStore.endReason() === 'expired') params.set('expired', '1')
  if (from && from !== '/' && !from.startsWith('/login')) params.set('next', from)
  const query = params.toString()
  return query ? `/login?${query}` : '/login'
}

export function RequireAuth({ children }: { children: ReactNode }) {
  const session = useSession()
  const location = useLocation()
  if (!session) {
    // Right after a sign-out the welcome page is the place to land, not a login form.
    if (sessionStore.endReason() === 'signed_out') return <Navigate to="/" replace />
    return <Navigate to={signInPath(location.pathname + location.search)} replace />
  }
  return children
}
