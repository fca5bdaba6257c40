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

export function useSignOut() {
  const queryClient = useQueryClient()
  return () => {
    sessionStore.end('signed_out')
    queryClient.clear()
  }
}
