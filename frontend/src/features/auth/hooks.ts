import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useSyncExternalStore } from 'react'
import { useApi } from '@/app/api'
import type { AuthSession, LoginRequest } from '@/api/types'
import { sessionStore } from '@/lib/session'

export function useSession(): AuthSession | null {
  return useSyncExternalStore(sessionStore.subscribe, sessionStore.get, sessionStore.get)
}

export const meKey = ['me'] as const

export function useMe() {
  const api = useApi()
  const session = useSession()
  return useQuery({
    queryKey: meKey,
    queryFn: async () => {
      const me = await api.me()
      sessionStore.rename(me.username)
      return me
    },
    enabled: session !== null,
  })
}

export function useJoin() {
  const api = useApi()
  return useMutation({
    mutationFn: () => api.join(),
    onSuccess: (session) => sessionStore.set(session),
  })
}

export function useLogin() {
  const api = useApi()
  return useMutation({
    mutationFn: (credentials: LoginRequest) => api.login(credentials),
    onSuccess: (session) => sessionStore.set(session),
  })
}

/** How long sign-out waits for the server before ending the session here anyway. */
export const SIGN_OUT_TIMEOUT_MS = 5000

/**
 * Signs out: ends the session on the server (POST /auth/logout), then here,
 * even when that call fails or hangs, so the button always signs out.
 */
export function useSignOut() {
  const api = useApi()
  const queryClient = useQueryClient()
  return useMutation({
    mutationFn: async () => {
      let timer: ReturnType<typeof setTimeout> | undefined
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, SIGN_OUT_TIMEOUT_MS)
      })
      try {
        await Promise.race([api.logout().catch(() => undefined), timeout])
      } finally {
        clearTimeout(timer)
      }
    },
    onSettled: () => {
      sessionStore.end('signed_out')
      queryClient.clear()
    },
  })
}
