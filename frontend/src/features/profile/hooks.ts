import { useMutation, useQueryClient } from '@tanstack/react-query'
import { useApi } from '@/app/api'
import type { SetPasswordRequest } from '@/api/types'
import { meKey } from '@/features/auth/hooks'

export const MIN_PASSWORD_LENGTH = 8

export function useSetPassword() {
  const api = useApi()
  const queryClient = useQueryClient()
  return useMutation({
    mutationFn: (request: SetPasswordRequest) => api.setPassword(request),
    onSuccess: (me) => queryClient.setQueryData(meKey, me),
  })
}
