import { useMutation, useQueryClient } from '@tanstack/react-query'
import { useApi } from '@/app/api'
import type { Me, SetPasswordRequest } from '@/api/types'
import { meKey } from '@/features/auth/hooks'
import { sessionStore } from '@/lib/session'

export const MIN_PASSWORD_LENGTH = 8

export function useSetPassword() {
  const api = useApi()
  const queryClient = useQueryClient()
  return useMutation({
    mutationFn: (request: SetPasswordRequest) => api.setPassword(request),
    // The change ended the account's other sessions and answered a new one:
    // switch to its token at once so this tab stays signed in.
    onSuccess: ({ token, expires_at, ...me }) => {
      sessionStore.set({ id: me.id, username: me.username, token, expires_at })
      queryClient.setQueryData<Me>(meKey, me)
    },
  })
}
