import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useApi } from '@/app/api'
import type { Fallbacks, Gateway } from '@/api/types'
import { forgetSecret, rememberSecret } from '@/lib/secrets'

export const gatewaysKey = ['gateways'] as const
export const gatewayKey = (id: string) => ['gateways', id] as const

export function useGateways() {
  const api = useApi()
  return useQuery({ queryKey: gatewaysKey, queryFn: () => api.listGateways() })
}

/** The gateway; `refetchInterval` (ms) keeps it fresh while a page watches its usage. */
export function useGateway(id: string, { refetchInterval }: { refetchInterval?: number } = {}) {
  const api = useApi()
  const queryClient = useQueryClient()
  return useQuery({
    queryKey: gatewayKey(id),
    queryFn: () => api.getGateway(id),
    refetchInterval,
    // The list usually has it already: show that while the detail loads.
    placeholderData: () => queryClient.getQueryData<Gateway[]>(gatewaysKey)?.find((g) => g.id === id),
  })
}

export function useCreateGateway() {
  const api = useApi()
  const queryClient = useQueryClient()
  return useMutation({
    mutationFn: (name: string) => api.createGateway(name),
    onSuccess: (created) => {
      rememberSecret(created.id, created.secret)
      const { secret: _secret, ...gateway } = created
      queryClient.setQueryData<Gateway[]>(gatewaysKey, (list) => (list ? [gateway, ...list] : list))
      queryClient.setQueryData(gatewayKey(created.id), gateway)
      void queryClient.invalidateQueries({ queryKey: gatewaysKey, exact: true })
    },
  })
}

/** Puts a PATCH answer in the detail and list caches. */
export function useStoreGateway(id: string) {
  const queryClient = useQueryClient()
  return (gateway: Gateway) => {
    queryClient.setQueryData(gatewayKey(id), gateway)
    queryClient.setQueryData<Gateway[]>(gatewaysKey, (list) => list?.map((g) => (g.id === id ? gateway : g)))
  }
}

export function useRenameGateway(id: string) {
  const api = useApi()
  const store = useStoreGateway(id)
  return useMutation({
    mutationFn: (name: string) => api.renameGateway(id, name),
    onSuccess: store,
  })
}

export function useSetFallbacks(id: string) {
  const api = useApi()
  const store = useStoreGateway(id)
  return useMutation({
    mutationFn: (fallbacks: Fallbacks) => api.setFallbacks(id, fallbacks),
    onSuccess: store,
  })
}

export function useRotateSecret(id: string) {
  const api = useApi()
  const queryClient = useQueryClient()
  return useMutation({
    mutationFn: () => api.rotateSecret(id),
    onSuccess: (rotated) => {
      rememberSecret(id, rotated.secret)
      const patch = (g: Gateway): Gateway => (g.id === id ? { ...g, secret_hint: rotated.secret_hint } : g)
      queryClient.setQueryData<Gateway>(gatewayKey(id), (g) => (g ? patch(g) : g))
      queryClient.setQueryData<Gateway[]>(gatewaysKey, (list) => list?.map(patch))
      // Models fetched with the old secret would now fail.
      void queryClient.invalidateQueries({ queryKey: ['models', id] })
    },
  })
}

export function useDeleteGateway(id: string) {
  const api = useApi()
  const queryClient = useQueryClient()
  return useMutation({
    mutationFn: () => api.deleteGateway(id),
    // The gateway's own cached queries are dropped by the caller once it has
    // navigated away, so the open page does not refetch a 404 first.
    onSuccess: () => {
      forgetSecret(id)
      queryClient.setQueryData<Gateway[]>(gatewaysKey, (list) => list?.filter((g) => g.id !== id))
    },
  })
}
